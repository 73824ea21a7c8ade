"""Conditional flows p(x | c): the API every conditional family offers, and that the context is used.

Each conditional family (tiny sizes), in float32 and float64:

* (float32) trains on `{"x": x, "context": c}` arrays with a ragged last
  batch and on a `tf.data` pipeline of such dicts (batch dimension unknown
  when traced);
* `log_prob(x, context=c)` per row and with one broadcast context,
  `sample(n, context=c)` -> `[n, B, *event]` (one context: `[n, *event]`),
  every numeric inverse converged, each sample mapping back to its latent
  under its own context;
* `distribution(context=c)` is a TFP distribution of batch shape `[B]`;
* saves and reloads with the same conditional `log_prob`.

Then the statistics: on x | c ~ N(A c + b, diag(softplus(W c))^2) a trained
conditional flow is close to the true conditional (mean KL over held-out
contexts) and far better than the same flow with the context zeroed; a 2-D
conditional integrates to 1 on a grid; and its samples have the moments its
density has, context by context.
"""
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_ldu.flows import (IAF, MAF, NAF, NSF, FlowPlusPlus, Glow, LDUFlow,
                           MixtureLogisticCouplingFlow, PlanarFlow, RealNVP, ResidualFlow)
from tfp_ldu.flows import FlowModel
from tfp_ldu.flows.flow_model import conditional_flow_names
from tfp_ldu.layers import ActNorm

tfb, tfd = tfp.bijectors, tfp.distributions
D, C = 3, 2

BUILDERS = {
    "maf": lambda dtype, **kw: MAF(D, num_blocks=2, hidden_units=(8,), dtype=dtype, **kw),
    "nsf": lambda dtype, **kw: NSF(D, num_blocks=2, hidden_units=(8,), num_bins=4,
                                   dtype=dtype, **kw),
    "nsf_coupling": lambda dtype, **kw: NSF(D, num_blocks=1, hidden_units=(8,), num_bins=4,
                                            coupling=True, dtype=dtype, **kw),
    "realnvp": lambda dtype, **kw: RealNVP(D, num_blocks=2, hidden_units=(8,), dtype=dtype,
                                           **kw),
    "iaf": lambda dtype, **kw: IAF(D, num_blocks=2, hidden_units=(8,), dtype=dtype, **kw),
    "ldu": lambda dtype, **kw: LDUFlow(D, num_blocks=2, num_d_scales=1, num_components=2,
                                       hidden_units=(8,), dtype=dtype, **kw),
    "ldu_unrolled": lambda dtype, **kw: LDUFlow(
        D, num_blocks=2, num_d_scales=1, num_components=2, hidden_units=(8,),
        stacked_blocks=False, dtype=dtype, **kw),
    "naf": lambda dtype, **kw: NAF(D, num_blocks=2, num_components=2, hidden_units=(8,),
                                   dtype=dtype, **kw),
    "flowpp": lambda dtype, **kw: MixtureLogisticCouplingFlow(
        D, num_couplings=2, num_components=2, hidden_units=(8,), dtype=dtype, **kw),
    "residual": lambda dtype, **kw: ResidualFlow(D, num_blocks=2, hidden_units=(8,), seed=0,
                                                 dtype=dtype, **kw),
    "maf_mog": lambda dtype, **kw: MAF(D, num_blocks=1, hidden_units=(8,), base="mog",
                                       num_components=2, dtype=dtype, **kw),
    "planar": lambda dtype, **kw: PlanarFlow(D, num_layers=2, context_hidden_units=4,
                                             dtype=dtype, **kw),
}


def paired_data(n=70, seed=0, dtype="float32"):
  """x | c: a shift and a scale that depend on c (raw c far from standardised)."""
  rng = np.random.default_rng(seed)
  c = rng.normal(size=(n, C)) * [3.0, 0.5] + [10.0, -2.0]
  z = (c - [10.0, -2.0]) / [3.0, 0.5]
  x = z[:, :1] + np.exp(0.5 * z[:, 1:]) * rng.normal(size=(n, D))
  return x.astype(dtype), c.astype(dtype)


# Image-only conditional families, checked by their own tests below.
IMAGE_FAMILIES = {"Glow", "FlowPlusPlus"}


def test_every_conditional_family_is_registered():
  registered = {type(BUILDERS[name]("float32", context_shape=C)).__name__ for name in BUILDERS}
  assert set(conditional_flow_names()) <= registered | IMAGE_FAMILIES


# float64 checks the exactness of the numeric inverses; the closed-form flows train in
# float32 only (their float64 maps are checked in the bijector registry).
CASES = [(name, dtype) for name in sorted(BUILDERS) for dtype in ("float32", "float64")
         if dtype == "float32" or name in ("ldu", "residual")]


@pytest.mark.parametrize("name, dtype", CASES)
def test_conditional_flow_trains_samples_and_reloads(name, dtype, tmp_path):
  keras.utils.set_random_seed(0)
  model = BUILDERS[name](dtype, context_shape=(C,))
  x, c = paired_data(dtype=dtype)
  if dtype == "float32":  # Training paths in float32; float64 checks the maps' exactness.
    model.compile(keras.optimizers.Adam(1e-3))
    history = model.fit({"x": x, "context": c}, batch_size=32, epochs=1, verbose=0,
                        validation_data={"x": x[:10], "context": c[:10]})
    assert np.isfinite(history.history["loss"][0])
    assert np.isfinite(history.history["val_loss"][0])
    # The standardisation comes from every training context, not the first batch.
    np.testing.assert_allclose(model.context_standardization.mean, c.mean(axis=0), rtol=1e-5)
    dataset = tf.data.Dataset.from_tensor_slices({"x": x, "context": c}).batch(32)
    assert dataset.element_spec["x"].shape[0] is None
    assert np.isfinite(model.fit(dataset, epochs=1, verbose=0).history["loss"][0])
  else:
    model.initialize({"x": x, "context": c})

  log_prob = model.log_prob(x[:5], context=c[:5])
  assert log_prob.shape == (5,) and log_prob.dtype == dtype and np.all(np.isfinite(log_prob))
  # The context reaches the density: a flow that dropped it would fail here.
  assert np.min(np.abs(model.log_prob(x[:5], context=c[5:10]) - log_prob)) > 1e-5
  one = model.log_prob(x[:5], context=c[2])
  np.testing.assert_allclose(one[2], log_prob[2], rtol=1e-6)
  np.testing.assert_allclose(one, model.log_prob(x[:5], context=np.repeat(c[2:3], 5, 0)),
                             rtol=1e-6)

  result = model.sample_with_diagnostics(4, seed=3, context=c[:3])
  samples = result["samples"]
  assert samples.shape == (4, 3, D) and int(result["num_unconverged"]) == 0
  latents_again = model.flow_bijector(context=np.tile(c[:3], (4, 1))).inverse(
      tf.reshape(samples, [-1, D]))
  np.testing.assert_allclose(latents_again, tf.reshape(result["latents"], [-1, D]),
                             atol=1e-3 if dtype == "float32" else 1e-8)
  assert model.sample(4, seed=3, context=c[0]).shape == (4, D)
  np.testing.assert_array_equal(model.sample(4, seed=3, context=c[:3]), samples)  # Seeded.

  distribution = model.distribution(context=c[:3])
  assert distribution.batch_shape == [3]
  assert distribution.sample(2, seed=1).shape == (2, 3, D)
  np.testing.assert_allclose(distribution.log_prob(x[:3]), log_prob[:3], rtol=1e-5)

  path = os.path.join(tmp_path, f"{name}.keras")
  model.save(path)
  reloaded = keras.models.load_model(path)
  assert not reloaded.needs_initialization
  np.testing.assert_allclose(reloaded.log_prob(x[:5], context=c[:5]), log_prob,
                             rtol=1e-5 if dtype == "float32" else 1e-10)


@pytest.mark.parametrize("name", ["planar", "maf_mog"])
def test_the_context_moves_log_prob(name):
  """Families whose context weights start at zero: once they are not, c moves log p(x | c).

  A flow that built its context weights but did not read them fails here.
  """
  keras.utils.set_random_seed(0)
  model = BUILDERS[name]("float32", context_shape=(C,))
  x, c = paired_data(n=16)
  model.initialize({"x": x, "context": c})
  rng = np.random.default_rng(0)
  context_weights = [w for w in model.trainable_weights if "context" in w.path]
  assert context_weights
  for weight in context_weights:
    weight.assign(weight + 0.3 * rng.normal(size=weight.shape))
  moved = model.log_prob(x, context=c) - model.log_prob(x, context=c[::-1])
  assert np.min(np.abs(moved[:7])) > 1e-3, moved


def test_a_hand_built_tfp_chain_takes_the_context_as_conditional_input():
  """TFP's convention (TFP #1410/#1801): `bijector_kwargs` keyed by bijector name reach every
  conditional bijector of a `tfb.Chain` built by hand from a conditional MAF's layers."""
  keras.utils.set_random_seed(4)
  model = BUILDERS["maf"]("float32", context_shape=(C,))
  x, c = paired_data(n=16)
  model.initialize({"x": x, "context": c})
  features = model.embed_context(c)
  chain = tfb.Chain([layer.conditional_bijector() for layer in model.flow_layers])
  names = [layer.name for layer in model.flow_layers]
  assert [part.name for part in chain.bijectors] == names
  kwargs = {name: {"conditional_input": features} for name in names}
  distribution = tfd.TransformedDistribution(model.base_distribution(), chain)
  expected = model.log_prob(x, context=c)
  np.testing.assert_allclose(distribution.log_prob(x, bijector_kwargs=kwargs), expected,
                             rtol=1e-5, atol=1e-5)
  z = chain.inverse(x, **kwargs)
  np.testing.assert_allclose(chain.forward(tf.identity(z), **kwargs), x, atol=1e-4)
  # The context is used: other contexts give other densities, and none is refused.
  other = {name: {"conditional_input": features[::-1]} for name in names}
  assert np.min(np.abs(distribution.log_prob(x, bijector_kwargs=other)[:7]
                       - expected[:7])) > 1e-4
  with pytest.raises(ValueError, match="needs a context"):
    chain.inverse(tf.identity(x))


def test_a_context_net_is_trained_end_to_end_and_saved(tmp_path):
  keras.utils.set_random_seed(1)
  net = keras.Sequential([keras.layers.Dense(6, activation="tanh"), keras.layers.Dense(4)])
  model = BUILDERS["maf"]("float32", context_shape=(C,), context_net=net)
  assert model.context_size == 4
  x, c = paired_data()
  model.initialize({"x": x, "context": c})
  with tf.GradientTape() as tape:
    loss = -tf.reduce_mean(model({"x": x, "context": c}, training=True))
  gradients = tape.gradient(loss, net.trainable_weights)
  assert all(np.max(np.abs(g)) > 0 for g in gradients)
  path = os.path.join(tmp_path, "net.keras")
  model.save(path)
  np.testing.assert_allclose(keras.models.load_model(path).log_prob(x, context=c),
                             model.log_prob(x, context=c), rtol=1e-5)


class RowLimit(keras.layers.Layer):
  """An identity context net that fails if it sees more than `max_rows` rows."""

  max_rows = None

  def call(self, c):
    if self.max_rows is not None:
      tf.debugging.assert_less_equal(tf.shape(c)[0], self.max_rows,
                                     message="the context net saw more rows than contexts")
    return tf.identity(c)


def test_sampling_embeds_each_context_once():
  """`sample(n, context=c)` runs the context net on the B contexts, not on n * B copies
  (sbi's posterior sampling: thousands of samples for one observation, through a CNN)."""
  keras.utils.set_random_seed(0)
  net = RowLimit()
  model = BUILDERS["maf"]("float32", context_shape=(C,), context_net=net)
  x, c = paired_data()
  model.initialize({"x": x, "context": c})
  net.max_rows = 3
  samples = model.sample(50, seed=1, context=c[:3])
  assert samples.shape == (50, 3, D)
  net.max_rows = None  # The checks below embed every row on purpose.
  # Row j of every sample set has context j: the same as sampling each context alone.
  alone = model.sample_with_diagnostics(50, seed=1, context=c[:3])["latents"]
  again = model.flow_bijector(context=np.tile(c[:3], (50, 1))).inverse(
      tf.reshape(samples, [-1, D]))
  np.testing.assert_allclose(again, tf.reshape(alone, [-1, D]), atol=1e-4)
  net.max_rows = 3
  with pytest.raises(tf.errors.InvalidArgumentError, match="more rows than contexts"):
    model.log_prob(x[:5], context=c[:5])  # The limit itself works.


def test_context_mistakes_get_clear_errors():
  x, c = paired_data(n=8)
  conditional = BUILDERS["maf"]("float32", context_shape=(C,))
  unconditional = BUILDERS["maf"]("float32")
  with pytest.raises(ValueError, match=r"conditional \(context_shape=\(2,\)\): pass the context"):
    conditional.log_prob(x)
  with pytest.raises(ValueError, match="pass the context"):
    conditional.fit(x, epochs=1, verbose=0)
  with pytest.raises(ValueError, match="unconditional: it takes no context"):
    unconditional.log_prob(x, context=c)
  with pytest.raises(ValueError, match=r"context of shape \[N, 2\] or \[2\]; received .*\[8, 3\]"):
    conditional.log_prob(x, context=np.zeros((8, 3)))
  with pytest.raises(ValueError, match="8 rows of x but 5 contexts"):
    conditional.log_prob(x, context=c[:5])
  with pytest.raises(ValueError, match="8 rows of x but 5 contexts"):
    conditional.fit({"x": x, "context": c[:5]}, epochs=1, verbose=0)
  with pytest.raises(ValueError, match=r'expected inputs \{"x": x, "context": c\}'):
    conditional.fit({"x": x, "condition": c}, epochs=1, verbose=0)
  with pytest.raises(AttributeError, match=r"distribution\(context=c\)"):
    conditional.distribution.sample(2)
  with pytest.raises(ValueError, match="NaN/inf"):
    conditional.fit({"x": x, "context": np.where(c > 10, np.nan, c)}, epochs=1, verbose=0)
  with pytest.raises(ValueError, match="Unconditional is not conditional yet: none of its "
                                       "layers reads a context"):
    Unconditional(D, context_shape=(C,))


class Unconditional(FlowModel):
  """A flow whose layers read no context (every library family reads one now)."""

  def __init__(self, event_shape, **kwargs):
    super().__init__(event_shape, **kwargs)
    self.flow_layers = [ActNorm(self.event_size)]


# ---- the statistics ---------------------------------------------------------
A = np.array([[1.0, -0.5], [0.3, 0.8], [-0.7, 0.2]])
B = np.array([0.5, -1.0, 0.0])
W = np.array([[0.8, 0.0], [-0.4, 0.6], [0.0, -0.9]])


def gaussian_conditional(c):
  """Mean `[N, 3]` and std `[N, 3]` of x | c ~ N(A c + b, diag(softplus(W c))^2)."""
  return c @ A.T + B, np.log1p(np.exp(c @ W.T)) + 0.1


def gaussian_pairs(n, seed):
  rng = np.random.default_rng(seed)
  c = rng.normal(size=(n, 2))
  mean, std = gaussian_conditional(c)
  return (mean + std * rng.normal(size=mean.shape)).astype("float32"), c.astype("float32")


def fitted(model_name, x, c, zero_context=False):
  """A conditional flow after 4 epochs (128 steps) on `(x, c)` pairs."""
  keras.utils.set_random_seed(0)
  model = {"maf": lambda: MAF(3, num_blocks=3, hidden_units=(32, 32), context_shape=(2,)),
           "ldu": lambda: LDUFlow(3, num_blocks=3, num_d_scales=1, hidden_units=(32, 32),
                                  context_shape=(2,))}[model_name]()
  model.compile(keras.optimizers.Adam(3e-3))
  context = np.zeros_like(c) if zero_context else c
  model.fit({"x": x, "context": context}, batch_size=128, epochs=4, verbose=0)
  return model


@pytest.mark.parametrize("model_name", ["maf", "ldu"])
def test_learns_a_known_conditional_and_uses_its_context(model_name):
  """Mean KL(p(.|c) || q(.|c)) over held-out contexts is small, and far below the zeroed-context fit.

  A flow that ignored its context could at best fit the marginal of x, whose
  KL to the conditionals is large here (the means move by several stds).
  """
  x, c = gaussian_pairs(4000, seed=0)
  x_test, c_test = gaussian_pairs(2000, seed=1)
  mean, std = gaussian_conditional(c_test)
  log_p = np.sum(-0.5 * ((x_test - mean) / std) ** 2 - np.log(std)
                 - 0.5 * np.log(2 * np.pi), axis=1)
  kl = lambda model, context: float(np.mean(log_p - model.log_prob(x_test, context=context)))
  conditional = fitted(model_name, x, c)
  ignoring = fitted(model_name, x, c, zero_context=True)
  kl_conditional = kl(conditional, c_test)
  kl_ignoring = kl(ignoring, np.zeros_like(c_test))
  assert kl_conditional < 0.15, kl_conditional
  assert kl_ignoring > kl_conditional + 0.5, (kl_ignoring, kl_conditional)


def test_a_2d_conditional_integrates_to_one_and_its_samples_match_its_density():
  """On a grid, each p(.|c) sums to 1 and has the mean and covariance its samples have."""
  rng = np.random.default_rng(3)
  c = rng.normal(size=(3000, 1)).astype("float32")
  x = np.concatenate([c + 0.5 * rng.normal(size=(3000, 1)),
                      np.abs(c) * rng.normal(size=(3000, 1)) + 0.3], 1).astype("float32")
  keras.utils.set_random_seed(0)
  model = NSF(2, num_blocks=2, hidden_units=(16,), context_shape=(1,))
  model.compile(keras.optimizers.Adam(3e-3))
  model.fit({"x": x, "context": c}, batch_size=128, epochs=4, verbose=0)
  grid = np.linspace(-7, 7, 281).astype("float32")
  cell = (grid[1] - grid[0]) ** 2
  points = np.stack(np.meshgrid(grid, grid, indexing="ij"), -1).reshape(-1, 2)
  for context in (-1.0, 0.5):
    density = np.exp(model.log_prob(points, context=np.float32([context])).numpy())
    assert np.sum(density) * cell == pytest.approx(1.0, abs=0.01)
    grid_mean = (density[:, None] * points).sum(0) * cell
    samples = model.sample(20000, seed=4, context=np.float32([context])).numpy()
    np.testing.assert_allclose(samples.mean(0), grid_mean, atol=0.05)
    grid_second = (density[:, None, None] * points[:, :, None] * points[:, None, :]).sum(0)
    np.testing.assert_allclose(np.cov(samples.T, bias=True),
                               grid_second * cell - np.outer(grid_mean, grid_mean), atol=0.08)


@pytest.mark.parametrize("name", ["maf", "ldu"])
def test_conditional_fit_under_a_strategy_with_xla_and_mixed_bfloat16(name):
  """`MirroredStrategy` (one device), `jit_compile=True` and bfloat16 conditioners, with a context."""
  strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
  x, c = paired_data(n=96)
  with strategy.scope():
    keras.utils.set_random_seed(2)
    model = BUILDERS[name]("mixed_bfloat16", context_shape=(C,))
    model.compile(keras.optimizers.Adam(1e-2), jit_compile=True)
  before = [v.numpy().copy() for v in model.trainable_variables]
  history = model.fit({"x": x, "context": c}, batch_size=32, epochs=2, verbose=0)
  assert np.all(np.isfinite(history.history["loss"]))
  assert all(not np.array_equal(b, v.numpy())
             for b, v in zip(before, model.trainable_variables))
  log_prob = model.log_prob(x[:4], context=c[:4])
  assert log_prob.dtype == "float32" and np.all(np.isfinite(log_prob))


def class_images(n, seed):
  """4x4 images whose bright half depends on a one-hot class (upper, lower, left, right)."""
  rng = np.random.default_rng(seed)
  labels = rng.integers(0, 4, n)
  masks = np.zeros((4, 4, 4, 1))
  masks[0, :2], masks[1, 2:], masks[2, :, :2], masks[3, :, 2:] = 1, 1, 1, 1
  images = 2.0 * masks[labels] + 0.3 * rng.normal(size=(n, 4, 4, 1))
  return images.astype("float32"), np.eye(4, dtype="float32")[labels]


def test_class_conditional_glow_uses_its_class_and_reloads(tmp_path):
  """Glow's conditional couplings and top prior: far better than the class-zeroed fit."""
  x, c = class_images(1024, seed=0)
  x_test, c_test = class_images(512, seed=1)
  results = {}
  for zeroed in (False, True):
    keras.utils.set_random_seed(0)
    model = Glow((4, 4, 1), levels=1, steps_per_level=2, hidden_channels=16, seed=0,
                 context_shape=(4,))
    model.compile(keras.optimizers.Adam(3e-3))
    context = np.zeros_like(c) if zeroed else c
    model.fit({"x": x, "context": context}, batch_size=64, epochs=3, verbose=0)
    test_context = np.zeros_like(c_test) if zeroed else c_test
    results[zeroed] = float(np.mean(model.log_prob(x_test, context=test_context)))
    if not zeroed:
      assert model.sample(3, seed=1, context=c_test[:5]).shape == (3, 5, 4, 4, 1)
      path = os.path.join(tmp_path, "glow.keras")
      model.save(path)
      np.testing.assert_allclose(keras.models.load_model(path).log_prob(x_test[:8],
                                                                        context=c_test[:8]),
                                 model.log_prob(x_test[:8], context=c_test[:8]), rtol=1e-5)
  assert results[False] > results[True] + 3.0, results


def test_conditional_flow_plus_plus_on_images_trains_samples_and_reloads(tmp_path):
  """Flow++'s gated networks read the class, and so does its dequantiser q(u | x, c)."""
  x, c = class_images(64, seed=2)
  levels = np.clip(np.round(x + 1), 0, 4)  # Five pixel levels.
  keras.utils.set_random_seed(0)
  # One coupling (every coupling's gated network reads the context the same way,
  # whatever its mask and stage) and a one-coupling dequantiser: tracing the
  # training step is most of the test, and each coupling adds to it.
  model = FlowPlusPlus((4, 4, 1), preset="small", num_levels=5, filters=8,
                       conditioner_blocks=1, num_components=2, num_heads=1,
                       num_couplings=(1, 0, 0), seed=0, context_shape=(4,),
                       dequantizer_options=dict(num_couplings=1))
  model.compile(keras.optimizers.Adam(1e-3))
  history = model.fit({"x": levels, "context": c}, batch_size=16, epochs=1, verbose=0)
  assert np.isfinite(history.history["loss"][0])
  # q(u | x, c): the context channels of the dequantiser's context network get a
  # gradient through the bound, and log q moves with c.
  dequantizer = model.dequantizer
  assert dequantizer.context_size == model.context_size == 4
  kernel = dequantizer.context_network.proj_in.kernel  # [3, 3, 1 + 4, F]
  with tf.GradientTape() as tape:
    loss = -tf.reduce_mean(model({"x": levels[:16], "context": c[:16]}, training=True))
  assert np.min(np.max(np.abs(tape.gradient(loss, kernel)[:, :, 1:]), axis=(0, 1, 3))) > 0
  log_q = {}
  for name, context in (("c", c[:16]), ("other", c[::-1][:16])):
    dequantizer.seed_generator.state.assign([0, 0])  # The same noise for both.
    log_q[name] = model.dequantize(levels[:16], context=context)[1].numpy()
  assert np.max(np.abs(log_q["c"] - log_q["other"])) > 1e-3
  bound = model.importance_weighted_log_likelihood(levels[:4], 2, context=c[:4])
  assert bound.shape == (4,) and np.all(np.isfinite(bound))
  y = (levels[:6] + 0.5) / 5
  log_prob = model.log_prob(y, context=c[:6])
  assert np.all(np.isfinite(log_prob))
  for coupling in [layer for layer in model.flow_layers
                   if getattr(layer, "context_size", 0)]:
    for weight in coupling.trainable_weights:  # Away from the zero-initialised output.
      weight.assign(weight + 0.05)
  assert np.max(np.abs(model.log_prob(y, context=c[:6])
                       - model.log_prob(y, context=c[::-1][:6]))) > 1e-3
  assert model.sample(2, seed=1, context=c[:3]).shape == (2, 3, 4, 4, 1)
  path = os.path.join(tmp_path, "flowpp.keras")
  model.save(path)
  np.testing.assert_allclose(keras.models.load_model(path).log_prob(y, context=c[:6]),
                             model.log_prob(y, context=c[:6]), rtol=1e-5)
