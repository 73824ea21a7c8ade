"""Planar flow: the invertibility constraint under training, a 2-D fit, bad input.

The generic checks (round trip, log-det, eager/graph/XLA, gradients, implicit
gradients) run through the registry (`tests/cases/planar.py`).
"""
import keras
import numpy as np
import pytest
import tensorflow as tf

from tfp_ldu.bijectors.planar import Planar
from tfp_ldu.flows.planar_flow import PlanarFlow
from tfp_ldu.layers.planar_layer import PlanarLayer
from tfp_ldu.solvers import ConvergenceError, truncated_solves


def two_clusters(n=512, seed=0):
  """Two tight clusters at x_0 = +-3: the density wants the gap between them squeezed."""
  rng = np.random.default_rng(seed)
  x0 = np.where(rng.random(n) < 0.5, -3.0, 3.0) + 0.3 * rng.normal(size=n)
  return np.stack([x0, rng.normal(size=n)], axis=1).astype("float32")


def latent_residual(flow, solved):
  """max |T(samples) - latents| of a `sample_with_diagnostics` result (T closed form)."""
  again = flow.bijector.inverse(tf.identity(solved["samples"]))
  return float(tf.reduce_max(tf.abs(again - solved["latents"])))


def moons(n, noise=0.08, seed=0):
  """Two interleaving half circles (as sklearn's make_moons), standardised."""
  rng = np.random.default_rng(seed)
  angle = np.pi * rng.random(n)
  upper = rng.random(n) < 0.5
  x = np.where(upper, np.cos(angle), 1.0 - np.cos(angle))
  y = np.where(upper, np.sin(angle), 0.5 - np.sin(angle))
  points = np.stack([x, y], axis=1) + noise * rng.normal(size=(n, 2))
  return ((points - points.mean(0)) / points.std(0)).astype("float32")


def test_constraint_holds_after_jitted_fit_pushing_against_it():
  keras.utils.set_random_seed(0)
  x = two_clusters()
  flow = PlanarFlow(2, num_layers=3)
  for layer in flow.planar_layers:
    # w^T u = -30.25: the paper's m = -1 + softplus(w^T u) is exactly -1 in float32.
    w = 5.5 * layer.w.numpy() / np.linalg.norm(layer.w.numpy())
    layer.w.assign(w)
    layer.u.assign(-w)
  flow.initialize(x)
  before = -float(np.mean(flow.log_prob(x)))
  flow.compile(keras.optimizers.Adam(0.1), jit_compile=True)
  history = flow.fit(x, batch_size=128, epochs=6, verbose=0)  # raises on a non-finite loss
  assert np.all(np.isfinite(history.history["loss"]))
  assert -float(np.mean(flow.log_prob(x))) < before
  for layer in flow.planar_layers:
    w_dot_u = float(np.dot(layer.w.numpy(), layer.u.numpy()))
    assert np.float32(-1.0) + np.float32(np.log1p(np.exp(w_dot_u))) == -1.0, (
        "the training left the regime the margin exists for")
    c = float(layer.bijector().w_dot_u_hat)
    assert -1.0 + 0.99 * layer.margin < c < -1.0 + 1.01 * layer.margin
  bijector = flow.bijector
  z = bijector.inverse(tf.constant(x))
  x_back = bijector.forward(tf.identity(z))
  np.testing.assert_allclose(x_back, x, rtol=0, atol=2e-4)
  solved = flow.sample_with_diagnostics(256, seed=1)
  assert int(solved["num_unconverged"]) == 0
  assert latent_residual(flow, solved) < 1e-4


def test_fit_on_moons_lowers_the_nll_and_samples(tmp_path):
  keras.utils.set_random_seed(1)
  x = moons(512)
  flow = PlanarFlow(2, num_layers=4)
  flow.initialize(x)
  before = -float(np.mean(flow.log_prob(x)))
  flow.compile(keras.optimizers.Adam(5e-2))
  flow.fit(x, batch_size=128, epochs=8, verbose=0)
  after = -float(np.mean(flow.log_prob(x)))
  assert after < before - 0.1, (before, after)
  solved = flow.sample_with_diagnostics(500, seed=2)
  samples = solved["samples"].numpy()
  assert samples.shape == (500, 2) and np.all(np.isfinite(samples))
  assert int(solved["num_unconverged"]) == 0
  assert latent_residual(flow, solved) < 1e-4
  np.testing.assert_allclose(samples.mean(0), x.mean(0), atol=0.25)
  # Saved and reloaded from its config, the model gives the same densities.
  path = str(tmp_path / "planar.keras")
  flow.save(path)
  reloaded = keras.models.load_model(path)
  assert isinstance(reloaded, PlanarFlow) and reloaded.num_layers == 4
  np.testing.assert_allclose(reloaded.log_prob(x[:64]), flow.log_prob(x[:64]), rtol=1e-6)


def test_wrong_parameter_shapes_name_expected_and_received():
  u_hat, w = np.zeros(3), np.ones(3)
  with pytest.raises(ValueError, match=r"`w` must have shape \[\.\.\., 3\] .*received shape "
                                       r"\[2\]"):
    Planar(u_hat, np.ones(2), 0.0)
  with pytest.raises(ValueError, match=r"`u_hat` must have shape \[\.\.\., D\]; received "
                                       r"shape \[\]"):
    Planar(0.0, w, 0.0)
  with pytest.raises(ValueError, match=r"batch shapes of `u_hat` \[2\], `w` \[\] and `b` "
                                       r"\[3\] do not broadcast"):
    Planar(np.zeros((2, 3)), w, np.zeros(3))
  bijector = Planar(u_hat, w, 0.0)
  message = r"expected input of shape \[\.\.\., 3\] \(event size D=3\); received shape \[5, 4\]"
  with pytest.raises(ValueError, match=message):
    bijector.inverse(tf.zeros([5, 4], tf.float64))
  with pytest.raises(ValueError, match=message):
    bijector.forward(tf.zeros([5, 4], tf.float64))
  with pytest.raises(ValueError, match="num_halvings must be a positive Python int"):
    Planar(u_hat, w, 0.0, num_halvings=0)
  with pytest.raises(ValueError, match=r"margin must be in \(0, 1\)"):
    PlanarLayer(3, margin=0.0)


def test_unconverged_solves_are_reported():
  bijector = Planar(np.array([2.0, -1.0]), np.array([0.5, 0.5]), 0.1, num_halvings=5)
  z = tf.constant([[0.3, 2.0], [-1.0, 4.0]], tf.float64)
  with pytest.raises(ConvergenceError, match=r"Planar.forward: 2 of 2 problems"):
    bijector.forward(z)
  with truncated_solves(5):
    assert int(bijector.solve_forward(z).num_unconverged) == 2
  xla = tf.function(bijector.forward, jit_compile=True)(z)  # XLA drops assertions: NaN
  assert np.all(np.isnan(xla))


def test_every_context_keeps_the_invertibility_constraint():
  """A conditional layer's hyper-network may push w(c)^T u(c) anywhere; u_hat(c) still holds it."""
  keras.utils.set_random_seed(2)
  layer = PlanarLayer(3, context_size=2, context_hidden_units=4, dtype="float64")
  layer.context_output.assign(20.0 * np.random.default_rng(0).normal(
      size=layer.context_output.shape))
  contexts = tf.constant(np.random.default_rng(1).normal(size=(200, 2)) * 3)
  u, w, _ = layer.parameters(contexts)
  w_dot_u = np.sum(u * w, axis=-1)
  assert np.min(w_dot_u) < -5 and np.max(w_dot_u) > 5  # Both sides of the bound.
  bijector = layer.bijector(context=contexts)
  c = bijector.w_dot_u_hat.numpy()
  assert c.shape == (200,) and np.min(c) >= -1.0 + 0.99 * layer.margin
  x = tf.constant(np.random.default_rng(2).normal(size=(200, 3)))
  z = bijector.inverse(x)
  np.testing.assert_allclose(bijector.forward(tf.identity(z)), x, rtol=0, atol=1e-8)
