"""MAF's batch normalisation: documented densities, moving averages under XLA `fit`."""
import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_ldu.flows.maf import MAF
from tfp_ldu.layers.batch_normalization import BatchNormalization

tfd = tfp.distributions
EPS = 1e-5


def random_layer(rng, d=3, momentum=0.9):
  layer = BatchNormalization(d, momentum=momentum, dtype="float64")
  layer.log_gamma.assign(0.4 * rng.normal(size=d))
  layer.beta.assign(rng.normal(size=d))
  layer.moving_mean.assign(rng.normal(size=d))
  layer.moving_variance.assign(rng.uniform(0.5, 2.0, size=d))
  return layer


def numpy_log_density(x, mean, variance, log_gamma, beta):
  """log N(z; 0, I) + sum_d [log_gamma_d - 1/2 log(v_d + eps)], z the documented map."""
  z = (x - mean) / np.sqrt(variance + EPS) * np.exp(log_gamma) + beta
  log_det = np.sum(log_gamma - 0.5 * np.log(variance + EPS))
  return -0.5 * np.sum(z**2, -1) - 0.5 * x.shape[-1] * np.log(2 * np.pi) + log_det, z


def test_training_and_evaluation_densities_match_numpy():
  rng = np.random.default_rng(0)
  layer = random_layer(rng)
  x = 3.0 * rng.normal(size=(64, 3)) + 2.0
  weights = {name: getattr(layer, name).numpy()
             for name in ("log_gamma", "beta", "moving_mean", "moving_variance")}
  base = tfd.MultivariateNormalDiag(tf.zeros(3, tf.float64))

  # Evaluation: the moving statistics; an exact affine bijection; nothing updates.
  expected, z = numpy_log_density(x, weights["moving_mean"], weights["moving_variance"],
                                  weights["log_gamma"], weights["beta"])
  bijector = layer.bijector(training=False)
  np.testing.assert_allclose(tfd.TransformedDistribution(base, bijector).log_prob(x),
                             expected, rtol=1e-12, atol=1e-12)
  np.testing.assert_allclose(bijector.inverse(x), z, rtol=1e-12, atol=1e-12)
  np.testing.assert_allclose(bijector.forward(tf.identity(bijector.inverse(x))), x,
                             atol=1e-12)
  np.testing.assert_array_equal(layer.moving_mean.numpy(), weights["moving_mean"])

  # Training: the batch's (biased) moments, and one moving-average update.
  expected, _ = numpy_log_density(x, x.mean(0), x.var(0), weights["log_gamma"],
                                  weights["beta"])
  log_prob = tfd.TransformedDistribution(base, layer.bijector(training=True)).log_prob(x)
  np.testing.assert_allclose(log_prob, expected, rtol=1e-12, atol=1e-12)
  np.testing.assert_allclose(layer.moving_mean.numpy(),
                             0.9 * weights["moving_mean"] + 0.1 * x.mean(0), rtol=1e-12)
  np.testing.assert_allclose(layer.moving_variance.numpy(),
                             0.9 * weights["moving_variance"] + 0.1 * x.var(0), rtol=1e-12)
  # The two modes differ (the check can fail), and training has no sampling direction.
  evaluation = tfd.TransformedDistribution(base, layer.bijector(training=False)).log_prob(x)
  assert np.max(np.abs(log_prob - evaluation)) > 0.1
  with pytest.raises(NotImplementedError, match="training=False"):
    layer.bijector(training=True).forward(tf.constant(x))


def test_moving_averages_update_inside_xla_fit():
  rng = np.random.default_rng(1)
  x = (rng.normal(size=(64, 3)) @ np.array([[1.0, 0.5, 0.0], [0.0, 2.0, 0.3],
                                            [0.0, 0.0, 0.7]]) + 3.0).astype("float32")
  model = MAF(3, num_blocks=2, hidden_units=(8,), batch_norm=True)
  first, second = model.batch_norms
  assert [layer.name for layer in model.flow_layers] == [
      "flatten_event", "maf_0", "batch_norm_0", "maf_1", "batch_norm_1", "actnorm"]
  assert {w.name for w in first.non_trainable_weights} == {"moving_mean", "moving_variance",
                                                           "initialized"}
  h = model.blocks[0].bijector().inverse(x).numpy().astype(np.float64)  # BN 0's input.
  model.compile(keras.optimizers.Adam(1e-3), jit_compile=True)
  assert model.jit_compile is True
  # `fit` first starts the moving statistics at the first batch's moments
  # (data-dependent initialisation), then runs one XLA step on that same batch:
  # rho * m + (1 - rho) * m = m, so the statistics are exactly the batch's.
  model.fit(x, batch_size=64, epochs=1, shuffle=False, verbose=0)  # One XLA step.
  rho = first.momentum
  assert rho == 0.95 and not first.needs_initialization
  np.testing.assert_allclose(first.moving_mean.numpy(), h.mean(0), rtol=1e-4)
  np.testing.assert_allclose(first.moving_variance.numpy(), h.var(0), rtol=1e-4)
  assert np.all(second.moving_mean.numpy() != 0.0)
  assert np.all(second.moving_variance.numpy() != 1.0)
  # The next step averages the statistics under the updated weights.
  moving_mean = first.moving_mean.numpy().astype(np.float64)
  h = model.blocks[0].bijector().inverse(x).numpy().astype(np.float64)
  model.fit(x, batch_size=64, epochs=1, shuffle=False, verbose=0)
  np.testing.assert_allclose(first.moving_mean.numpy(),
                             rho * moving_mean + (1 - rho) * h.mean(0), rtol=1e-4)


def test_maf_with_batch_norm_trains_samples_and_reloads(tmp_path):
  rng = np.random.default_rng(2)
  u = rng.normal(size=(512, 2))
  x = np.stack([u[:, 0], 0.5 * u[:, 0] ** 2 + 0.3 * u[:, 1]], axis=1).astype("float32")
  model = MAF(2, num_blocks=2, hidden_units=(16,), batch_norm=True)
  assert MAF(2, num_blocks=1, hidden_units=(4,)).get_config()["batch_norm"] is False
  model.compile(keras.optimizers.Adam(1e-2))
  before = model.evaluate(x, batch_size=256, verbose=0)
  loss = model.fit(x, batch_size=256, epochs=15, verbose=0).history["loss"]
  after = model.evaluate(x, batch_size=256, verbose=0)  # The moving statistics.
  # 0.49 nats in 15 epochs with soft-clipped log-scales (0.5 without).
  assert loss[-1] < loss[0] - 0.4 and after < before, (before, after, loss)
  log_prob = model.log_prob(x[:16]).numpy()
  assert np.all(np.isfinite(log_prob))
  samples = model.sample(32, seed=3).numpy()
  assert samples.shape == (32, 2) and np.all(np.isfinite(samples))

  path = str(tmp_path / "maf_bn.keras")
  model.save(path)
  again = keras.saving.load_model(path)
  assert again.get_config()["batch_norm"] is True
  np.testing.assert_allclose(again.batch_norms[1].moving_variance.numpy(),
                             model.batch_norms[1].moving_variance.numpy())
  np.testing.assert_allclose(again.log_prob(x[:16]), log_prob, rtol=1e-5, atol=1e-5)

  # The MAF authors' alternative: statistics of the whole training set.
  model.set_batch_norm_statistics(x)
  h = model.blocks[0].bijector().inverse(x).numpy()
  np.testing.assert_allclose(model.batch_norms[0].moving_mean.numpy(), h.mean(0),
                             rtol=1e-4, atol=1e-5)
  # With the training set's statistics the evaluation NLL is the trained one.
  assert model.evaluate(x, batch_size=256, verbose=0) < min(after, loss[0] - 0.5)


def test_initialisation_makes_evaluation_agree_with_training_on_the_first_batch():
  """Without data-dependent initialisation the actnorm after the batch norms was fitted
  to evaluation-mode outputs of the default (0, 1) statistics: training mode then
  started hundreds of nats lower on 64-D digits."""
  rng = np.random.default_rng(4)
  x = (5.0 + 3.0 * rng.normal(size=(128, 6))).astype("float32")
  model = MAF(6, num_blocks=2, hidden_units=(16,), batch_norm=True)
  model.initialize(x)
  np.testing.assert_allclose(model(x, training=True).numpy(),
                             model(x, training=False).numpy(), rtol=1e-4, atol=1e-4)
