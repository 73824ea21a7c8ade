"""NAF with deep sigmoidal flows: training under XLA, sampling, the sweep bound, errors.

The bijector's generic checks (round trip, log-det, eager = graph = XLA,
gradients) run through the registry (`tests/cases/deep_sigmoidal.py`).
"""
import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.cases.deep_sigmoidal import make_deep_sigmoidal
from tfp_ldu.bijectors import solve_forward
from tfp_ldu.bijectors.deep_sigmoidal import DeepSigmoidal
from tfp_ldu.flows.naf import NAF
from tfp_ldu.layers.deep_sigmoidal_layer import DeepSigmoidalLayer
from tfp_ldu.nets import MADE
from tfp_ldu.solvers import ConvergenceError


def banana(n=512, seed=0):
  """A curved 2-D density: x2 = x1^2 / 2 + noise, far from any Gaussian."""
  rng = np.random.default_rng(seed)
  x1 = rng.normal(size=n)
  x2 = 0.5 * x1 ** 2 - 1.0 + 0.2 * rng.normal(size=n)
  return np.c_[x1, x2].astype("float32")


def gaussian_nll(x):
  """Mean NLL (nats) of the maximum-likelihood full-covariance Gaussian."""
  cov = np.cov(x.T, bias=True)
  d = x.shape[1]
  return 0.5 * (d * np.log(2 * np.pi) + np.linalg.slogdet(cov)[1] + d)


@pytest.fixture(scope="module")
def trained():
  keras.utils.set_random_seed(0)
  x = banana()
  model = NAF(2, num_blocks=2, num_components=4, hidden_units=(32, 32))
  model.initialize(x[:128])
  before = -float(np.mean(model.log_prob(x)))
  model.compile(keras.optimizers.Adam(1e-2), jit_compile=True)
  model.fit(x, batch_size=128, epochs=15, verbose=0)
  after = -float(np.mean(model.log_prob(x)))
  return model, x, before, after


def test_fit_under_xla_lowers_the_nll_and_beats_a_gaussian(trained):
  model, x, before, after = trained
  assert model.jit_compile
  assert after < before - 0.3, (before, after)
  assert after < gaussian_nll(x) - 0.5, (gaussian_nll(x), after)


def test_samples_converge_and_reconstruct(trained):
  model, x, _, _ = trained
  out = model.sample_with_diagnostics(256, seed=1)
  assert int(out["num_unconverged"]) == 0
  assert 1 <= int(out["max_iterations"]) <= model.event_size + 1
  samples = out["samples"].numpy()
  assert np.all(np.isfinite(samples))
  assert np.all(np.isfinite(model.log_prob(samples)))
  bijector = model.bijector
  latents = bijector.inverse(tf.constant(x[:64]))
  solved = solve_forward(bijector, tf.identity(latents))
  assert int(solved.num_unconverged) == 0
  assert np.max(np.abs(solved.value.numpy() - x[:64])) < 1e-3


def test_sweeps_are_at_most_d_plus_one():
  d = 5
  made = MADE(d, hidden_units=(16,), params_per_dim=3 * 3, activation="tanh",
              dtype="float64")
  rng = np.random.default_rng(0)
  for weight in made.trainable_weights:
    weight.assign(rng.normal(scale=0.5, size=weight.shape))
  bijector = DeepSigmoidal(made, event_size=d, num_components=3)
  x = tf.constant(rng.normal(size=(32, d)))
  z = bijector.inverse(x)
  for solve in (tf.function(bijector.solve_forward, autograph=False),
                tf.function(bijector.solve_forward, jit_compile=True)):
    solved = solve(tf.identity(z))
    # Sequential: D sweeps fix one more dimension each, the last one confirms.
    assert int(solved.num_iterations) == d + 1
    assert int(solved.num_unconverged) == 0
    np.testing.assert_allclose(solved.value, x, atol=1e-8)


def test_reversed_layer_is_upper_triangular_with_exact_log_det():
  layer = make_deep_sigmoidal(reverse=True, seed=8)
  bijector = layer.bijector()
  x = tf.constant(np.random.default_rng(1).normal(scale=2.0, size=(8, 3)))
  with tf.GradientTape() as tape:
    tape.watch(x)
    z = bijector.inverse(x)
  jacobian = tape.batch_jacobian(z, x).numpy()
  assert np.all(np.tril(jacobian, -1) == 0)
  assert np.min(np.abs(np.triu(jacobian, 1)[:, [0, 0, 1], [1, 2, 2]])) > 1e-4
  ildj = layer.bijector().inverse_log_det_jacobian(tf.identity(x), event_ndims=1)
  np.testing.assert_allclose(ildj, np.linalg.slogdet(jacobian)[1], atol=1e-10)
  x_back = bijector.forward(tf.identity(z))
  np.testing.assert_allclose(x_back, x, atol=1e-8)


def test_bad_parameter_shapes_give_a_clear_value_error():
  x = tf.zeros([4, 3])
  wrong_width = DeepSigmoidal(lambda x: tf.zeros([4, 3, 11]), event_size=3,
                              num_components=4)
  expected = r"must return shape \[\.\.\., 3, 12\].*received shape \[4, 3, 11\]"
  with pytest.raises(ValueError, match=expected):
    wrong_width.inverse(x)
  wrong_rows = DeepSigmoidal(lambda x: tf.zeros([4, 2, 12]), event_size=3,
                             num_components=4)
  with pytest.raises(ValueError, match=r"received shape \[4, 2, 12\]"):
    wrong_rows.forward(x)
  layer = DeepSigmoidalLayer(3, num_components=4, hidden_units=(8,))
  with pytest.raises(ValueError, match=r"expected input of shape \[\.\.\., 3\]"):
    layer.bijector().inverse(tf.zeros([4, 2]))
  for bad in (dict(event_size=0, num_components=4), dict(event_size=3, num_components=2.0)):
    with pytest.raises(ValueError, match="must be a positive Python int"):
      DeepSigmoidal(lambda x: x, **bad)


def test_non_convergence_is_reported():
  layer = make_deep_sigmoidal()
  bijector = DeepSigmoidal(layer.parameters, event_size=3, num_components=4,
                           num_halvings=2)
  z = tf.constant(np.random.default_rng(2).normal(size=(4, 3)))
  with pytest.raises(ConvergenceError, match="did not converge"):
    bijector.forward(z)
  under_xla = tf.function(bijector.solve_forward, jit_compile=True)(z)
  assert int(under_xla.num_unconverged) > 0
  assert np.all(np.isnan(under_xla.value))

