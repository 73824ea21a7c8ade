"""Registry case for `MaskedCoupling` on an image-shaped event (checkerboard mask)."""
import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tests.registry import BijectorCase
from tfp_ldu.bijectors import MaskedCoupling
from tfp_ldu.layers import BijectorLayer

tfb = tfp.bijectors
IMAGE_SHAPE = (2, 3, 2)


def checkerboard_mask(shape):
  """`[H, W, C]` bools, True on the pixels with (h + w) odd."""
  h, w, c = shape
  board = (np.arange(h)[:, None] + np.arange(w)[None, :]) % 2 == 1
  return np.repeat(board[:, :, None], c, axis=2)


class AffineCheckerboardCoupling(BijectorLayer):
  """z[m] = x[m] * exp(s) + t with (s, t) from a dense net of the masked image."""

  def __init__(self, image_shape, seed, **kwargs):
    super().__init__(**kwargs)
    self.mask = checkerboard_mask(image_shape)
    self.image_shape = tuple(image_shape)
    num_transformed = int(self.mask.sum())
    rng = np.random.default_rng(seed)
    size = int(np.prod(image_shape))
    self.kernel = self.add_weight(
        shape=(size, 2 * num_transformed), name="kernel",
        initializer=keras.initializers.Constant(0.3 * rng.normal(size=(size, 2 * num_transformed))))
    self.bias = self.add_weight(
        shape=(2 * num_transformed,), name="bias",
        initializer=keras.initializers.Constant(0.3 * rng.normal(size=2 * num_transformed)))
    self.built = True

  def conditioner(self, masked):
    flat = tf.reshape(masked, [-1, int(np.prod(self.image_shape))])
    out = tf.tanh(tf.matmul(flat, self.kernel) + self.bias)
    out = tf.reshape(out, tf.concat([tf.shape(masked)[:-3], [-1, 2]], axis=0))
    return out[..., 0], out[..., 1]

  def bijector(self, training=None):
    del training
    return MaskedCoupling(
        self.conditioner,
        lambda log_scale, shift: tfb.Chain([tfb.Shift(shift), tfb.Scale(log_scale=log_scale)]),
        self.mask)


CASES = [
    BijectorCase("masked_coupling_affine_image",
                 lambda: AffineCheckerboardCoupling(IMAGE_SHAPE, seed=7, dtype="float64"),
                 event_size=int(np.prod(IMAGE_SHAPE)), event_shape=IMAGE_SHAPE,
                 library_layer=False),
]
