"""The checks every bijector passes (see `tests/registry.py` for the cases).

All checks run in float64.  TFP caches results by tensor identity, so every
second pass goes through `tf.identity` to make the bijector really compute.
"""
import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tests.registry import all_cases
from tests.registry import context
from tfp_ldu.layers import BijectorLayer

tfd = tfp.distributions
CASES = all_cases()
ids = [case.name for case in CASES]


SEEDS = (0, 1, 2)  # Data sets of the round trip, the cheapest check.


def data(case, n=16, seed=0):
  """`[n, *event_shape]` float64 test points."""
  rng = np.random.default_rng(seed)
  if case.sample is not None:
    return tf.constant(case.sample(rng, (n, *case.shape)), tf.float64)
  return tf.constant(case.data_scale * rng.normal(size=(n, *case.shape)))


def event_ndims(case):
  return len(case.shape)


def flat(x):
  """`[n, *event_shape] -> [n, D]`."""
  return tf.reshape(x, [x.shape[0], -1])


def bijector_for(case, layer, num_rows=16):
  """`layer.bijector()`, given one context row per data row for a conditional case."""
  if not case.context_size:
    return layer.bijector()
  return layer.bijector(context=tf.constant(context(case, num_rows)))


def built(case, num_rows=16):
  layer = case.make_layer()
  return layer, bijector_for(case, layer, num_rows)


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_round_trip_with_cache_busted(case):
  _, bijector = built(case)
  for seed in SEEDS:
    x = data(case, seed=seed)
    z = bijector.inverse(x)
    x_back = bijector.forward(tf.identity(z))
    assert np.max(np.abs(x_back - x)) <= case.round_trip_atol, seed
  # And the other way: a latent through forward, then back.
  z2 = z if case.sample is not None else data(case, seed=len(SEEDS))
  z2_back = bijector.inverse(tf.identity(bijector.forward(tf.identity(z2))))
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
  # One value per example, or one for all (a constant Jacobian, as TFP allows).
  assert ildj.shape in ((x.shape[0],), ())
  ildj = np.broadcast_to(ildj, (x.shape[0],))
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
  if case.extreme_inputs is not None:
    x = tf.constant(case.extreme_inputs(), tf.float64)
  else:
    big = case.large_input
    x = tf.constant(np.linspace(-big, big, 7 * case.event_size).reshape(7, *case.shape))
  _, bijector = built(case, num_rows=x.shape[0])
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
    distribution = tfd.TransformedDistribution(base, bijector_for(case, layer))
    loss = -tf.reduce_mean(distribution.log_prob(x))
  weights = layer.trainable_weights
  if not case.has_weights:
    assert not layer.weights, "a weightless case owns weights"
    return
  assert weights, "the layer owns no trainable weights"
  gradients = tape.gradient(loss, weights)
  for weight, gradient in zip(weights, gradients):
    if weight.path.endswith(case.dead_weights or "\0"):
      continue
    assert gradient is not None, f"{weight.path} gets no gradient"
    assert np.max(np.abs(gradient)) > 0, f"{weight.path} gets a zero gradient"


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_forward_gradients_match_finite_differences(case):
  """The numeric inverse's implicit gradients equal central differences."""
  layer = case.make_layer()
  z = data(case, n=4, seed=3)

  @tf.function(autograph=False)  # One trace; the weights are read at each call.
  def objective():
    x = bijector_for(case, layer, num_rows=4).forward(tf.identity(z))
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


def library_parts(layer):
  """`[layer]` for a library layer, else the library layers a test holder runs in order."""
  if type(layer).__module__.startswith("tfp_ldu"):
    return [layer]
  return [part for part in layer._flatten_layers(include_self=False, recursive=False)
          if type(part).__module__.startswith("tfp_ldu")]


def bijector_of(part, case):
  if isinstance(part, BijectorLayer):
    return bijector_for(case, part)
  return part.flow_bijector()


@pytest.mark.parametrize("case", [case for case in CASES if case.library_layer],
                         ids=[case.name for case in CASES if case.library_layer])
def test_config_round_trip_rebuilds_the_same_bijector(case):
  """Each library layer rebuilt from its Keras config (and given its weights) is the same map."""
  parts = library_parts(case.make_layer())
  assert parts, "no library layer to serialise"
  h = data(case)
  for part in parts:  # In data -> latent order, each on the batch it sees.
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(part))
    assert type(clone) is type(part)
    assert clone.get_config() == part.get_config()
    clone.set_weights(part.get_weights())
    ours, theirs = bijector_of(part, case), bijector_of(clone, case)
    rank = len(h.shape) - 1
    np.testing.assert_allclose(theirs.inverse(h), ours.inverse(h), rtol=0, atol=1e-12)
    np.testing.assert_allclose(
        theirs.inverse_log_det_jacobian(tf.identity(h), event_ndims=rank),
        ours.inverse_log_det_jacobian(tf.identity(h), event_ndims=rank), rtol=0, atol=1e-12)
    h = ours.inverse(h)


CONDITIONAL = [case for case in CASES if case.context_size]


@pytest.mark.parametrize("case", CONDITIONAL, ids=[case.name for case in CONDITIONAL])
def test_the_context_changes_the_map_both_ways(case):
  """A conditional layer whose map ignored its context (flowjax #147) fails here."""
  layer = case.make_layer()
  x = data(case)
  other = tf.constant(context(case, 16, seed=8))
  z = bijector_for(case, layer).inverse(x)
  z_other = layer.bijector(context=other).inverse(tf.identity(x))
  assert np.min(np.max(np.abs(z - z_other), axis=-1)) > 1e-3
  x_other = layer.bijector(context=other).forward(tf.identity(z))
  assert np.min(np.max(np.abs(x - x_other), axis=-1)) > 1e-3


@pytest.mark.parametrize("case", CONDITIONAL, ids=[case.name for case in CONDITIONAL])
def test_one_context_broadcasts_like_its_rows(case):
  """A `[1, C]` context gives, row by row, the map of that context repeated."""
  layer = case.make_layer()
  x = data(case)
  one = context(case, 1)
  repeated = layer.bijector(context=tf.constant(np.repeat(one, 16, axis=0))).inverse(x)
  broadcast = layer.bijector(context=tf.constant(one)).inverse(tf.identity(x))
  np.testing.assert_allclose(broadcast, repeated, rtol=0, atol=1e-12)
