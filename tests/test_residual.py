"""Residual bijector: unbiased log-det and Neumann-gradient estimators, XLA, ResidualFlow.

Exact-mode log-det, round trips, eager/graph/XLA agreement and gradients of
the exact mode run in the registry (`tests/cases/residual.py`).  Here: the
statistics of the stochastic estimators.  One roulette draw N serves a whole
call (as in Residual Flows), so the independent replicates are calls with
different seeds: each call estimates a batch of events with many probes, and
the standard error is taken over calls.
"""
import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_ldu.flows import ResidualFlow
from tfp_ldu.bijectors import Residual
from tfp_ldu.bijectors.roulette import CAP_TAIL_PROBABILITY, TermSchedule
from tfp_ldu.nets import LipschitzMLP
from tfp_ldu.testing import contractive_net

tfd = tfp.distributions
NUM_CALLS = 400


def replicate(estimate_fn, num_calls=NUM_CALLS):
  """`[num_calls, ...]` values of `estimate_fn(seed)` for seeds (i, 7), in a graph."""
  compiled = tf.function(estimate_fn)
  return np.array([tf.nest.map_structure(np.asarray, compiled(tf.constant([i, 7])))
                   for i in range(num_calls)])


def z_scores(samples, expected):
  samples = np.asarray(samples)
  return (samples.mean(0) - expected) / (samples.std(0, ddof=1) / np.sqrt(len(samples)))


@pytest.mark.parametrize("event_size", [2, 8])
@pytest.mark.parametrize("roulette", ["geometric", "poisson"])
def test_roulette_log_det_is_unbiased(event_size, roulette):
  net, x = contractive_net(event_size)
  g = net.lipschitz_map(training=False)
  exact = Residual(g, log_det="exact").inverse_log_det_jacobian(x, event_ndims=1).numpy()
  estimates = replicate(lambda seed: Residual(
      g, log_det="roulette", roulette=roulette, n_probes=32, seed=seed
  ).inverse_log_det_jacobian(x, event_ndims=1))
  assert np.all(np.abs(z_scores(estimates, exact)) < 4.0)


def test_truncated_series_is_detected_as_biased():
  """The same check rejects the 2-term series: the test has power."""
  net, x = contractive_net(2)
  g = net.lipschitz_map(training=False)
  exact = Residual(g, log_det="exact").inverse_log_det_jacobian(x, event_ndims=1).numpy()
  estimates = replicate(lambda seed: Residual(
      g, log_det="series", n_exact_terms=2, n_probes=32, seed=seed
  ).inverse_log_det_jacobian(x, event_ndims=1))
  assert np.all(np.abs(z_scores(estimates, exact)) > 4.0)


def log_det_gradients(net, bijector, x, directions):
  """d sum_B log det / d(x, weights), the weights' part projected on `directions`."""
  with tf.GradientTape() as tape:
    tape.watch(x)
    total = tf.reduce_sum(bijector.inverse_log_det_jacobian(x, event_ndims=1))
  # The tf.Variables under the Keras weights: zeros for unconnected ones need a tf dtype.
  weights = [w.value for w in net.trainable_weights]
  grad_x, *grad_weights = tape.gradient(total, [x, *weights],
                                        unconnected_gradients=tf.UnconnectedGradients.ZERO)
  flat = tf.concat([tf.reshape(g, [-1]) for g in grad_weights], axis=0)
  return tf.concat([tf.reshape(grad_x, [-1]), tf.linalg.matvec(directions, flat)], axis=0)


@pytest.mark.parametrize("event_size", [2, 8])
def test_neumann_gradient_is_unbiased(event_size):
  net, x = contractive_net(event_size, seed=1)
  g = net.lipschitz_map(training=False)
  num_weights = sum(int(np.prod(w.shape)) for w in net.trainable_weights)
  directions = tf.constant(np.random.default_rng(2).normal(size=(3, num_weights)))
  exact = log_det_gradients(net, Residual(g, log_det="exact"), x, directions).numpy()
  estimates = replicate(lambda seed: log_det_gradients(
      net, Residual(g, log_det="roulette", neumann_gradient=True, n_probes=32, seed=seed),
      x, directions))
  assert np.all(np.abs(z_scores(estimates, exact)) < 4.0)
  # Not the backprop gradient in disguise: per draw the two estimators differ.
  seed = tf.constant([0, 7])
  backprop = log_det_gradients(
      net, Residual(g, log_det="roulette", n_probes=32, seed=seed), x, directions)
  assert np.max(np.abs(backprop - estimates[0])) > 1e-3


def test_neumann_gradient_reaches_a_conditional_residuals_context_unbiased():
  """The context is an input of the Neumann custom gradient, not a captured tensor.

  A tensor that g captured by closure would get no gradient through
  `tf.custom_gradient` (a context net would then train only through the
  base density's term); here d log det / dc matches the exact log-det's.
  """
  keras.utils.set_random_seed(0)  # The kernels' start: the same network in every process.
  net = LipschitzMLP(3, hidden_units=(12,), coeff=0.75, context_size=2, dtype="float64")
  net.build((None, 3))
  rng = np.random.default_rng(4)
  for weight in net.trainable_weights:
    if "kernel" in weight.path:
      weight.assign(4.0 * weight.numpy())
  x = tf.constant(rng.normal(scale=0.5, size=(3, 3)))
  context = tf.constant(rng.normal(size=(3, 2)))
  g = net.lipschitz_map(training=False)

  def context_gradient(bijector):
    with tf.GradientTape() as tape:
      tape.watch(context)
      total = tf.reduce_sum(bijector.inverse_log_det_jacobian(x, event_ndims=1))
    return tape.gradient(total, context)

  exact = context_gradient(Residual(g, log_det="exact", context=context)).numpy()
  assert np.max(np.abs(exact)) > 1e-2
  estimates = replicate(lambda seed: context_gradient(Residual(
      g, log_det="roulette", neumann_gradient=True, n_probes=32, seed=seed, context=context)))
  assert np.all(np.abs(z_scores(estimates, exact)) < 4.0)


def test_roulette_and_inverse_compile_with_xla():
  net, x = contractive_net(4)
  g = net.lipschitz_map(training=False)
  weights = [w.value for w in net.trainable_weights]

  def step(x, seed):
    outputs = []
    for neumann in (False, True):
      bijector = Residual(g, log_det="roulette", neumann_gradient=neumann, n_probes=4,
                          seed=seed)
      with tf.GradientTape() as tape:
        tape.watch(x)
        log_det = bijector.inverse_log_det_jacobian(x, event_ndims=1)
      outputs += [log_det, *tape.gradient(
          log_det, [x, *weights], unconnected_gradients=tf.UnconnectedGradients.ZERO)]
    unseeded = Residual(g, log_det="roulette", n_probes=4)  # fresh seed per call
    outputs.append(unseeded.inverse_log_det_jacobian(x, event_ndims=1))
    exact = Residual(g, log_det="exact")
    outputs.append(exact.forward(tf.identity(exact.inverse(x))))
    return outputs

  compiled = tf.function(step, jit_compile=True)
  first = compiled(x, tf.constant([1, 2]))
  second = compiled(x, tf.constant([1, 2]))
  for value in first:
    assert np.all(np.isfinite(value))
  np.testing.assert_allclose(first[-1], x, atol=1e-6)  # the fixed-point inverse
  np.testing.assert_allclose(first[0], second[0])  # seeded: reproducible
  assert np.max(np.abs(first[-2] - second[-2])) > 0  # unseeded: a fresh draw


def test_seeded_estimates_are_reproducible_in_eager_and_graph():
  net, x = contractive_net(2)
  g = net.lipschitz_map(training=False)
  estimate = lambda seed: Residual(g, log_det="roulette", seed=seed).inverse_log_det_jacobian(
      x, event_ndims=1)
  np.testing.assert_allclose(estimate(tf.constant([3, 4])),
                             tf.function(estimate)(tf.constant([3, 4])), rtol=1e-12)
  assert np.max(np.abs(estimate(tf.constant([3, 4])) - estimate(tf.constant([3, 5])))) > 0


def test_term_schedule_caps_and_draws():
  geometric = TermSchedule.roulette(2, "geometric", p=0.5)
  assert geometric.max_terms == 31
  assert geometric.cap_probability <= CAP_TAIL_PROBABILITY
  np.testing.assert_allclose(geometric.term_weights[:5], [1, 1, 2, 4, 8])
  poisson = TermSchedule.roulette(2, "poisson", rate=2.0)
  assert poisson.cap_probability <= CAP_TAIL_PROBABILITY
  np.testing.assert_allclose(1 / poisson.term_weights[2], 1 - np.exp(-2.0))  # P(N >= 1)
  seeds = tf.stack([tf.range(4000), tf.fill([4000], 9)], axis=1)
  for schedule, mean in [(geometric, 1.0), (poisson, 2.0)]:
    extra = tf.function(lambda s: tf.map_fn(schedule.sample_num_terms, s,
                                            fn_output_signature=tf.int32))(seeds) - 2
    assert abs(np.mean(extra) - mean) < 4 * np.std(extra) / np.sqrt(len(extra))
  assert np.all(TermSchedule.fixed(3).term_weights == 1)


def test_invalid_arguments_raise():
  g = lambda x: 0.5 * tf.sin(x)
  with pytest.raises(ValueError, match="log_det"):
    Residual(g, log_det="hutchinson")
  with pytest.raises(ValueError, match="neumann_gradient"):
    Residual(g, log_det="exact", neumann_gradient=True)
  with pytest.raises(ValueError, match="max_terms"):
    Residual(g, n_exact_terms=4, max_terms=4)
  with pytest.raises(ValueError, match="distribution"):
    Residual(g, roulette="binomial")
  with pytest.raises(ValueError, match=r"\[\.\.\., 3\].*\[2, 4\]"):
    Residual(g, event_size=3).inverse(tf.zeros([2, 4]))


def test_residual_flow_fits_with_xla_and_log_prob_is_exact():
  rng = np.random.default_rng(0)
  data = rng.normal(size=(128, 2)) * [1.0, 0.3]
  data[:, 1] += data[:, 0] ** 2
  model = ResidualFlow(2, num_blocks=1, hidden_units=(16,), seed=0, dtype="float64")
  with pytest.raises(ValueError, match="dropout"):
    ResidualFlow(2, dropout=0.1)  # no option is accepted and silently ignored
  model.compile(optimizer=keras.optimizers.Adam(1e-2), jit_compile=True)
  before = [w.numpy().copy() for w in model.trainable_weights]
  seeds_before = [b.seed_generator.state.numpy().copy() for b in model.blocks]
  history = model.fit(data, batch_size=64, epochs=2, verbose=0)
  assert np.all(np.isfinite(history.history["loss"]))
  for weight, old in zip(model.trainable_weights, before):
    assert not np.allclose(weight.numpy(), old), f"{weight.path} did not train"
  for block, old in zip(model.blocks, seeds_before):
    assert not np.array_equal(block.seed_generator.state.numpy(), old)

  # Evaluation: log N(T(x)) + log|det dT/dx| with the whole flow's autodiff Jacobian.
  x = tf.constant(data[:8])
  with tf.GradientTape() as tape:
    tape.watch(x)
    z = model.bijector.inverse(x)
  _, log_det = np.linalg.slogdet(tape.batch_jacobian(z, x).numpy())
  expected = model.base_distribution().log_prob(z).numpy() + log_det
  np.testing.assert_allclose(model.log_prob(x), expected, atol=1e-8)
  samples = model.sample_with_diagnostics(16, seed=1)
  assert int(samples["num_unconverged"]) == 0
  assert np.all(np.isfinite(samples["samples"]))
