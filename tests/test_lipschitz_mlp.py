"""LipschitzMLP: Lip(g) < 1 before and after training, spectral estimates, config."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from tfp_ldu.nets import LipschitzMLP, lipswish


def jacobian_spectral_norms(fn, x):
  """Largest singular value of d fn / dx at each row of `x` `[N, D]`."""
  x = tf.convert_to_tensor(x)
  with tf.GradientTape() as tape:
    tape.watch(x)
    y = fn(x)
  return np.linalg.norm(tape.batch_jacobian(y, x).numpy(), ord=2, axis=(1, 2))


def exact_sigmas(net):
  return np.array([np.linalg.svd(k.numpy(), compute_uv=False)[0] for k in net._kernels])


def test_lipswish_is_one_lipschitz_and_tight():
  z = np.linspace(-20.0, 20.0, 40001)  # beta * x, covering the slope's extremes
  for beta in [0.1, 1.0, 10.0]:
    x = tf.constant(z / beta)
    with tf.GradientTape() as tape:
      tape.watch(x)
      y = lipswish(x, tf.constant(beta, tf.float64))
    slope = tape.gradient(y, x).numpy()
    assert np.max(np.abs(slope)) < 1.0
    assert np.max(slope) > 0.999  # the 1/1.1 factor is nearly tight


def test_lipschitz_bound_holds_after_training_steps():
  """Fitting y = 4x pushes every layer to its bound; the Jacobian norm stays < 1."""
  event_dim = 3
  net = LipschitzMLP(event_dim, hidden_units=(32, 32), coeff=0.97, n_power_iterations=1)
  rng = np.random.default_rng(0)
  x = rng.normal(size=(512, event_dim)).astype("float32")
  points = rng.normal(scale=2.0, size=(256, event_dim)).astype("float32")
  model = keras.Sequential([keras.Input((event_dim,)), net])
  assert np.max(jacobian_spectral_norms(lambda v: net(v, training=False), points)) < 1.0
  vectors_before = [v.numpy().copy() for v in net._power_vectors]

  model.compile(optimizer=keras.optimizers.Adam(3e-2), loss="mse", jit_compile=True)
  model.fit(x, 4.0 * x, batch_size=64, epochs=3, verbose=0)

  # The power-iteration state was refreshed inside the compiled train step.
  assert all(not np.allclose(b, v.numpy()) for b, v in zip(vectors_before, net._power_vectors))
  sigmas = exact_sigmas(net)
  assert np.all(sigmas > net.coeff)  # the weights press against the bound ...
  assert np.prod(sigmas) > 1.0  # ... so unnormalised they would not bound Lip(g) by 1,
  for training in (False, True):  # but the normalised map stays a contraction.
    assert np.max(jacobian_spectral_norms(lambda v: net(v, training=training), points)) < 1.0


def test_spectral_estimates_match_svd():
  net = LipschitzMLP(4, hidden_units=(16, 8), dtype="float64")
  net.build((None, 4))
  for kernel in net._kernels:
    kernel.assign(np.random.default_rng(1).normal(size=kernel.shape) * 2.0)
  evaluation = np.array([float(s) for s, _, _ in net.spectral_norms(training=False)])
  np.testing.assert_allclose(evaluation, exact_sigmas(net), rtol=1e-8)
  # Evaluation leaves the state alone; training updates it and converges too.
  for _ in range(20):
    training = np.array([float(s) for s, _, _ in net.spectral_norms(training=True)])
  np.testing.assert_allclose(training, exact_sigmas(net), rtol=1e-6)


def test_normalised_layers_are_contractions():
  """Each W~ = W / max(1, sigma / coeff) has spectral norm <= coeff."""
  net = LipschitzMLP(2, hidden_units=(8,), coeff=0.8, dtype="float64")
  net.build((None, 2))
  net._kernels[0].assign(5.0 * net._kernels[0].numpy())
  estimates = net.spectral_norms(training=False)
  for kernel, (sigma, _, _) in zip(net._kernels, estimates):
    normalised = kernel.numpy() / max(1.0, float(sigma) / net.coeff)
    assert np.linalg.norm(normalised, ord=2) <= net.coeff * (1 + 1e-9)


def test_config_round_trip_and_errors():
  net = LipschitzMLP(3, hidden_units=(5, 7), coeff=0.9, n_power_iterations=2)
  clone = LipschitzMLP.from_config(net.get_config())
  assert (clone.event_dim, clone.hidden_units, clone.coeff) == (3, (5, 7), 0.9)
  clone.build((None, 3))
  assert [tuple(k.shape) for k in clone._kernels] == [(3, 5), (5, 7), (7, 3)]
  assert len(clone.non_trainable_weights) == 3
  with pytest.raises(ValueError, match=r"\[\.\.\., 3\].*\[None, 4\]"):
    LipschitzMLP(3).build((None, 4))
  with pytest.raises(ValueError, match="coeff"):
    LipschitzMLP(3, coeff=1.0)
