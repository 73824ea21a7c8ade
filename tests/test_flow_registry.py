"""The flow registry: every flow family's tiny model through the checks every flow must pass.

The families come from `models.SPECS` (each spec's `tiny` vector model), so a
new family is checked the moment its spec exists; the image models and the
augmented flow are listed here.  Each flow, in float32 and float64 (Flow++ on
images: float32):

* trains on a ragged last batch (70 rows, batches of 32) and on a `tf.data`
  pipeline whose batch dimension is unknown when traced;
* samples with every numeric inverse converged, and its samples map back to
  their latents (the image models: through the dequantised pixel space);
* saves to `.keras` and reloads with the same `log_prob`.
"""
import contextlib
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import models
from train.hyperparameters import QUICK_TOY
from tfp_ldu.flows import MAF, AugmentedFlow, FlowPlusPlus, Glow
from tfp_ldu.layers import UniformDequantizer

VECTORS = models.DataInfo("toy", "toy2d", (3,))
LEVELS = 5


@contextlib.contextmanager
def global_policy(dtype):
  """Builds under the global dtype policy `dtype`, then restores the previous one."""
  previous = keras.config.dtype_policy()
  keras.config.set_dtype_policy(dtype)
  try:
    yield
  finally:
    keras.config.set_dtype_policy(previous)


def _from_spec(spec):
  def build(dtype):
    with global_policy(dtype):
      return models.build_model(spec.name, VECTORS, QUICK_TOY.replace(**spec.tiny),
                                explicit=tuple(spec.tiny), flag_values=spec.tiny_flag_values)
  return build


BUILDERS = {spec.name: _from_spec(spec)
            for spec in models.SPECS.values() if spec.vectors is not None}
BUILDERS.update({
    "augmented_maf": lambda dtype: AugmentedFlow(
        3, MAF(4, num_blocks=1, hidden_units=(8,), dtype=dtype), augment_dims=1,
        dtype=dtype),
    "glow_images": lambda dtype: Glow(
        (4, 4, 2), levels=2, steps_per_level=1, hidden_channels=8, seed=0, dtype=dtype,
        dequantizer=UniformDequantizer(LEVELS, event_ndims=3, name="dequantizer",
                                       dtype=dtype)),
    # A checkerboard coupling on each side of the squeeze and a one-coupling
    # variational dequantiser: tracing the training step is most of the test, and
    # each further coupling adds to it (the channel-mask coupling's own checks are
    # in the bijector registry, tests/cases/flowpp_image.py).
    "flowpp_images": lambda dtype: FlowPlusPlus(
        (4, 4, 1), preset="small", num_levels=LEVELS, filters=8, conditioner_blocks=1,
        num_components=2, num_heads=1, num_couplings=(1, 0, 1), seed=0, dtype=dtype,
        dequantizer_options=dict(num_couplings=1)),
})


def _data(model, dtype, n=70):
  """n rows of the model's data: normal vectors, or integer pixel levels."""
  rng = np.random.default_rng(0)
  if model.dequantizer is None:
    return rng.normal(size=(n, *model.event_shape)).astype(dtype)
  return rng.integers(0, LEVELS, size=(n, *model.event_shape)).astype(dtype)


def test_every_family_with_a_vector_model_is_registered():
  assert {spec.name for spec in models.SPECS.values() if spec.vectors} <= set(BUILDERS)
  assert len(BUILDERS) >= 9


# Flow++ on images is the slowest flow here by far; it trains in float64 in
# tests/test_pixel_levels.py.
CASES = [(name, dtype) for name in sorted(BUILDERS) for dtype in ("float32", "float64")
         if (name, dtype) != ("flowpp_images", "float64")]


@pytest.mark.parametrize("name, dtype", CASES)
def test_flow_trains_samples_and_reloads(name, dtype, tmp_path):
  keras.utils.set_random_seed(0)
  model = BUILDERS[name](dtype)
  x = _data(model, dtype)  # 70 = 2 * 32 + 6: a ragged last batch.
  model.compile(keras.optimizers.Adam(1e-3))
  history = model.fit(x, batch_size=32, epochs=1, verbose=0)
  assert np.isfinite(history.history["loss"][0])
  # A tf.data pipeline without drop_remainder: the batch dimension is unknown when traced.
  dataset = tf.data.Dataset.from_tensor_slices(x).batch(32)
  assert dataset.element_spec.shape[0] is None
  history = model.fit(dataset, epochs=1, verbose=0)
  assert np.isfinite(history.history["loss"][0])

  points = x[:5] if model.dequantizer is None else (x[:5] + 0.5) / LEVELS
  log_prob = model.log_prob(points)
  assert log_prob.shape == (5,) and log_prob.dtype == dtype
  assert np.all(np.isfinite(log_prob))

  result = model.sample_with_diagnostics(4, seed=3)
  assert result["samples"].shape == (4, *model.event_shape)
  assert int(result["num_unconverged"]) == 0
  assert float(model.sampling_residual(result)) < (1e-3 if dtype == "float32" else 1e-8)

  path = os.path.join(tmp_path, f"{name}.keras")
  model.save(path)
  reloaded = keras.models.load_model(path)
  exact = model.flow if isinstance(model, AugmentedFlow) else model  # a deterministic density
  again = reloaded.flow if isinstance(model, AugmentedFlow) else reloaded
  joint = (points if exact is model else
           np.concatenate([points, np.zeros((5, 1), dtype)], axis=1))
  np.testing.assert_allclose(again.log_prob(joint), exact.log_prob(joint),
                             rtol=1e-5 if dtype == "float32" else 1e-10, atol=1e-5)
