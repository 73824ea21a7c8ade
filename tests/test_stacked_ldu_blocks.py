"""`LDUFlow(stacked_blocks=True)`: `StackedLDUBlocks` run as one `LoopedChain` loop.

The registry checks (round trip, log-det, XLA, gradients) run on the case in
`tests/cases/stacked_ldu_blocks.py`; here: parity with the unrolled flow,
training, and the variable count.
"""
import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_ldu.bijectors.looped_chain import LoopedChain
from tfp_ldu.flows import LDUFlow
from tfp_ldu.layers.stacked_ldu_blocks import StackedLDUBlocks
from tfp_ldu.testing import randomise_d_scale

tfb = tfp.bijectors
tfd = tfp.distributions
SIZES = dict(num_blocks=3, num_d_scales=2, num_components=2, hidden_units=(8, 8))


def unrolled_and_stacked(dtype, seed=0):
  """A default LDUFlow with non-identity D-scales and ActNorm, and its stacked copy."""
  rng = np.random.default_rng(seed)
  unrolled = LDUFlow(3, dtype=dtype, stacked_blocks=False, **SIZES)
  for block in unrolled.blocks:
    for d_scale in block.d_scales:
      randomise_d_scale(d_scale, rng)
  unrolled.actnorm.initialize(rng.normal(size=(16, 3)) * 2.0 + 1.0)
  stacked = LDUFlow(3, dtype=dtype, stacked_blocks=True, **SIZES)
  stacked.blocks[0].load_from_blocks(unrolled.blocks)
  stacked.actnorm.set_weights(unrolled.actnorm.get_weights())
  return unrolled, stacked, rng


@pytest.mark.parametrize("dtype, atol", [("float32", 1e-5), ("float64", 1e-10)])
def test_log_prob_and_samples_match_the_unrolled_flow(dtype, atol):
  unrolled, stacked, rng = unrolled_and_stacked(dtype)
  x = rng.normal(size=(32, 3)).astype(dtype)
  expected = unrolled.log_prob(x).numpy()
  np.testing.assert_allclose(stacked.log_prob(x).numpy(), expected, rtol=atol, atol=atol)
  # Eagerly (the loop runs as a Python loop) too.
  np.testing.assert_allclose(stacked.bijector.inverse(tf.constant(x)).numpy(),
                             unrolled.bijector.inverse(tf.constant(x)).numpy(),
                             rtol=0, atol=10 * atol)
  # Samples from the same latents (a stateless seed draws the same latents).
  seed = tf.constant([4, 5])
  a = unrolled.sample_with_diagnostics(16, seed=seed)
  b = stacked.sample_with_diagnostics(16, seed=seed)
  np.testing.assert_array_equal(a["latents"].numpy(), b["latents"].numpy())
  np.testing.assert_allclose(b["samples"].numpy(), a["samples"].numpy(), rtol=0,
                             atol=10 * atol)
  assert int(b["num_unconverged"]) == 0
  assert int(b["max_iterations"]) > 0


def test_log_prob_runs_the_loop_once():
  """inverse and its log-det come from one loop per input (TransformedDistribution)."""
  calls = []
  shifts = tf.constant([[1., 2.], [3., 4.], [5., 6.]])

  def make_block(i):
    calls.append(i)
    return tfb.Chain([tfb.Shift(shifts[i]), tfb.Scale(tf.exp(0.1 * shifts[i]))])

  chain = LoopedChain(make_block, num_blocks=3, event_shape=[2])
  distribution = tfd.TransformedDistribution(tfd.MultivariateNormalDiag(tf.zeros(2)), chain)
  x = tf.constant([[0.5, -1.0]])
  log_prob = distribution.log_prob(x)
  assert len(calls) == 3
  expected = tfd.TransformedDistribution(
      tfd.MultivariateNormalDiag(tf.zeros(2)),
      tfb.Chain([make_block(i) for i in range(3)])).log_prob(x)
  np.testing.assert_allclose(log_prob, expected, rtol=1e-6)
  np.testing.assert_allclose(chain.forward(tf.identity(chain.inverse(x))), x, atol=1e-6)


@pytest.mark.parametrize("jit_compile", [False, True])
def test_fit_lowers_the_loss(jit_compile):
  keras.utils.set_random_seed(3)
  rng = np.random.default_rng(3)
  u = rng.normal(size=(512, 1))
  x = np.concatenate([u, np.sin(2 * u) + 0.1 * rng.normal(size=(512, 1))], -1)
  flow = LDUFlow(2, num_blocks=3, num_d_scales=1, num_components=2, hidden_units=(16,),
                 stacked_blocks=True)
  flow.compile(keras.optimizers.Adam(1e-2), jit_compile=jit_compile)
  history = flow.fit(x.astype("float32"), batch_size=128, epochs=6, verbose=0)
  losses = history.history["loss"]
  assert np.all(np.isfinite(losses))
  assert losses[-1] < losses[0] - 0.1


def test_trainable_variables_do_not_grow_with_num_blocks():
  counts = {b: len(LDUFlow(3, num_blocks=b, num_d_scales=2, hidden_units=(8, 8),
                           stacked_blocks=True).trainable_variables) for b in (1, 4)}
  # 3 MADE layers x (kernel, bias) x 2 shifts + 5 D-scale weights + ActNorm's 2.
  assert counts == {1: 19, 4: 19}
  unrolled = LDUFlow(3, num_blocks=4, num_d_scales=2, hidden_units=(8, 8),
                     stacked_blocks=False)
  assert len(unrolled.trainable_variables) == 4 * (12 + 2 * 5) + 2


def test_config_and_errors():
  flow = LDUFlow(3, stacked_blocks=True, **SIZES)
  config = flow.get_config()
  assert config["stacked_blocks"] is True
  again = LDUFlow.from_config(config)
  assert isinstance(again.blocks[0], StackedLDUBlocks)
  assert LDUFlow(3, **SIZES).get_config()["stacked_blocks"] is True  # The default.
  assert LDUFlow(3, stacked_blocks=False, **SIZES).get_config()["stacked_blocks"] is False
  assert LDUFlow((2, 2, 1), conditioner="pixelcnn", num_blocks=1).stacked_blocks is False
  layer = StackedLDUBlocks.from_config(flow.blocks[0].get_config())
  assert layer.raw_in_scale.shape == (3, 2, 3, 2)
  with pytest.raises(ValueError, match="stacked_blocks"):
    LDUFlow((2, 2, 1), conditioner="pixelcnn", stacked_blocks=True, num_blocks=1)
  with pytest.raises(ValueError, match="dropout must be in"):
    LDUFlow(3, dropout=1.0)


def test_dropout_is_fresh_per_call_in_training_and_off_in_inference():
  keras.utils.set_random_seed(5)
  flow = LDUFlow(3, dropout=0.5, **SIZES)
  plain = LDUFlow(3, **SIZES)
  x = np.random.default_rng(5).normal(size=(64, 3)).astype("float32")
  flow.initialize(x)
  plain.initialize(x)
  plain.set_weights([w for w in flow.get_weights() if w.dtype.kind == "f"])
  layer = flow.blocks[0]
  z_train = [layer.bijector(training=True).inverse(tf.constant(x)).numpy() for _ in range(2)]
  assert not np.allclose(z_train[0], z_train[1])  # New masks each call.
  z_inference = layer.bijector(training=False).inverse(tf.constant(x)).numpy()
  np.testing.assert_allclose(z_inference, plain.blocks[0].bijector().inverse(
      tf.constant(x)).numpy(), rtol=1e-6, atol=1e-6)
  np.testing.assert_allclose(flow.log_prob(x), plain.log_prob(x), rtol=1e-5, atol=1e-5)
  # Under XLA, training with dropout still lowers the loss.
  flow.compile(keras.optimizers.Adam(1e-2), jit_compile=True)
  losses = flow.fit(x, batch_size=16, epochs=4, verbose=0).history["loss"]
  assert np.all(np.isfinite(losses)) and losses[-1] < losses[0]


def test_stacked_dropout_matches_the_unrolled_dropout_rate():
  """Inverted dropout keeps E[h]: the mean shift under dropout matches no dropout."""
  keras.utils.set_random_seed(6)
  layer = StackedLDUBlocks(3, num_blocks=1, num_d_scales=1, num_components=2,
                           hidden_units=(64,), dropout=0.3, dtype="float64")
  for weight in (*layer.lower_kernels, *layer.lower_biases):
    weight.assign(tf.zeros_like(weight))  # L = identity: z is linear in U's masks.
  x = tf.constant(np.random.default_rng(6).normal(size=(1, 3)))
  # 400 draws in one batch: dropout masks are independent per row.
  draws = layer.bijector(training=True).inverse(tf.tile(x, [400, 1])).numpy()
  exact = layer.bijector(training=False).inverse(x).numpy()[0]
  spread = draws.std(0) / np.sqrt(len(draws))
  # The upper shift's last output sees no input (a constant); the others vary.
  assert np.all(draws.std(0)[:2] > 1e-3) and draws.std(0)[2] < 1e-12
  np.testing.assert_array_less(np.abs(draws.mean(0) - exact), 5 * spread + 1e-12)
