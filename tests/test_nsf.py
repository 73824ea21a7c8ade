"""NSF beyond the registry checks (tests/cases/masked_autoregressive.py,
tests/cases/vector_coupling.py): the spline's parameterisation, finite gradients far
outside its interval and on its knots, and a fit."""
import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_ldu.bijectors.rational_quadratic_spline_parameters import (
    num_spline_parameters, rational_quadratic_spline)
from tfp_ldu.flows import MAF
from tfp_ldu.flows import NSF
from tfp_ldu.layers import VectorCouplingLayer


def curved(n, seed=0):
  x = np.random.default_rng(seed).normal(size=(n, 2)).astype("float32")
  x[:, 1] = 0.5 * x[:, 1] + x[:, 0] ** 2 - 1.0
  return x


def test_zero_parameters_give_the_identity_and_bins_fill_the_interval():
  raw = tf.zeros([3, num_spline_parameters(6)], tf.float64)
  spline = rational_quadratic_spline(raw, 6, 2.5)
  x = tf.constant(np.linspace(-4.0, 4.0, 3 * 7).reshape(7, 3))
  np.testing.assert_allclose(spline.forward(x), x, atol=1e-12)
  np.testing.assert_allclose(spline.forward_log_det_jacobian(x, 0), 0.0, atol=1e-12)
  raw = tf.constant(np.random.default_rng(0).normal(scale=5.0, size=(3, 17)))
  spline = rational_quadratic_spline(raw, 6, 2.5)
  np.testing.assert_allclose(tf.reduce_sum(spline.bin_widths, -1), 5.0, rtol=1e-12)
  assert float(tf.reduce_min(spline.bin_widths)) >= 5.0 * 1e-3 / 6 * 0.999
  assert float(tf.reduce_min(spline.knot_slopes)) >= 1e-3


def test_log_prob_and_gradients_are_finite_far_outside_the_interval_and_at_its_edges():
  keras.utils.set_random_seed(0)
  flow = NSF(2, num_blocks=2, hidden_units=(8,), num_bins=4, bound=3.0, dtype="float64")
  flow.initialize(curved(64).astype("float64"))
  points = tf.constant([[1e3, -1e3], [3.0, -3.0], [3.0 - 1e-9, 1e-12], [-1e6, 0.5]],
                       tf.float64)
  with tf.GradientTape() as tape:
    log_prob = flow.transformed_distribution(training=True).log_prob(points)
    loss = -tf.reduce_sum(log_prob)
  assert np.all(np.isfinite(log_prob))
  gradients = tape.gradient(loss, flow.trainable_variables)
  assert all(g is not None and np.all(np.isfinite(g)) for g in gradients)


def test_fit_beats_a_gaussian_and_samples_invert_exactly():
  keras.utils.set_random_seed(0)
  x = curved(2048)
  flow = NSF(2, num_blocks=2, hidden_units=(32, 32), num_bins=8)
  flow.compile(keras.optimizers.Adam(5e-3))
  flow.fit(x, batch_size=256, epochs=6, verbose=0)
  test = curved(1024, seed=1)
  mean, cov = np.mean(x, 0), np.cov(x.T)
  centred = test - mean
  gaussian = -0.5 * (np.einsum("ni,ij,nj->n", centred, np.linalg.inv(cov), centred)
                     + np.log(np.linalg.det(2 * np.pi * cov)))
  assert float(np.mean(flow.log_prob(test))) > float(np.mean(gaussian)) + 0.3
  result = flow.sample_with_diagnostics(256, seed=2)
  assert int(result["num_unconverged"]) == 0
  assert float(flow.sampling_residual(result)) < 1e-4


@pytest.mark.parametrize("flow_class", [MAF, NSF])
def test_each_made_runs_once_per_density_evaluation(flow_class):
  # TFP's MaskedAutoregressiveFlow asks for the MADE's output once for the
  # inverse and once for its log-det; the layer computes it once
  # (LastInputCache).  Twice doubled the matmuls of a plain-graph step, and
  # with dropout gave the value and the log-det different masks.
  flow = flow_class(3, num_blocks=2, hidden_units=(8,), dropout=0.5)
  x = curved(16)[:, :1].repeat(3, axis=1)
  flow.initialize(x)
  calls = []
  for block in flow.blocks:
    original = block.made.call
    def counted(*args, _original=original, **kwargs):
      calls.append(1)
      return _original(*args, **kwargs)
    block.made.call = counted
  log_prob = flow(x, training=True)
  assert len(calls) == 2, len(calls)
  assert np.all(np.isfinite(log_prob))


def test_coupling_spline_gradients_are_finite_at_its_knots_and_far_outside():
  """NSF(coupling=True)'s layer in float64: log_prob and every weight's gradient stay finite
  with x_t on each knot of its own spline (the interval's edges among them), a hair either
  side of them, and at |x| = 1e3 (x_p far out too, so the network's output is extreme)."""
  keras.utils.set_random_seed(0)
  layer = VectorCouplingLayer(2, transformer="spline", num_bins=4, bound=3.0,
                              hidden_units=(8,), dtype="float64")
  head = layer.conditioner.head
  rng = np.random.default_rng(0)
  head.kernel.assign(rng.normal(size=head.kernel.shape))
  head.bias.assign(rng.normal(size=head.bias.shape))
  x_p = tf.constant([[0.5], [-2.0], [1e3], [-1e3]], tf.float64)
  spline = rational_quadratic_spline(layer.conditioner(x_p)[:, 0], 4, 3.0, clip=True)
  knots = -3.0 + tf.concat([tf.zeros([4, 1], tf.float64),
                            tf.cumsum(spline.bin_widths, axis=-1)], axis=-1)  # [4, K + 1]
  x_t = tf.concat([knots, knots - 1e-12, knots + 1e-12,
                   tf.constant([[1e3, -1e3]] * 4, tf.float64)], axis=-1)
  points = tf.reshape(tf.stack([tf.broadcast_to(x_p, x_t.shape), x_t], -1), [-1, 2])
  base = tfp.distributions.MultivariateNormalDiag(tf.zeros([2], tf.float64))
  with tf.GradientTape() as tape:
    log_prob = tfp.distributions.TransformedDistribution(base, layer.bijector()).log_prob(
        points)
    loss = -tf.reduce_sum(log_prob)
  assert np.all(np.isfinite(log_prob))
  gradients = tape.gradient(loss, layer.trainable_weights)
  assert all(g is not None and np.all(np.isfinite(g)) for g in gradients)


def test_the_one_hot_spline_equals_tfps_rational_quadratic_spline():
  # tfp_ldu's RationalQuadraticSpline reads bins by one-hot masks instead of
  # TFP's batched gathers; the map must be TFP's, inside and outside [-B, B].
  rng = np.random.default_rng(0)
  raw = tf.constant(rng.normal(scale=2.0, size=(40, 3, num_spline_parameters(6))))
  ours = rational_quadratic_spline(raw, 6, 2.5)
  theirs = tfp.bijectors.RationalQuadraticSpline(
      ours.bin_widths, ours.bin_heights, ours.knot_slopes, range_min=-2.5)
  points = np.concatenate([rng.uniform(-4.0, 4.0, size=(38, 3)),
                           np.full((1, 3), 2.5), np.full((1, 3), -2.5)])
  x = tf.constant(points)
  for method in ("forward", "inverse"):
    np.testing.assert_allclose(getattr(ours, method)(x), getattr(theirs, method)(x),
                               rtol=0, atol=1e-12)
  for method in ("forward_log_det_jacobian", "inverse_log_det_jacobian"):
    np.testing.assert_allclose(getattr(ours, method)(x, event_ndims=0),
                               getattr(theirs, method)(x, event_ndims=0), rtol=0, atol=1e-10)


@pytest.mark.cpu_xla_default
@pytest.mark.parametrize("flow, xla", [(NSF(3, num_blocks=1, hidden_units=(4,)), True),
                                       (NSF(3, num_blocks=1, hidden_units=(4,), coupling=True),
                                        True),
                                       (MAF(3, num_blocks=1, hidden_units=(4,)), False),
                                       (MAF(256, num_blocks=1, hidden_units=(4,)), True)],
                         ids=["nsf", "nsf_coupling", "maf", "maf_256"])
def test_compile_default_is_the_setting_measured_faster_on_cpus(flow, xla):
  # bench/user_path.py: XLA for NSF at every D; for MAF from D = 256 on.
  if tf.config.list_logical_devices("GPU"):
    pytest.skip("the CPU default; with GPUs Keras's own choice applies")
  flow.compile(keras.optimizers.Adam())
  assert flow.jit_compile is xla and flow.prefers_xla_on_cpu() is xla
