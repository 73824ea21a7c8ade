"""Tests of `tfp_ldu.export`: reload in a TensorFlow-only process, float64 boundary
casts, atomic replacement, and errors for models that cannot be exported."""
import json
import os
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfp_ldu.flows import LDUFlow
from tfp_ldu.flows import MAF
from tfp_ldu import export

EVENT_DIM = 3
SEED = [3, 7]
DATA = np.random.RandomState(1).randn(16, EVENT_DIM).astype(np.float32)

# Runs in a fresh interpreter: loads the export with TensorFlow alone.
RELOAD_SCRIPT = """
import json, sys
import numpy as np
import tensorflow as tf
path, data, seed = sys.argv[1], np.array(json.loads(sys.argv[2]), np.float32), sys.argv[3]
exported = tf.saved_model.load(path)
result = dict(
    log_prob=exported.log_prob(tf.constant(data)).numpy().tolist(),
    sample=exported.sample(tf.constant(5)).numpy().tolist(),
    seeded=exported.sample_with_seed(tf.constant(5), tf.constant(json.loads(seed))
                                     ).numpy().tolist())
for name in ("tfp_ldu", "models", "tensorflow_probability"):
  assert name not in sys.modules, name + " was imported"
print(json.dumps(result))
"""


def _small_flow(dtype=None):
  """A 2-block, 2-D-scale LDUFlow on 3-D data, ActNorm initialised, as if trained.

  Random residual scales (|r| up to 0.96) stand in for training: with the
  initial r = 0 every D-scale is the identity and sampling solves nothing.
  """
  model = LDUFlow(EVENT_DIM, num_blocks=2, num_d_scales=2, hidden_units=(16, 16),
                  dtype=dtype)
  rng = np.random.RandomState(2)
  model.initialize(rng.randn(64, EVENT_DIM))
  for block in model.blocks:  # One StackedLDUBlocks layer: D-scale weights [B, n, D].
    block.raw_residual.assign(rng.uniform(-2., 2., block.raw_residual.shape))
  return model


@pytest.fixture(scope="module")
def trained_export(tmp_path_factory):
  """(model, path): an initialised flow and its export."""
  model = _small_flow()
  path = str(tmp_path_factory.mktemp("export") / "flow")
  export.save(model, path)
  return model, path


def _directory_listing(root):
  return sorted(os.path.relpath(os.path.join(folder, name), root)
                for folder, _, names in os.walk(root) for name in names)


@pytest.mark.e2e
def test_reload_in_tensorflow_only_process_matches_live_model(trained_export, tmp_path):
  model, path = trained_export
  completed = subprocess.run(
      [sys.executable, "-c", RELOAD_SCRIPT, path, json.dumps(DATA.tolist()),
       json.dumps(SEED)],
      cwd=tmp_path, capture_output=True, text=True, timeout=120,
      env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
  assert completed.returncode == 0, completed.stderr[-3000:]
  result = json.loads(completed.stdout.strip().splitlines()[-1])

  np.testing.assert_allclose(result["log_prob"], model.log_prob(DATA).numpy(),
                             rtol=1e-5, atol=1e-5)
  sample = np.array(result["sample"])
  assert sample.shape == (5, EVENT_DIM)
  assert np.all(np.isfinite(sample))
  live_seeded = model.sample(5, seed=tf.constant(SEED)).numpy()
  np.testing.assert_allclose(result["seeded"], live_seeded, rtol=1e-4, atol=1e-4)


def test_float64_model_replaces_export_with_float32_boundary(trained_export, tmp_path):
  _, trained_path = trained_export
  path = tmp_path / "flow"
  shutil.copytree(trained_path, path)
  model = _small_flow(dtype="float64")
  assert model.compute_dtype == "float64"

  export.save(model, path)

  assert os.listdir(tmp_path) == ["flow"]
  exported = export.load(path)
  log_prob = exported.log_prob(tf.constant(DATA))
  assert log_prob.dtype == tf.float32 and log_prob.shape == (len(DATA),)
  np.testing.assert_allclose(log_prob.numpy(), model.log_prob(DATA).numpy(),
                             rtol=1e-5, atol=1e-5)
  sample = exported.sample_with_seed(tf.constant(4), tf.constant(SEED))
  assert sample.dtype == tf.float32 and sample.shape == (4, EVENT_DIM)
  assert np.all(np.isfinite(sample.numpy()))


def test_failed_save_leaves_previous_export_and_no_temporaries(
    trained_export, tmp_path, monkeypatch):
  model, trained_path = trained_export
  path = tmp_path / "flow"
  shutil.copytree(trained_path, path)
  before = _directory_listing(path)

  def save_then_crash(obj, export_dir, **kwargs):
    del obj, kwargs
    with open(os.path.join(export_dir, "saved_model.pb"), "w") as partial:
      partial.write("half-written")
    raise RuntimeError("simulated crash during save")

  monkeypatch.setattr(tf.saved_model, "save", save_then_crash)
  with pytest.raises(RuntimeError, match="simulated crash"):
    export.save(model, path)
  monkeypatch.undo()

  assert os.listdir(tmp_path) == ["flow"]
  assert _directory_listing(path) == before
  exported = export.load(path)
  np.testing.assert_allclose(exported.log_prob(tf.constant(DATA)).numpy(),
                             model.log_prob(DATA).numpy(), rtol=1e-5, atol=1e-5)


def test_failed_rename_restores_previous_export(trained_export, tmp_path, monkeypatch):
  model, _ = trained_export
  path = tmp_path / "flow"
  path.mkdir()
  (path / "previous.txt").write_text("previous export")

  def fake_save(obj, export_dir, **kwargs):
    del obj, kwargs
    with open(os.path.join(export_dir, "saved_model.pb"), "w") as complete:
      complete.write("new export")

  real_rename = os.rename

  def rename_failing_into_place(source, destination):
    if ".partial-" in os.fspath(source):
      raise OSError("simulated failure moving the new export into place")
    real_rename(source, destination)

  monkeypatch.setattr(tf.saved_model, "save", fake_save)
  monkeypatch.setattr(os, "rename", rename_failing_into_place)
  with pytest.raises(OSError, match="simulated failure"):
    export.save(model, path)
  monkeypatch.undo()

  assert os.listdir(tmp_path) == ["flow"]
  assert os.listdir(path) == ["previous.txt"]


def test_rejects_non_flow_models(tmp_path):
  with pytest.raises(TypeError, match="expected a tfp_ldu.flows.FlowModel"):
    export.save(keras.Sequential([keras.layers.Dense(3)]), tmp_path / "flow")
  assert not os.listdir(tmp_path)


def test_rejects_model_with_uninitialised_actnorm(tmp_path):
  model = LDUFlow(EVENT_DIM, num_blocks=1, hidden_units=(8,))
  with pytest.raises(ValueError, match="never initialised from data"):
    export.save(model, tmp_path / "flow")
  assert not os.listdir(tmp_path)


def test_rejects_path_that_is_a_file(trained_export, tmp_path):
  model, _ = trained_export
  target = tmp_path / "flow"
  target.write_text("not a directory")
  with pytest.raises(ValueError, match="not a directory"):
    export.save(model, target)
  assert target.read_text() == "not a directory"


def test_signatures_name_outputs_keep_event_shape_and_check_inputs(trained_export):
  model, path = trained_export
  loaded = tf.saved_model.load(path)
  assert loaded.event_shape.numpy().tolist() == [EVENT_DIM]
  log_prob = loaded.signatures["log_prob"](x=tf.constant(DATA))
  assert list(log_prob) == ["log_prob"]
  np.testing.assert_allclose(log_prob["log_prob"], model.log_prob(DATA), rtol=1e-5,
                             atol=1e-5)
  assert list(loaded.signatures["sample"](n=tf.constant(4))) == ["samples"]
  with pytest.raises(tf.errors.InvalidArgumentError, match=r"expected x of shape \[N, 3\]"):
    loaded.signatures["log_prob"](x=tf.zeros([2, 5]))
  with pytest.raises(tf.errors.InvalidArgumentError, match="non-negative"):
    loaded.sample(tf.constant(-1))


def test_tflite_conversion_of_log_prob_and_sample_is_exact(trained_export):
  """TFLite once dropped all but one ActNorm log-scale from the log-det (tfb.Scale)."""
  model, path = trained_export
  converter = tf.lite.TFLiteConverter.from_saved_model(path,
                                                       signature_keys=["log_prob", "sample"])
  interpreter = tf.lite.Interpreter(model_content=converter.convert())
  log_prob = interpreter.get_signature_runner("log_prob")(x=DATA)["log_prob"]
  np.testing.assert_allclose(log_prob, model.log_prob(DATA), rtol=1e-4, atol=1e-4)
  samples = interpreter.get_signature_runner("sample")(n=np.array(7, np.int32))["samples"]
  assert samples.shape == (7, EVENT_DIM) and np.all(np.isfinite(samples))


def test_keras_export_and_saved_model_save_after_log_prob_and_sample(tmp_path):
  """Train -> look at log_prob and samples -> export is the normal order.

  (The cache of compiled calls that broke it is `FlowModel`'s, shared by every flow.)
  """
  model = MAF(EVENT_DIM, num_blocks=1, hidden_units=(8,))
  model.compile(keras.optimizers.Adam(1e-3))
  model.fit(DATA, batch_size=4, epochs=1, verbose=0)
  expected = model.log_prob(DATA).numpy()
  model.sample(3, seed=1)
  model.sample(3)
  model.export(str(tmp_path / "keras_export"), verbose=False)
  tf.saved_model.save(model, str(tmp_path / "saved_model"))
  reloaded = tf.saved_model.load(str(tmp_path / "keras_export"))
  np.testing.assert_allclose(reloaded.serve(tf.constant(DATA)), model(DATA), rtol=1e-5,
                             atol=1e-5)
  # The compiled calls still work, and a .keras file still round-trips.
  np.testing.assert_array_equal(model.log_prob(DATA), expected)
  model.save(tmp_path / "model.keras")
  restored = keras.saving.load_model(tmp_path / "model.keras")
  np.testing.assert_allclose(restored.log_prob(DATA), expected, rtol=1e-6, atol=1e-6)


def test_seeded_export_sampler_matches_the_models_int_seed(trained_export):
  """`sample_with_seed(n, [0, s])` = `model.sample(n, seed=s)`, on every call."""
  model, path = trained_export
  loaded = tf.saved_model.load(path)
  first = loaded.sample_with_seed(tf.constant(5), tf.constant([0, 7]))
  np.testing.assert_array_equal(first, loaded.sample_with_seed(tf.constant(5),
                                                               tf.constant([0, 7])))
  np.testing.assert_allclose(first, model.sample(5, seed=7), rtol=1e-6, atol=1e-6)
  assert int(loaded.num_levels) == 0 and not hasattr(loaded, "sample_levels")


CONDITIONAL_RELOAD_SCRIPT = """
import json, sys
import numpy as np
import tensorflow as tf
path, data, context = sys.argv[1], np.array(json.loads(sys.argv[2]), np.float32), np.array(
    json.loads(sys.argv[3]), np.float32)
exported = tf.saved_model.load(path)
result = dict(
    log_prob=exported.log_prob(tf.constant(data), tf.constant(context)).numpy().tolist(),
    one_context=exported.log_prob(tf.constant(data), tf.constant(context[:1])).numpy().tolist(),
    seeded=exported.sample_with_seed(tf.constant(4), tf.constant([0, 5]),
                                     tf.constant(context[:3])).numpy().tolist(),
    signature=exported.signatures["log_prob"](x=tf.constant(data), context=tf.constant(context)
                                              )["log_prob"].numpy().tolist(),
    context_shape=exported.context_shape.numpy().tolist())
for name in ("tfp_ldu", "models", "tensorflow_probability"):
  assert name not in sys.modules, name + " was imported"
print(json.dumps(result))
"""


@pytest.mark.e2e
def test_conditional_export_reloads_without_the_library_and_converts_to_tflite(tmp_path):
  """log_prob(x, context) and sample(n, seed, context) of a conditional LDU flow, TF only."""
  keras.utils.set_random_seed(0)
  model = LDUFlow(EVENT_DIM, num_blocks=2, num_d_scales=1, hidden_units=(8,), context_shape=(2,))
  rng = np.random.RandomState(3)
  context = (rng.randn(len(DATA), 2) * 4 + 1).astype(np.float32)
  model.compile(keras.optimizers.Adam(1e-2))
  model.fit({"x": DATA, "context": context}, batch_size=8, epochs=2, verbose=0)
  path = str(tmp_path / "conditional")
  export.save(model, path)
  completed = subprocess.run(
      [sys.executable, "-c", CONDITIONAL_RELOAD_SCRIPT, path, json.dumps(DATA.tolist()),
       json.dumps(context.tolist())],
      cwd=tmp_path, capture_output=True, text=True, timeout=120,
      env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
  assert completed.returncode == 0, completed.stderr[-3000:]
  result = json.loads(completed.stdout.strip().splitlines()[-1])
  live = model.log_prob(DATA, context=context).numpy()
  np.testing.assert_allclose(result["log_prob"], live, rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(result["signature"], live, rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(result["one_context"], model.log_prob(DATA, context=context[0]),
                             rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(result["seeded"], model.sample(4, seed=5, context=context[:3]),
                             rtol=1e-4, atol=1e-4)
  assert result["context_shape"] == [2]

  converter = tf.lite.TFLiteConverter.from_saved_model(path,
                                                       signature_keys=["log_prob", "sample"])
  interpreter = tf.lite.Interpreter(model_content=converter.convert())
  log_prob = interpreter.get_signature_runner("log_prob")(x=DATA, context=context)["log_prob"]
  np.testing.assert_allclose(log_prob, live, rtol=1e-4, atol=1e-4)
  samples = interpreter.get_signature_runner("sample")(
      n=np.array(5, np.int32), context=context[:3])["samples"]
  assert samples.shape == (5, 3, EVENT_DIM) and np.all(np.isfinite(samples))
