"""Uniform dequantisation of the integer-valued columns of a table, in their own units."""
import keras
import numpy as np
import tensorflow as tf

from tfp_ldu.layers.bijector_layer import vector_event_size

__all__ = ["IntegerDequantizer"]


@keras.saving.register_keras_serializable(package="tfp_ldu")
class IntegerDequantizer(keras.layers.Layer):
  """y_i = x_i + u_i on the integer columns (m_i = 1), y_i = x_i elsewhere; log q(y | x) = 0.

  For a table whose integer-valued columns (counts, ratings, years) take
  whole values k, u ~ U[0, 1) spreads each k over the cell [k, k + 1) of
  width 1 in the column's own units, so q(y | x) = 1 there and the flow's
  density p of y gives the bound (Theis et al., 2016)

      log P(x) >= E_u[log p(x + u m)],

  P being a probability for the integer columns and a density for the
  others: the quantity `FlowModel.call` returns with this dequantiser.  A
  column of L equally likely levels then costs log L nats, as it should.
  `model.log_prob(y)` stays the density of the continuous y (samples of an
  integer column fall in [k, k + 1); their floor is the level k).

  The dequantiser interface of `FlowModel`: `call(x, training) -> (y, log_q)`
  with x, y `[N, D]` and log_q `[N]`.  Integer columns holding non-integers
  fail a graph assertion (dropped under XLA; `train/fit.py` detects the
  columns from the data, so they are whole numbers).

  #### References

  [1] Theis, van den Oord, Bethge. A note on the evaluation of generative
      models. https://arxiv.org/abs/1511.01844
  """

  def __init__(self, integer_columns, seed=None, **kwargs):
    """Builds the layer.

    Args:
      integer_columns: `[D]` bools, True for the columns to dequantise.
      seed: initial seed of the noise (None: random).
      **kwargs: Keras layer arguments.
    """
    super().__init__(**kwargs)
    mask = np.asarray(integer_columns, bool)
    vector_event_size("IntegerDequantizer", mask.shape)
    self.integer_columns = mask
    self.seed = seed
    self.seed_generator = keras.random.SeedGenerator(seed, name="dequantization_seed")
    self.built = True

  def call(self, x, training=None):
    del training
    x = tf.convert_to_tensor(x, self.compute_dtype)
    mask = tf.constant(self.integer_columns, x.dtype)
    check = tf.debugging.assert_equal(
        x * mask, tf.floor(x) * mask, summarize=4,
        message=f"IntegerDequantizer: the integer columns "
                f"{np.flatnonzero(self.integer_columns).tolist()} must hold whole numbers")
    with tf.control_dependencies([check]):
      noise = keras.random.uniform(tf.shape(x), dtype=x.dtype, seed=self.seed_generator)
      y = x + noise * mask
    return y, tf.zeros(tf.shape(x)[:1], x.dtype)

  def get_config(self):
    return {**super().get_config(), "integer_columns": self.integer_columns.tolist(),
            "seed": self.seed}
