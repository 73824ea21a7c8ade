"""MADE-MoG: a normalised autoregressive density, trained as MAF's base through `fit`."""
import keras
import numpy as np
import tensorflow as tf

from tfp_ldu.flows.maf import MAF
from tfp_ldu.layers.made_mog import MADEMoG


def random_mog(event_size, seed, hidden_units=(16,)):
  """A float64 MADE-MoG with spread-out, non-identical components (deterministic)."""
  keras.utils.set_random_seed(seed)  # The MADE's own initial weights, too.
  layer = MADEMoG(event_size, num_components=3, hidden_units=hidden_units,
                  activation="tanh", dtype="float64")
  rng = np.random.default_rng(seed)
  for weight in layer.trainable_weights:
    weight.assign(weight + 0.5 * rng.normal(size=weight.shape))
  bias = layer.made._biases[-1]
  bias.assign(bias + np.tile([0.0, 0.0, 0.0, -3.0, 0.0, 3.0, -0.5, 0.0, 0.3], event_size))
  return layer


def test_density_integrates_to_one_in_1d():
  layer = random_mog(1, seed=0)
  grid = np.linspace(-40.0, 40.0, 40001)[:, None]
  density = np.exp(layer.distribution().log_prob(grid).numpy())
  assert abs(np.trapezoid(density, grid[:, 0]) - 1.0) < 1e-3
  assert np.max(density) > 0.05  # Not flattened out of the grid.


def test_density_integrates_to_one_in_2d_and_sampling_matches_it():
  layer = random_mog(2, seed=1)
  axis = np.linspace(-15.0, 15.0, 601)
  u1, u2 = np.meshgrid(axis, axis, indexing="ij")
  grid = np.stack([u1.ravel(), u2.ravel()], axis=1)
  distribution = layer.distribution()
  log_prob = distribution.log_prob(grid).numpy()
  np.testing.assert_allclose(log_prob, layer(tf.constant(grid)).numpy(), rtol=1e-12)
  density = np.exp(log_prob).reshape(u1.shape)
  mass = np.trapezoid(np.trapezoid(density, axis, axis=1), axis)
  assert abs(mass - 1.0) < 1e-2
  # The autoregressive sampler draws from this density: compare the means.
  mean = [np.trapezoid(np.trapezoid(density * u, axis, axis=1), axis) for u in (u1, u2)]
  samples = distribution.sample(4000, seed=(1, 2)).numpy()
  assert samples.shape == (4000, 2) and samples.dtype == np.float64
  tolerance = 4 * samples.std(0) / np.sqrt(len(samples))
  assert np.all(np.abs(samples.mean(0) - mean) < tolerance), (samples.mean(0), mean)
  # The dependence is real: u_2's conditional moves with u_1.
  assert abs(np.corrcoef(samples.T)[0, 1]) > 0.05


def test_maf_mog_trains_every_mog_weight_samples_and_reloads(tmp_path):
  rng = np.random.default_rng(2)
  x = np.concatenate([rng.normal(-2.0, 0.5, size=(64, 3)),
                      rng.normal(2.0, 0.5, size=(64, 3))]).astype("float32")
  model = MAF(3, num_blocks=1, hidden_units=(16,), base="mog", num_components=4)
  weights = model.mog.trainable_weights
  assert len(weights) == 4 and all(w is not None for w in weights)
  with tf.GradientTape() as tape:
    loss = -tf.reduce_mean(model(x, training=True))
  for weight, gradient in zip(weights, tape.gradient(loss, weights)):
    assert gradient is not None and np.max(np.abs(gradient)) > 0, weight.path

  before = [w.numpy().copy() for w in weights]
  model.compile(keras.optimizers.Adam(1e-2), jit_compile=False)  # XLA: below.
  history = model.fit(x, batch_size=64, epochs=3, verbose=0)
  for weight, old in zip(weights, before):
    assert np.max(np.abs(weight.numpy() - old)) > 0, weight.path
  assert history.history["loss"][-1] < history.history["loss"][0]

  log_prob = model.log_prob(x[:8]).numpy()
  xla = tf.function(lambda v: model.transformed_distribution(False).log_prob(v), jit_compile=True)
  np.testing.assert_allclose(xla(tf.constant(x[:8])), log_prob, rtol=1e-5, atol=1e-5)
  samples = model.sample(16, seed=4).numpy()
  assert samples.shape == (16, 3) and np.all(np.isfinite(samples))

  path = str(tmp_path / "maf_mog.keras")
  model.save(path)
  again = keras.saving.load_model(path)
  assert again.get_config()["base"] == "mog"
  np.testing.assert_allclose(again.log_prob(x[:8]), log_prob, rtol=1e-5, atol=1e-5)


def test_maf_mog_in_float64():
  model = MAF(2, num_blocks=1, hidden_units=(8,), base="mog", num_components=2,
              dtype="float64")
  samples = model.sample(5, seed=1)
  assert samples.dtype == tf.float64 and samples.shape == (5, 2)
  log_prob = model.log_prob(samples).numpy()
  assert log_prob.dtype == np.float64 and np.all(np.isfinite(log_prob))


def test_conditional_maf_mog_base_reads_the_context():
  """The MADE-MoG base of a conditional MAF gets the context: its context weights get
  gradients through the model's loss, p(z | c) moves with c, and the base has one
  distribution per context (batch shape [B]) for sampling."""
  keras.utils.set_random_seed(3)
  rng = np.random.default_rng(3)
  x = rng.normal(size=(32, 2)).astype("float32")
  c = rng.normal(size=(32, 2)).astype("float32")
  model = MAF(2, num_blocks=1, hidden_units=(8,), base="mog", num_components=2,
              context_shape=(2,))
  model.initialize({"x": x, "context": c})
  context_weights = [w for w in model.mog.trainable_weights if "context" in w.path]
  assert len(context_weights) == 2  # The MADE's hidden and output projections.
  with tf.GradientTape() as tape:
    loss = -tf.reduce_mean(model({"x": x, "context": c}, training=True))
  for weight, gradient in zip(context_weights, tape.gradient(loss, context_weights)):
    assert gradient is not None and np.max(np.abs(gradient)) > 0, weight.path
  features = model.embed_context(c)
  z = rng.normal(size=(32, 2)).astype("float32")
  moved = model.mog(z, features) - model.mog(z, features[::-1])
  assert np.max(np.abs(moved)) > 1e-3  # Hidden projections are random from the start.
  base = model.base_distribution(features[:3])
  assert base.batch_shape == [3] and base.sample(4, seed=(1, 2)).shape == (4, 3, 2)
  assert model.sample(5, seed=1, context=c[:3]).shape == (5, 3, 2)
