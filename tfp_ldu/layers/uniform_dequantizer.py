"""Uniform dequantisation: discrete pixel levels -> points of [0, 1)^D."""
import math

import keras
import tensorflow as tf

from tfp_ldu.layers.pixel_levels import assert_levels

__all__ = ["UniformDequantizer"]


@keras.saving.register_keras_serializable(package="tfp_ldu")
class UniformDequantizer(keras.layers.Layer):
  """y = (x + u) / L with u ~ U[0, 1)^D, and log q(y | x) = D log L.

  For data x with values in {0, ..., L - 1} (L = `num_levels`), y is uniform
  on the cell [x/L, (x+1)/L) of side 1/L, so q(y | x) = L^D there.  The
  flow's density p of y gives the variational bound (Theis et al., 2016;
  Ho et al., 2019)

      log P(x) >= E_q[log p(y) - log q(y | x)] = E_q[log p(y)] - D log L,

  which is what `FlowModel.call` returns with this dequantiser: its negative
  divided by D ln 2 is the usual bits/dim (a uniform p on [0, 1)^D gives
  exactly log2 L bits/dim).  The noise comes from a `keras.random.SeedGenerator`
  (its state advances inside compiled `fit` steps).  Input that is not
  integer levels in [0, L) fails a graph assertion
  (`tfp_ldu.layers.pixel_levels`).  This is the
  dequantiser interface: `call(x, training) -> (y, log_q)` with x, y of shape
  `[N, *event_shape]` and log_q of shape `[N]`; a variational dequantiser
  (Flow++) has the same interface with a learned q.

  #### References

  [1] Theis, van den Oord, Bethge. A note on the evaluation of generative
      models. https://arxiv.org/abs/1511.01844
  [2] Ho, Chen, Srinivas, Duan, Abbeel. Flow++. https://arxiv.org/abs/1902.00275
  """

  def __init__(self, num_levels=256, event_ndims=1, seed=None, **kwargs):
    """Builds the layer.

    Args:
      num_levels: L, the number of discrete values per scalar (256 for 8-bit
        images, 17 for scikit-learn's digits).
      event_ndims: rank of one data point (1 for vectors, 3 for images).
      seed: initial seed of the noise (None: random).
      **kwargs: standard Keras layer arguments.
    """
    super().__init__(**kwargs)
    if int(num_levels) < 2:
      raise ValueError(f"UniformDequantizer: num_levels must be >= 2; got {num_levels}.")
    self.num_levels = int(num_levels)
    self.event_ndims = int(event_ndims)
    self.seed = seed
    self.seed_generator = keras.random.SeedGenerator(seed, name="dequantization_seed")
    self.built = True

  def call(self, x, training=None):
    del training
    x = assert_levels(tf.convert_to_tensor(x, self.compute_dtype), self.num_levels,
                      type(self).__name__)
    noise = keras.random.uniform(tf.shape(x), dtype=x.dtype, seed=self.seed_generator)
    y = (x + noise) / self.num_levels
    event_size = tf.reduce_prod(tf.shape(x)[tf.rank(x) - self.event_ndims:])
    log_q = tf.cast(event_size, x.dtype) * math.log(self.num_levels)
    return y, tf.fill(tf.shape(x)[:1], log_q)

  def get_config(self):
    return {**super().get_config(), "num_levels": self.num_levels,
            "event_ndims": self.event_ndims, "seed": self.seed}
