"""LDUFlow and MAF as Keras models: density, sampling, training, saving."""
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfp_ldu.flows import MAF, LDUFlow
from tfp_ldu.flows.ldu_flow import CPU_XLA_MAX_EVENT_SIZE
from tfp_ldu.testing import randomise_d_scales


def random_ldu_flow(event_size, dtype="float64", seed=0, **kwargs):
  options = dict(num_blocks=2, num_d_scales=2, num_components=3, hidden_units=(8, 8))
  model = LDUFlow(event_size, dtype=dtype, **{**options, **kwargs})
  rng = np.random.default_rng(seed)
  randomise_d_scales(model, rng)
  model.actnorm.loc.assign(rng.normal(size=event_size))
  model.actnorm.log_scale.assign(0.3 * rng.normal(size=event_size))
  return model


def gaussian_log_density(x, mean, covariance):
  """log N(x; mean, covariance) for rows of x, `[N, D] -> [N]`."""
  diff = x - mean
  _, log_det = np.linalg.slogdet(covariance)
  mahalanobis = np.einsum("nd,de,ne->n", diff, np.linalg.inv(covariance), diff)
  return -0.5 * (mahalanobis + log_det + x.shape[-1] * np.log(2 * np.pi))


def banana(n, seed=0):
  rng = np.random.default_rng(seed)
  x0 = rng.normal(size=n)
  return np.stack([x0, 0.3 * rng.normal(size=n) + np.sin(2 * x0)], 1).astype(np.float32)


def test_log_prob_is_base_density_plus_autodiff_log_det():
  model = random_ldu_flow(3)
  x = tf.constant(np.random.default_rng(1).normal(size=(5, 3)))
  with tf.GradientTape() as tape:
    tape.watch(x)
    z = model.bijector.inverse(x)
  _, log_det = np.linalg.slogdet(tape.batch_jacobian(z, x).numpy())
  expected = gaussian_log_density(z.numpy(), np.zeros(3), np.eye(3)) + log_det
  np.testing.assert_allclose(model.log_prob(x), expected, rtol=0, atol=1e-9)
  np.testing.assert_allclose(model.distribution.log_prob(tf.identity(x)), expected, atol=1e-9)


def test_density_integrates_to_one_and_samples_agree_with_it():
  """Monte Carlo: moments of `sample` (numeric inverse) match those of exp(log_prob)."""
  model = random_ldu_flow(2, seed=3)
  samples = model.sample(20000, seed=7).numpy()
  assert np.all(np.isfinite(samples))
  lo, hi = samples.min(0) - 3, samples.max(0) + 3
  g0, g1 = np.linspace(lo[0], hi[0], 300), np.linspace(lo[1], hi[1], 300)
  grid = np.stack(np.meshgrid(g0, g1, indexing="ij"), -1).reshape(-1, 2)
  density = np.exp(model.log_prob(grid).numpy())
  cell = (g0[1] - g0[0]) * (g1[1] - g1[0])
  assert density.sum() * cell == pytest.approx(1.0, abs=2e-3)
  grid_mean = (density[:, None] * grid).sum(0) * cell
  grid_second = (density[:, None] * grid ** 2).sum(0) * cell
  standard_error = samples.std(0) / np.sqrt(len(samples))
  np.testing.assert_array_less(np.abs(samples.mean(0) - grid_mean), 4 * standard_error + 1e-3)
  np.testing.assert_allclose((samples ** 2).mean(0), grid_second, rtol=0.05)


def test_sample_with_diagnostics_reports_solver_work():
  model = random_ldu_flow(2)
  out = model.sample_with_diagnostics(64, seed=1)
  assert out["samples"].shape == (64, 2)
  assert int(out["num_unconverged"]) == 0 and int(out["max_iterations"]) > 1
  residual = np.abs(model.bijector.inverse(tf.identity(out["samples"])) - out["latents"])
  assert residual.max() < 1e-8


@pytest.mark.parametrize("model_class", [LDUFlow, MAF])
def test_xla_fit_steps_change_every_weight(model_class):
  """Two steps: LDU D-scales start as the identity (r = tanh(0) = 0, as in the
  paper), so their a, b, w get exactly zero gradient until r has moved once."""
  model = model_class(2, num_blocks=2, hidden_units=(8, 8))
  model.compile(optimizer=keras.optimizers.Adam(1e-2), jit_compile=True)
  before = [np.array(w.numpy(), copy=True) for w in model.trainable_weights]
  history = model.fit(banana(64), batch_size=32, epochs=1, verbose=0)
  assert np.isfinite(history.history["loss"][0])
  assert not model.needs_initialization
  unchanged = [w.path for w, b in zip(model.trainable_weights, before)
               if np.array_equal(w.numpy(), b)]
  assert not unchanged, f"weights that did not train: {unchanged}"


def test_actnorm_is_initialised_from_the_first_batch():
  model = LDUFlow(2, num_blocks=1, num_d_scales=1, hidden_units=(4,))
  data = banana(256) * 5 + 3
  model.initialize(data)
  latent = model.bijector.inverse(data).numpy()
  np.testing.assert_allclose(latent.mean(0), 0, atol=1e-4)
  np.testing.assert_allclose(latent.std(0), 1, atol=1e-3)


def test_training_beats_a_gaussian_on_curved_data():
  data, held_out = banana(4096), banana(2048, seed=1)
  gaussian_nll = -gaussian_log_density(held_out, data.mean(0), np.cov(data.T)).mean()
  model = LDUFlow(2, num_blocks=3, num_d_scales=2, num_components=4, hidden_units=(32, 32))
  model.compile(optimizer=keras.optimizers.Adam(3e-3), jit_compile=True)
  model.fit(data, batch_size=128, epochs=8, verbose=0)
  nll = -np.mean(model.log_prob(held_out))
  assert nll < gaussian_nll - 0.2, (nll, gaussian_nll)


def test_eager_graph_and_xla_log_prob_agree():
  model = random_ldu_flow(3)
  x = tf.constant(np.random.default_rng(2).normal(size=(7, 3)))
  eager = model.log_prob(x)
  np.testing.assert_allclose(tf.function(model.log_prob)(x), eager, atol=1e-10)
  np.testing.assert_allclose(tf.function(model.log_prob, jit_compile=True)(x), eager,
                             atol=1e-10)



@pytest.mark.cpu_xla_default
def test_compile_defaults_to_the_setting_measured_faster_on_cpus():
  # compile()'s jit_compile="auto" picks XLA up to CPU_XLA_MAX_EVENT_SIZE and a
  # plain graph above it on a machine without GPUs; an explicit choice and
  # run_eagerly are kept.
  if tf.config.list_logical_devices("GPU"):
    pytest.skip("the CPU default; with GPUs Keras's own choice applies")
  small = LDUFlow(CPU_XLA_MAX_EVENT_SIZE, num_blocks=1, num_d_scales=1, hidden_units=(4,))
  big = LDUFlow(CPU_XLA_MAX_EVENT_SIZE + 1, num_blocks=1, num_d_scales=1, hidden_units=(4,))
  small.compile(keras.optimizers.Adam())
  big.compile(keras.optimizers.Adam())
  assert small.prefers_xla_on_cpu() and small.jit_compile is True
  assert not big.prefers_xla_on_cpu() and big.jit_compile is False
  small.compile(keras.optimizers.Adam(), jit_compile=False)
  assert small.jit_compile is False
  small.compile(keras.optimizers.Adam(), run_eagerly=True)
  assert small.jit_compile is False and small.run_eagerly


def test_compile_warns_once_when_xla_is_slower_on_this_cpu(monkeypatch):
  # An explicit jit_compile=True is kept, with one warning per class and
  # process where the plain graph was measured faster on CPUs.
  from tfp_ldu.flows import training
  monkeypatch.setattr(training, "_WARNED_SLOW_XLA", set())
  big = LDUFlow(CPU_XLA_MAX_EVENT_SIZE + 1, num_blocks=1, num_d_scales=1, hidden_units=(4,))
  small = LDUFlow(CPU_XLA_MAX_EVENT_SIZE, num_blocks=1, num_d_scales=1, hidden_units=(4,))
  with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    small.compile(keras.optimizers.Adam(), jit_compile=True)
    big.compile(keras.optimizers.Adam())
    assert not caught and big.jit_compile is False  # Keras's CPU default: no warning.
    big.compile(keras.optimizers.Adam(), jit_compile=True)
    big.compile(keras.optimizers.Adam(), jit_compile=True)
  assert len(caught) == 1 and "plain graph" in str(caught[0].message)
  assert big.jit_compile is True
