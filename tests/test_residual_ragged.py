"""ResidualFlow with batch sizes unknown at trace time (issue 12 item 5).

A ragged last batch, `tf.data` without `drop_remainder`, an input signature
`[None, D]` (evaluation, export) all trace the flow with an unknown batch
size.  The power-series estimators then take VJPs inside a `tf.while_loop`
from a tape recorded outside it; those VJPs used to come back with an
unknown static shape and the loop refused them.  D = 3 evaluates with the
exact log-det and D = 17 with the roulette estimator (`exact_log_det_max_dim`
is 16); training always uses roulette with the Neumann gradient.
"""
import keras
import numpy as np
import pytest
import tensorflow as tf

import tfp_ldu.export
from tfp_ldu.flows import ResidualFlow
from tfp_ldu.bijectors import log_det_estimators
from tfp_ldu.bijectors.roulette import TermSchedule
from tfp_ldu.nets import LipschitzMLP

NUM_ROWS, BATCH = 100, 32  # 100 = 3 * 32 + 4: a ragged last batch.


def correlated_data(event_size, dtype="float32", num_rows=NUM_ROWS, seed=0):
  """`[num_rows, D]` Gaussian data with strong correlations (something to learn)."""
  rng = np.random.default_rng(seed)
  mixing = np.eye(event_size) + 0.9 * np.tril(rng.normal(size=(event_size, event_size)), -1)
  return (rng.normal(size=(num_rows, event_size)) @ mixing.T).astype(dtype)


def tiny_flow(event_size, dtype="float32", num_blocks=1, seed=0, **kwargs):
  keras.utils.set_random_seed(seed)  # the initial weights; `seed` fixes the estimators
  model = ResidualFlow(event_size, num_blocks=num_blocks, hidden_units=(16,), seed=seed,
                       dtype=dtype, **kwargs)
  model.initialize(correlated_data(event_size, dtype)[:64])
  return model


def set_seed_states(model, start):
  """Puts every block's estimator seed generator at a known state."""
  for index, block in enumerate(model.blocks):
    block.seed_generator.state.assign(np.array([start, index], dtype="int64"))


# D = 3 without XLA is in the flow registry (tests/test_flow_registry.py).
@pytest.mark.parametrize("event_size, jit_compile, dtype", [
    (17, False, "float64"), (3, True, "float64"), (17, True, "float32")])
def test_fit_with_a_ragged_last_batch(event_size, jit_compile, dtype):
  data = correlated_data(event_size, dtype)
  model = tiny_flow(event_size, dtype)
  model.compile(keras.optimizers.Adam(1e-2), jit_compile=jit_compile)
  before = [w.numpy().copy() for w in model.trainable_weights]
  losses = model.fit(data, batch_size=BATCH, epochs=4, shuffle=False,
                     verbose=0).history["loss"]
  assert np.all(np.isfinite(losses))
  assert losses[-1] < losses[0] - 0.05, losses
  for weight, old in zip(model.trainable_weights, before):
    assert not np.allclose(weight.numpy(), old), f"{weight.path} did not train"


@pytest.mark.parametrize("event_size", [3, 17])
def test_fit_on_tf_data_without_drop_remainder_and_evaluate_at_batch_30(event_size):
  data = correlated_data(event_size)
  dataset = tf.data.Dataset.from_tensor_slices(data).batch(BATCH)
  assert dataset.element_spec.shape.as_list() == [None, event_size]
  model = tiny_flow(event_size, num_blocks=2)
  model.compile(keras.optimizers.Adam(1e-2))
  assert np.all(np.isfinite(model.fit(dataset, epochs=1, shuffle=False,
                                     verbose=0).history["loss"]))
  loss = model.evaluate(data, batch_size=30, verbose=0)  # batches 30, 30, 30, 10
  assert np.isfinite(loss)
  if event_size <= 16:  # the exact log-det: evaluate is the mean of log_prob
    np.testing.assert_allclose(loss, -np.mean(model.log_prob(data)), rtol=1e-5)


@pytest.mark.parametrize("event_size", [3, 17])
def test_log_prob_and_gradients_through_an_input_signature(event_size):
  data = correlated_data(event_size)[:20]
  model = tiny_flow(event_size, num_blocks=2)

  @tf.function(input_signature=[tf.TensorSpec([None, event_size], tf.float32)])
  def evaluation_log_prob(x):
    return model(x, training=False)

  @tf.function(input_signature=[tf.TensorSpec([None, event_size], tf.float32)])
  def training_step(x):
    with tf.GradientTape() as tape:
      log_prob = model(x, training=True)
      loss = -tf.reduce_mean(log_prob)
    return log_prob, tape.gradient(loss, model.trainable_weights)

  set_seed_states(model, 5)
  evaluated = evaluation_log_prob(data)
  assert evaluated.shape == [20]
  set_seed_states(model, 5)  # the same estimator seeds, now with a static batch size
  np.testing.assert_allclose(evaluated, model.log_prob(data), rtol=1e-5, atol=1e-5)
  log_prob, gradients = training_step(data)
  assert log_prob.shape == [20] and np.all(np.isfinite(log_prob))
  for weight, gradient in zip(model.trainable_weights, gradients):
    assert gradient is not None and np.all(np.isfinite(gradient)), weight.path
  assert np.any([np.any(gradient != 0) for gradient in gradients])


def tensordot_residual(event_size):
  """A contraction written with `tf.tensordot`, as a user's g might be."""
  kernel = tf.constant(0.4 * np.linalg.qr(
      np.random.default_rng(3).normal(size=(event_size, event_size)))[0])
  return lambda x: tf.tanh(tf.tensordot(x, kernel, axes=[[-1], [0]]))


# XLA cannot differentiate through the loop (neumann_gradient=False) a g whose
# VJP reads a tensordot permutation; LipschitzMLP avoids tensordot for that reason.
@pytest.mark.parametrize("residual, neumann_gradient, jit_compile", [
    ("lipschitz_mlp", False, False), ("lipschitz_mlp", True, False),
    ("lipschitz_mlp", False, True), ("lipschitz_mlp", True, True),
    ("tensordot", False, False), ("tensordot", True, False), ("tensordot", True, True)])
def test_estimator_is_the_same_with_unknown_and_known_batch(residual, neumann_gradient,
                                                           jit_compile):
  """With an unknown batch size the VJPs inside the series loop used to lose
  their static shape (see `_series_terms`).  Same seed -> same values."""
  event_size = 5
  if residual == "lipschitz_mlp":
    net = LipschitzMLP(event_size, hidden_units=(8,), dtype="float64")
    net.build((None, event_size))
    g = net.lipschitz_map(training=False)
  else:
    g = tensordot_residual(event_size)
  schedule = TermSchedule.roulette(2)
  x = tf.constant(np.random.default_rng(1).normal(size=(7, event_size)))

  def estimate_and_gradient(x):
    with tf.GradientTape() as tape:
      tape.watch(x)
      estimate = log_det_estimators.power_series_log_det(
          g, x, schedule, n_probes=2, seed=tf.constant([4, 2]),
          neumann_gradient=neumann_gradient)
    return estimate, tape.gradient(estimate, x)

  known, unknown = (
      tf.function(estimate_and_gradient, jit_compile=jit_compile,
                  input_signature=[tf.TensorSpec(shape, tf.float64)])
      for shape in ([7, event_size], [None, event_size]))
  outputs = unknown.get_concrete_function().structured_outputs
  assert [o.shape.as_list() for o in outputs] == [[None], [None, event_size]]
  for expected, value in zip(known(x), unknown(x)):
    assert np.all(np.isfinite(value))
    np.testing.assert_allclose(value, expected, rtol=1e-10, atol=1e-12)


def test_export_of_a_roulette_evaluated_flow_matches_the_live_model(tmp_path):
  event_size = 17
  data = correlated_data(event_size, num_rows=64, seed=2)
  model = tiny_flow(event_size, num_blocks=2)
  tfp_ldu.export.save(model, tmp_path / "flow")
  exported = tf.saved_model.load(str(tmp_path / "flow"))
  exported_seeds = [v for v in exported.model_variables if "seed_generator_state" in v.name]
  assert len(exported_seeds) == len(model.blocks)

  # Evaluation-mode roulette draws a fresh seed per call: compare equal seeds.
  for start in (0, 1):
    set_seed_states(model, start)
    for index, state in enumerate(exported_seeds):
      state.assign(np.array([start, index], dtype="int64"))
    live = model.log_prob(data).numpy()
    np.testing.assert_allclose(exported.log_prob(tf.constant(data)), live,
                               rtol=1e-5, atol=1e-4)
  assert np.max(np.abs(live - model.log_prob(data))) > 1e-3  # the seed matters

  # Averaged over calls (one roulette draw each) the export is unbiased for
  # the exact log-density, computed by a twin with the exact log-det.
  exact_twin = ResidualFlow(event_size, num_blocks=2, hidden_units=(16,),
                            exact_log_det_max_dim=event_size)
  exact_twin.set_weights(model.get_weights())
  exact = np.mean(exact_twin.log_prob(data))
  call_means = np.array([np.mean(exported.log_prob(tf.constant(data))) for _ in range(30)])
  standard_error = call_means.std(ddof=1) / np.sqrt(len(call_means))
  assert abs(call_means.mean() - exact) < 4 * standard_error + 1e-3, (
      call_means.mean(), exact, standard_error)
