"""FlowModel: event shapes, the layer protocol, compiled public calls and the Keras/TFP idioms.

Each model here is tiny (one block, hidden width 8): these tests are about the
shared machinery, not about fitting quality.
"""
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_ldu.flows import (MAF, FlowModel, LDUFlow, MixtureLogisticCouplingFlow,
                           NonFiniteLossError, ResidualFlow)
from tfp_ldu.layers import ActNorm, BijectorLayer, UniformDequantizer
from tfp_ldu.testing import randomise_d_scales

tfd = tfp.distributions
REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tiny(cls, event_shape=2, **kwargs):
  options = dict(num_couplings=2) if cls is MixtureLogisticCouplingFlow else dict(num_blocks=1)
  return cls(event_shape, hidden_units=(8,), **options, **kwargs)


def moons(n=256, seed=0):
  rng = np.random.default_rng(seed)
  angle = rng.uniform(0, np.pi, n)
  upper = rng.uniform(size=n) < 0.5
  x = np.where(upper[:, None], np.c_[np.cos(angle), np.sin(angle)],
               np.c_[1 - np.cos(angle), 0.5 - np.sin(angle)])
  return (x + 0.1 * rng.normal(size=x.shape)).astype("float32")


ALL_MODELS = [LDUFlow, MAF, MixtureLogisticCouplingFlow, ResidualFlow]
ids = [cls.__name__ for cls in ALL_MODELS]


# ---- event shapes -------------------------------------------------------------
def test_image_shaped_events_take_flat_or_image_rows_and_sample_images():
  model = tiny(LDUFlow, (2, 2, 1), dtype="float64")
  images = np.random.default_rng(0).normal(size=(5, 2, 2, 1))
  model.initialize(images)
  image_lp = model.log_prob(images).numpy()
  np.testing.assert_allclose(model.log_prob(images.reshape(5, 4)), image_lp, rtol=1e-12)
  assert model.latent_shape == (4,)
  assert model.sample(3, seed=1).shape == (3, 2, 2, 1)
  with pytest.raises(ValueError, match=r"expected data of shape \[N, 2, 2, 1\]"):
    model.log_prob(np.zeros((5, 2, 2, 2)))


def test_event_shape_is_validated():
  with pytest.raises(ValueError, match="event_shape must be a positive int"):
    LDUFlow(0)
  with pytest.raises(ValueError, match="event_shape must be a positive int"):
    MAF((2, -1))


# ---- the layer protocol -----------------------------------------------------
class WrappedActNorm(BijectorLayer):
  """A layer whose data-dependent part is nested one level down."""

  def __init__(self, event_size, **kwargs):
    super().__init__(**kwargs)
    self.inner = ActNorm(event_size, name="inner_actnorm")
    self.built = True

  def bijector(self, training=None):
    return self.inner.bijector(training)


class NestedFlow(FlowModel):

  def __init__(self, event_shape, **kwargs):
    super().__init__(event_shape, **kwargs)
    self.wrapped = WrappedActNorm(self.event_size)
    self.flow_layers = [self.wrapped]


def test_initialize_walks_nested_layers():
  model = NestedFlow(2)
  assert model.needs_initialization and model.wrapped.needs_initialization
  x = moons() * [3.0, 0.5] + [1.0, -2.0]
  model.compile(keras.optimizers.SGD(0.0))
  model.fit(x, batch_size=64, epochs=1, verbose=0)
  assert not model.needs_initialization
  np.testing.assert_allclose(model.wrapped.inner.loc.numpy(), x[:64].mean(0), rtol=1e-5)


def test_sample_with_diagnostics_reports_the_solves_inside_the_chain():
  model = tiny(LDUFlow, 3)
  rng = np.random.default_rng(0)
  randomise_d_scales(model, rng)
  result = model.sample_with_diagnostics(16, seed=2)
  assert int(result["max_iterations"]) > 1
  assert int(result["num_unconverged"]) == 0
  assert result["samples"].shape == (16, 3)


# ---- compiled public calls ---------------------------------------------------
def test_public_calls_are_compiled_once_per_dtype_and_rank():
  model = tiny(LDUFlow)
  model.initialize(moons(64))
  for n in (5, 17, 40):
    model.sample(n)
    model.sample(n, seed=n)
    model.log_prob(moons(n))
  for function in model.compiled_calls.values():
    assert function.experimental_get_tracing_count() == 1
  with pytest.raises(ValueError, match="non-negative integer"):
    model.sample(-1)
  with pytest.raises(ValueError, match="non-negative integer"):
    model.sample(2.5)


def test_log_prob_converts_lists_and_integers():
  model = tiny(MAF)
  model.initialize(moons(64))
  expected = model.log_prob(np.array([[0.0, 1.0]], "float32")).numpy()
  np.testing.assert_allclose(model.log_prob([[0, 1]]), expected)
  np.testing.assert_allclose(model.log_prob(np.array([[0, 1]])), expected)
  with pytest.raises(TypeError, match="expected numeric data"):
    model.log_prob([["a", "b"]])


# ---- Keras idioms --------------------------------------------------------------
@pytest.mark.parametrize("cls", ALL_MODELS, ids=ids)
def test_fit_and_evaluate_honour_sample_weight(cls):
  x = moons(128)
  weights = np.zeros(128, "float32")
  weights[np.argsort(-np.abs(x[:, 1] - 0.25))[:32]] = 1.0  # the points far from the middle
  model = tiny(cls, seed=0) if cls is ResidualFlow else tiny(cls)
  model.initialize(x[:64])
  model.compile(keras.optimizers.SGD(0.0))
  log_prob = model.log_prob(x).numpy()
  weighted, unweighted = -log_prob[weights == 1].mean(), -log_prob.mean()
  assert abs(weighted - unweighted) > 0.05  # the check can fail
  tolerance = 0.2 if cls is ResidualFlow else 1e-4  # stochastic log-det in training
  loss = model.fit(x, sample_weight=weights, batch_size=128, verbose=0).history["loss"][0]
  assert loss == pytest.approx(weighted, abs=tolerance)
  evaluated = model.evaluate(x, sample_weight=weights, batch_size=128, verbose=0)
  assert evaluated == pytest.approx(weighted, abs=1e-4)


@pytest.mark.parametrize("cls", ALL_MODELS, ids=ids)
def test_a_non_finite_row_stops_fit_and_keeps_the_weights_before_that_step(cls):
  x = moons(128)
  x[70, 1] = np.nan  # in the third batch of 32, after the first-batch initialisation
  model = tiny(cls)
  model.compile(keras.optimizers.Adam(1e-2))
  snapshots = {}

  class Snapshot(keras.callbacks.Callback):

    def on_train_batch_end(self, batch, logs=None):
      snapshots[batch] = [w.numpy().copy() for w in model.weights]

  with pytest.raises(NonFiniteLossError, match="at batch 2 of this epoch"):
    model.fit(x, batch_size=32, shuffle=False, verbose=0, callbacks=[Snapshot()])
  assert sorted(snapshots) == [0, 1, 2]  # the error came right after the bad batch
  assert any(not np.array_equal(a, b) for a, b in zip(snapshots[0], snapshots[1]))
  for index, weight in enumerate(model.weights):
    if weight.trainable:
      np.testing.assert_array_equal(snapshots[2][index], snapshots[1][index],
                                    err_msg=weight.path)
      np.testing.assert_array_equal(weight.numpy(), snapshots[1][index],
                                    err_msg=weight.path)
  assert all(np.all(np.isfinite(w.numpy())) for w in model.trainable_weights)


def test_float16_mixed_precision_is_refused_with_advice():
  # bfloat16 conditioners are supported (tests/test_mixed_precision.py); float16
  # would need loss scaling.
  with pytest.raises(ValueError, match="mixed_bfloat16"):
    tiny(LDUFlow, dtype="mixed_float16")


@pytest.mark.parametrize("cls", [LDUFlow, MixtureLogisticCouplingFlow], ids=["ldu", "flowpp"])
def test_keras_export_needs_no_input_signature(cls, tmp_path):
  model = tiny(cls)
  x = moons(64)
  model.initialize(x)
  model.export(str(tmp_path / "keras_export"), verbose=False)
  exported = tf.saved_model.load(str(tmp_path / "keras_export"))
  served = exported.serve(tf.constant(x[:8]))
  np.testing.assert_allclose(served, model.log_prob(x[:8]), rtol=1e-5, atol=1e-5)


def test_wrong_event_size_on_a_trained_model_is_a_clear_error():
  model = tiny(LDUFlow)
  model.compile(keras.optimizers.Adam())
  model.fit(moons(64), batch_size=32, verbose=0)
  with pytest.raises(ValueError, match=r"expected data of shape \[N, 2\]; received shape"):
    model.fit(np.zeros((64, 3), "float32"), batch_size=32, verbose=0)


def test_unknown_event_dimension_in_a_dataset_spec_trains():
  x = moons(64)
  dataset = tf.data.Dataset.from_generator(
      lambda: iter([x[:32], x[32:]]),
      output_signature=tf.TensorSpec([None, None], tf.float32))
  model = tiny(LDUFlow)
  model.compile(keras.optimizers.Adam())
  history = model.fit(dataset, verbose=0)
  assert np.isfinite(history.history["loss"][0])


# ---- TFP idioms ---------------------------------------------------------------
# Flow++'s bisection gradients through `sample` are checked by the registry's
# finite differences; here one solver of each other kind (Newton, none, fixed point).
SURROGATES = [LDUFlow, MAF, ResidualFlow]


@pytest.mark.parametrize("cls", SURROGATES, ids=[cls.__name__ for cls in SURROGATES])
def test_distribution_is_live_and_trains_as_a_variational_surrogate(cls):
  target = tfd.MultivariateNormalTriL([1.0, -1.0], scale_tril=[[1.0, 0.0], [0.8, 0.6]])
  # One D-scale: TFP traces the step's gradient through the LDU flow's
  # sampling loops, 25 s with the default four D-scales, 10 s with one.
  model = tiny(cls, **(dict(num_d_scales=1) if cls is LDUFlow else {}))
  model.initialize(np.random.default_rng(1).normal(size=(64, 2)))
  surrogate = model.distribution
  assert {id(v) for v in surrogate.trainable_variables} == {
      id(v.value) for v in model.trainable_variables}
  before = [v.numpy().copy() for v in model.trainable_variables]
  losses = tfp.vi.fit_surrogate_posterior(
      target.log_prob, surrogate, keras.optimizers.Adam(1e-2), num_steps=2,
      seed=(1, 2), sample_size=16)
  frozen = [v.path for v, b in zip(model.trainable_variables, before)
            if np.array_equal(v.numpy(), b)]
  assert not frozen, f"never trained through the distribution: {frozen}"
  assert np.all(np.isfinite(losses))
  # The kept reference follows the model.
  x = np.random.default_rng(2).normal(size=(8, 2)).astype("float32")
  if cls is not ResidualFlow:  # ResidualFlow's log_prob is exact only for D <= 16; same here
    np.testing.assert_allclose(surrogate.log_prob(x), model.log_prob(x), rtol=1e-5,
                               atol=1e-5)


# ---- the dequantiser slot --------------------------------------------------------
def test_uniform_dequantization_bound_of_a_uniform_density_is_log2_levels_bits():
  """With p uniform on [0, 1)^D the bound is -D log L: exactly log2 L bits/dim."""

  class UniformOnUnitCube(FlowModel):
    """p(y) = 1 on [0, 1)^D: the logistic CDF maps it to the latent... here the
    identity latent with a uniform base keeps the arithmetic exact."""

    def __init__(self, **kwargs):
      super().__init__(3, dequantizer=UniformDequantizer(17, seed=0), **kwargs)
      self.flow_layers = [ActNorm(3, name="identity")]
      self.flow_layers[0].initialized.assign(1.0)

    def base_distribution(self):
      return tfd.Independent(tfd.Uniform(tf.zeros(3), tf.ones(3)), 1)

  model = UniformOnUnitCube()
  pixels = np.random.default_rng(0).integers(0, 17, size=(10, 3)).astype("float32")
  bound = model(pixels).numpy()
  bits_per_dim = -bound / (3 * np.log(2))
  np.testing.assert_allclose(bits_per_dim, np.log2(17), rtol=1e-6)


# ---- seeds and sample shapes ----------------------------------------------------
@pytest.mark.parametrize("cls", [LDUFlow, MAF], ids=["LDUFlow", "MAF"])
def test_an_int_seed_is_stateless_in_sample_and_distribution_sample(cls):
  model = tiny(cls)
  model.initialize(moons(64))
  first = model.sample(4, seed=1).numpy()
  model.sample(4)  # Advances TensorFlow's global random state.
  np.testing.assert_array_equal(model.sample(4, seed=1), first)
  np.testing.assert_array_equal(model.sample(4, seed=(0, 1)), first)
  assert not np.allclose(model.sample(4, seed=2), first)
  distribution = model.distribution
  draws = distribution.sample(4, seed=3).numpy()
  np.testing.assert_array_equal(distribution.sample(4, seed=3), draws)
  x, log_prob = distribution.experimental_sample_and_log_prob(4, seed=3)
  np.testing.assert_allclose(x, draws, rtol=1e-5, atol=1e-5)
  assert log_prob.shape == (4,)


def test_sample_takes_a_sample_shape_as_tfp_does():
  model = tiny(MAF, 3)
  model.initialize(np.random.default_rng(0).normal(size=(64, 3)))
  assert model.sample([2, 3]).shape == (2, 3, 3)
  shaped = model.sample((2, 3), seed=5)
  np.testing.assert_array_equal(tf.reshape(shaped, [6, 3]), model.sample(6, seed=5))
  result = model.sample_with_diagnostics([4, 1], seed=5)
  assert result["samples"].shape == (4, 1, 3) and result["latents"].shape == (4, 1, 3)
  assert model.sample([]).shape == (3,)
  with pytest.raises(ValueError, match="non-negative integer"):
    model.sample([2, -1])


def test_errors_of_the_public_calls_cut_tensor_dumps(monkeypatch):
  model = tiny(MAF)
  model.initialize(moons(64))
  dump = "Tensor conversion requested dtype float32: " + "[0.1 0.2 0.3]\n" * 2000

  def failing(*args, **kwargs):
    raise ValueError(dump)

  monkeypatch.setattr(model, "transformed_distribution", failing)
  with pytest.raises(ValueError, match="more characters cut") as error:
    model.log_prob(moons(4))
  assert len(str(error.value)) < 1700 and str(error.value.__cause__) == dump
  monkeypatch.setattr(model, "transformed_distribution", lambda *a, **k: (_ for _ in ()).throw(
      ValueError("short")))
  with pytest.raises(ValueError, match="^short$"):
    model.log_prob(moons(4))


# ---- packaging ----------------------------------------------------------------------
@pytest.mark.e2e
def test_import_tfp_ldu_alone_reloads_a_saved_model_and_imports_no_application_package(
    tmp_path):
  model = tiny(LDUFlow)
  x = moons(64)
  model.initialize(x)
  path = tmp_path / "flow.keras"
  model.save(path)
  expected = model.log_prob(x[:4]).numpy()
  samples = model.sample(3, seed=11).numpy()
  script = textwrap.dedent(f"""
      import sys
      import keras, numpy as np, tfp_ldu
      assert hasattr(tfp_ldu, "nets") and hasattr(tfp_ldu.bijectors, "LDU")
      model = keras.models.load_model({str(path)!r})
      model.sample(2)  # Stateful draws in between change nothing for an int seed.
      print(repr(model.sample(3, seed=11).numpy().tolist()))
      print(repr(model.log_prob(np.array({x[:4].tolist()!r}, "float32")).numpy().tolist()))
      leaked = sorted(m for m in sys.modules if m.split(".")[0] in ("models", "train"))
      assert not leaked, leaked
      """)
  environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
  result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=environment,
                          capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stderr[-2000:]
  lines = result.stdout.strip().splitlines()
  got = np.array(eval(lines[-1]))  # noqa: S307 (our own output)
  np.testing.assert_allclose(got, expected, rtol=1e-6)
  np.testing.assert_allclose(np.array(eval(lines[-2])), samples, rtol=1e-6)  # noqa: S307


def test_fit_turns_tf_data_autotuning_off_on_cpus_unless_the_dataset_sets_it():
  from tfp_ldu.flows.training import without_cpu_autotuning
  dataset = tf.data.Dataset.from_tensor_slices(moons(64)).batch(16).prefetch(tf.data.AUTOTUNE)
  assert without_cpu_autotuning(dataset).options().autotune.enabled is False
  chosen = tf.data.Options()
  chosen.autotune.enabled = True
  assert without_cpu_autotuning(dataset.with_options(chosen)).options().autotune.enabled
  array = moons(8)
  assert without_cpu_autotuning(array) is array
  # And fit trains through it (the dataset's elements are unchanged).
  model = tiny(LDUFlow)
  model.compile(keras.optimizers.Adam(1e-2))
  history = model.fit(dataset, epochs=2, verbose=0)
  assert np.all(np.isfinite(history.history["loss"]))
