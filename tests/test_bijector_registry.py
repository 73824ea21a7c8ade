"""The checks every bijector passes (see `tests/registry.py` for the cases).

All checks run in float64.  TFP caches results by tensor identity, so every
second pass goes through `tf.identity` to make the bijector really compute.
"""
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tests.registry import all_cases

tfd = tfp.distributions
CASES = all_cases()
ids = [case.name for case in CASES]


def data(case, n=16, seed=0):
  """`[n, *event_shape]` float64 test points."""
  rng = np.random.default_rng(seed)
  return tf.constant(case.data_scale * rng.normal(size=(n, *case.shape)))


def event_ndims(case):
  return len(case.shape)


def flat(x):
  """`[n, *event_shape] -> [n, D]`."""
  return tf.reshape(x, [x.shape[0], -1])


def built(case):
  layer = case.make_layer()
  return layer, layer.bijector()


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_round_trip_with_cache_busted(case):
  _, bijector = built(case)
  x = data(case)
  z = bijector.inverse(x)
  x_back = bijector.forward(tf.identity(z))
  assert np.max(np.abs(x_back - x)) <= case.round_trip_atol
  # And the other way: a latent sample through forward, then back.
  z2 = data(case, seed=1)
  z2_back = bijector.inverse(tf.identity(bijector.forward(z2)))
  assert np.max(np.abs(z2_back - z2)) <= case.round_trip_atol
  # The check can fail: a perturbed latent does not round-trip to x.
  assert np.max(np.abs(bijector.forward(tf.identity(z) + 1e-3) - x)) > case.round_trip_atol


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_log_det_matches_autodiff_jacobian(case):
  _, bijector = built(case)
  x = data(case)
  x_flat = flat(x)
  with tf.GradientTape() as tape:
    tape.watch(x_flat)
    z = flat(bijector.inverse(tf.reshape(x_flat, x.shape)))
  jacobian = tape.batch_jacobian(z, x_flat).numpy()
  _, log_abs_det = np.linalg.slogdet(jacobian)
  ildj = bijector.inverse_log_det_jacobian(tf.identity(x),
                                           event_ndims=event_ndims(case)).numpy()
  assert ildj.shape == (x.shape[0],)
  np.testing.assert_allclose(ildj, log_abs_det, rtol=0, atol=case.log_det_atol)


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_forward_log_det_is_minus_inverse_log_det(case):
  _, bijector = built(case)
  x = data(case)
  z = bijector.inverse(x)
  fldj = bijector.forward_log_det_jacobian(tf.identity(z), event_ndims=event_ndims(case))
  ildj = bijector.inverse_log_det_jacobian(tf.identity(x), event_ndims=event_ndims(case))
  np.testing.assert_allclose(fldj, -ildj, rtol=0, atol=case.log_det_atol)


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_finite_for_large_inputs(case):
  _, bijector = built(case)
  big = case.large_input
  x = tf.constant(np.linspace(-big, big, 7 * case.event_size).reshape(7, *case.shape))
  assert np.all(np.isfinite(bijector.inverse(x)))
  assert np.all(np.isfinite(bijector.inverse_log_det_jacobian(
      tf.identity(x), event_ndims=event_ndims(case))))


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_eager_graph_and_xla_agree(case):
  _, bijector = built(case)
  x = data(case)
  z = bijector.inverse(x)

  def all_directions(x, z):
    return (bijector.inverse(tf.identity(x)),
            bijector.inverse_log_det_jacobian(tf.identity(x), event_ndims=event_ndims(case)),
            bijector.forward(tf.identity(z)))

  eager = all_directions(x, z)
  graph = tf.function(all_directions)(x, z)
  xla = tf.function(all_directions, jit_compile=True)(x, z)
  for e, g, c in zip(eager, graph, xla):
    np.testing.assert_allclose(g, e, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(c, e, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_every_weight_gets_a_gradient_through_log_prob(case):
  layer = case.make_layer()
  x = data(case)
  with tf.GradientTape() as tape:
    base = tfd.Independent(tfd.Normal(tf.zeros(case.shape, tf.float64), 1.),
                           reinterpreted_batch_ndims=event_ndims(case))
    distribution = tfd.TransformedDistribution(base, layer.bijector())
    loss = -tf.reduce_mean(distribution.log_prob(x))
  weights = layer.trainable_weights
  assert weights, "the layer owns no trainable weights"
  gradients = tape.gradient(loss, weights)
  for weight, gradient in zip(weights, gradients):
    assert gradient is not None, f"{weight.path} gets no gradient"
    assert np.max(np.abs(gradient)) > 0, f"{weight.path} gets a zero gradient"


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_forward_gradients_match_finite_differences(case):
  """The numeric inverse's implicit gradients equal central differences."""
  layer = case.make_layer()
  z = data(case, n=4, seed=3)

  def objective():
    x = layer.bijector().forward(tf.identity(z))
    return tf.reduce_sum(tf.sin(x))

  with tf.GradientTape() as tape:
    value = objective()
  gradients = tape.gradient(value, layer.trainable_weights)
  rng = np.random.default_rng(4)
  step = 1e-6
  for weight, gradient in zip(layer.trainable_weights, gradients):
    original = np.array(weight.numpy(), copy=True)
    direction = rng.normal(size=original.shape)
    weight.assign(original + step * direction)
    plus = float(objective())
    weight.assign(original - step * direction)
    minus = float(objective())
    weight.assign(original)
    expected = (plus - minus) / (2 * step)
    got = float(np.sum(np.asarray(gradient) * direction))
    assert got == pytest.approx(expected, rel=1e-5, abs=1e-7), weight.path
