"""Glow / RealNVP pieces beyond the registry checks (tests/cases/glow_pieces.py):
the squeeze's channel order, exact log-determinants, actnorm initialisation, and a
tiny multi-scale Glow that trains under XLA, samples and saves."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from tfp_ldu.bijectors.squeeze import Squeeze
from tfp_ldu.flows.glow import Glow
from tfp_ldu.layers.first_channels_layer import FirstChannelsLayer
from tfp_ldu.layers.image_actnorm import ImageActNorm
from tfp_ldu.layers.invertible_conv1x1 import InvertibleConv1x1
from tfp_ldu.layers.split_prior import SplitPrior
from tfp_ldu.layers.squeeze_layer import SqueezeLayer


def correlated_images(n, shape, seed=0):
  """`[n, H, W, C]` float32 images with strong neighbour and channel correlations."""
  rng = np.random.default_rng(seed)
  height, width, channels = shape
  coarse = rng.normal(size=(n, height // 2, width // 2, 1))
  smooth = np.repeat(np.repeat(coarse, 2, axis=1), 2, axis=2)
  return (smooth * np.linspace(1.0, 2.0, channels)
          + 0.1 * rng.normal(size=(n, *shape))).astype("float32")


# ---- squeeze -----------------------------------------------------------------
def test_squeeze_uses_glows_channel_order_and_inverts():
  x = np.arange(2 * 4 * 6 * 3, dtype=np.float64).reshape(2, 4, 6, 3)
  squeeze = Squeeze((4, 6, 3))
  z = squeeze.inverse(tf.constant(x)).numpy()
  assert z.shape == (2, 2, 3, 12)
  for i in range(2):
    for j in range(3):
      for c in range(3):
        for dy in range(2):
          for dx in range(2):
            np.testing.assert_array_equal(z[:, i, j, 4 * c + 2 * dy + dx],
                                          x[:, 2 * i + dy, 2 * j + dx, c])
  np.testing.assert_array_equal(squeeze.forward(tf.identity(tf.constant(z))), x)
  np.testing.assert_array_equal(squeeze.inverse_log_det_jacobian(x, event_ndims=3),
                                np.zeros(2))
  assert squeeze.forward_event_shape((2, 3, 12)) == (4, 6, 3)
  assert squeeze.inverse_event_shape((4, 6, 3)) == (2, 3, 12)


def test_squeeze_takes_any_batch_dims_known_or_not():
  squeeze = Squeeze((2, 2, 1))
  x = tf.reshape(tf.range(2 * 3 * 4, dtype=tf.float32), [2, 3, 2, 2, 1])
  assert squeeze.inverse(x).shape == (2, 3, 1, 1, 4)
  unknown = tf.function(lambda x: squeeze.forward(squeeze.inverse(tf.identity(x))),
                        input_signature=[tf.TensorSpec([None, None, 2, 2, 1])])
  np.testing.assert_array_equal(unknown(x), x)
  np.testing.assert_array_equal(squeeze.inverse(x[0, 0]), [[[0., 1., 2., 3.]]])


@pytest.mark.parametrize("shape", [(3, 4, 1), (4, 5, 2)])
def test_squeeze_rejects_odd_sizes(shape):
  with pytest.raises(ValueError, match="even height and width"):
    Squeeze(shape)
  with pytest.raises(ValueError, match="even height and width"):
    SqueezeLayer(shape)


def test_squeeze_rejects_inputs_of_another_shape():
  with pytest.raises(ValueError, match=r"expected input of shape \[\.\.\., 4, 4, 1\]"):
    Squeeze((4, 4, 1)).inverse(tf.zeros([2, 4, 4, 2]))


# ---- 1x1 convolution ------------------------------------------------------------
def test_conv1x1_log_det_is_pixels_times_log_abs_det_of_the_kernel():
  layer = InvertibleConv1x1(4, seed=3, dtype="float64")
  rng = np.random.default_rng(0)
  for weight in layer.trainable_weights:
    weight.assign(weight.numpy() + 0.3 * rng.normal(size=weight.shape))
  # The kernel from the weights, in numpy.
  lower = np.tril(layer.lower.numpy(), -1) + np.eye(4)
  upper = (np.triu(layer.upper.numpy(), 1)
           + np.diag(layer.sign.numpy() * np.exp(layer.log_s.numpy())))
  kernel = layer.permutation.numpy() @ lower @ upper
  bijector = layer.bijector()
  np.testing.assert_allclose(bijector.kernel(), kernel, rtol=1e-12, atol=1e-12)
  x = rng.normal(size=(3, 2, 5, 4))
  np.testing.assert_allclose(bijector.inverse(x), np.einsum("nhwd,cd->nhwc", x, kernel),
                             rtol=1e-12, atol=1e-12)
  _, log_abs_det = np.linalg.slogdet(kernel)
  np.testing.assert_allclose(bijector.inverse_log_det_jacobian(x, event_ndims=3),
                             np.full(3, 2 * 5 * log_abs_det), rtol=1e-12)
  np.testing.assert_allclose(bijector.forward(tf.identity(bijector.inverse(x))), x,
                             atol=1e-12)


def test_conv1x1_starts_as_a_random_rotation():
  layer = InvertibleConv1x1(6, seed=1, dtype="float64")
  kernel = layer.bijector().kernel().numpy()
  np.testing.assert_allclose(kernel @ kernel.T, np.eye(6), atol=1e-12)
  assert np.max(np.abs(kernel - np.eye(6))) > 0.1
  np.testing.assert_allclose(layer.log_s.numpy().sum(), 0.0, atol=1e-12)
  # Seeded: the same seed gives the same rotation, another seed another one.
  np.testing.assert_array_equal(InvertibleConv1x1(6, seed=1).bijector().kernel(),
                                InvertibleConv1x1(6, seed=1).bijector().kernel())
  assert not np.allclose(InvertibleConv1x1(6, seed=2).bijector().kernel(),
                         layer.bijector().kernel().numpy().astype("float32"))


# ---- actnorm ---------------------------------------------------------------------
@pytest.mark.parametrize("per, axes", [("channel", (0, 1, 2)), ("position", (0,))])
def test_image_actnorm_initialises_to_zero_mean_unit_std(per, axes):
  rng = np.random.default_rng(1)
  x = rng.normal(loc=[3.0, -1.0, 0.5], scale=[0.2, 4.0, 1.0], size=(64, 4, 2, 3))
  layer = ImageActNorm((4, 2, 3), per=per, dtype="float64")
  assert layer.needs_initialization
  layer.initialize(x)
  assert not layer.needs_initialization
  z = layer(x).numpy()
  np.testing.assert_allclose(z.mean(axis=axes), 0.0, atol=1e-9)
  np.testing.assert_allclose(z.std(axis=axes), 1.0, atol=1e-5)
  assert layer.loc.shape == ((3,) if per == "channel" else (4, 2, 3))
  ildj = layer.bijector().inverse_log_det_jacobian(x, event_ndims=3).numpy()
  per_image = -np.sum(np.broadcast_to(layer.log_scale.numpy(), (4, 2, 3)))
  np.testing.assert_allclose(ildj, np.full(64, per_image), rtol=1e-12)
  if per == "channel":
    np.testing.assert_allclose(per_image, -8 * layer.log_scale.numpy().sum(), rtol=1e-12)


# ---- Glow ------------------------------------------------------------------------
def test_glow_rejects_bad_arguments():
  with pytest.raises(ValueError, match=r"divisible by 2\^2 = 4"):
    Glow((6, 8, 1), levels=2)
  with pytest.raises(ValueError, match="coupling"):
    Glow((4, 4, 1), levels=1, coupling="spline")
  with pytest.raises(ValueError, match="levels and steps_per_level"):
    Glow((4, 4, 1), levels=0)


def test_glow_initialize_gives_every_actnorm_its_own_input():
  glow = Glow((4, 4, 2), levels=2, steps_per_level=1, hidden_channels=4, seed=0)
  x = correlated_images(32, (4, 4, 2))
  glow.initialize(x)
  assert not glow.needs_initialization
  # The level-1 actnorm sees the kept half of level 0, squeezed again.
  h = tf.constant(x)
  for layer in glow.flow_layers:
    if isinstance(layer, FirstChannelsLayer):
      break
    h = layer(h)
  kept = h[..., :layer.num_channels]
  squeeze, actnorm = layer.inner_layers[:2]
  assert isinstance(actnorm, ImageActNorm)
  z = actnorm(squeeze(kept)).numpy()
  np.testing.assert_allclose(z.mean(axis=(0, 1, 2)), 0.0, atol=1e-5)
  np.testing.assert_allclose(z.std(axis=(0, 1, 2)), 1.0, atol=1e-3)


def test_tiny_glow_trains_under_xla_and_samples():
  shape = (4, 4, 2)
  glow = Glow(shape, levels=2, steps_per_level=1, hidden_channels=8, seed=0)
  x = correlated_images(64, shape)
  glow.compile(keras.optimizers.Adam(3e-3), jit_compile=True)
  history = glow.fit(x, batch_size=16, epochs=2, shuffle=False, verbose=0)
  losses = history.history["loss"]
  assert np.all(np.isfinite(losses)) and losses[-1] < losses[0]
  assert not glow.needs_initialization
  check_sampling(glow, x)


def test_additive_glow_samples_round_trip():
  glow = Glow((4, 4, 2), levels=2, steps_per_level=1, hidden_channels=4,
              coupling="additive", seed=3)
  x = correlated_images(16, (4, 4, 2))
  glow.initialize(x)
  rng = np.random.default_rng(5)
  for weight in glow.trainable_weights:
    weight.assign(weight.numpy() + 0.1 * rng.normal(size=weight.shape))
  check_sampling(glow, x)


def check_sampling(glow, x):
  """Samples invert to their latents; per-level latent parts have Glow's shapes."""
  result = glow.sample_with_diagnostics(5, seed=3)
  samples, latents = result["samples"], result["latents"]
  assert samples.shape == (5, 4, 4, 2) and np.all(np.isfinite(samples))
  np.testing.assert_allclose(glow.bijector.inverse(tf.identity(samples)), latents,
                             atol=1e-4)
  np.testing.assert_allclose(glow.log_prob(x[:3]), glow(x[:3]), rtol=1e-5)
  # Per-level factor-out: level 0 factors out 4 of the 8 squeezed channels at 2x2,
  # level 1 keeps all 16 channels at 1x1; 16 + 16 = 32 = 4 * 4 * 2.
  parts = glow.split_latents(latents)
  assert [tuple(p.shape) for p in parts] == [(5, 2, 2, 4), (5, 1, 1, 16)]
  assert glow.latent_part_shapes() == [(2, 2, 4), (1, 1, 16)]
  np.testing.assert_array_equal(glow.merge_latents(parts), latents)


def test_glow_factored_half_is_the_split_priors_output():
  glow = Glow((4, 4, 1), levels=2, steps_per_level=1, hidden_channels=4, seed=1)
  rng = np.random.default_rng(2)
  for weight in glow.trainable_weights:
    weight.assign(weight.numpy() + 0.1 * rng.normal(size=weight.shape))
  x = correlated_images(3, (4, 4, 1))
  h = tf.constant(x)
  for layer in glow.flow_layers:
    h = layer(h)
    if isinstance(layer, SplitPrior):
      break
  level_0 = glow.split_latents(glow.bijector.inverse(x))[0]
  np.testing.assert_allclose(level_0, h[..., 2:], atol=1e-6)

