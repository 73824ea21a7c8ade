"""Bounded columns of a table mapped to the real line (logit or log), as a flow layer."""
import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_ldu.layers.bijector_layer import BijectorLayer
from tfp_ldu.layers.bijector_layer import vector_event_size

tfb = tfp.bijectors

__all__ = ["ColumnBounds"]


class _ColumnBoundsBijector(tfb.Bijector):
  """latent -> data: x_i = a_i + (b_i - a_i) sigmoid(h_i), a_i + e^h_i, b_i - e^-h_i or h_i."""

  def __init__(self, low, high, dtype):
    dtype = tf.as_dtype(dtype)
    self._low = tf.constant(np.where(np.isfinite(low), low, 0.0), dtype)
    self._high = tf.constant(np.where(np.isfinite(high), high, 0.0), dtype)
    self._both = tf.constant(np.isfinite(low) & np.isfinite(high))
    self._lower = tf.constant(np.isfinite(low) & ~np.isfinite(high))
    self._upper = tf.constant(~np.isfinite(low) & np.isfinite(high))
    super().__init__(forward_min_event_ndims=1, is_constant_jacobian=False, dtype=dtype,
                     name="column_bounds")

  def _forward(self, h):
    width = self._high - self._low
    return tf.where(self._both, self._low + width * tf.sigmoid(h),
                    tf.where(self._lower, self._low + tf.exp(h),
                             tf.where(self._upper, self._high - tf.exp(-h), h)))

  def _inverse(self, x):
    width = self._high - self._low
    # Safe arguments on the other branches keep tf.where's gradients finite.
    unit = tf.where(self._both, (x - self._low) / tf.where(self._both, width, 1.0), 0.5)
    above = tf.where(self._lower, x - self._low, 1.0)
    below = tf.where(self._upper, self._high - x, 1.0)
    return tf.where(self._both, tf.math.log(unit) - tf.math.log1p(-unit),
                    tf.where(self._lower, tf.math.log(above),
                             tf.where(self._upper, -tf.math.log(below), x)))

  def _forward_log_det_jacobian(self, h):
    width = tf.where(self._both, self._high - self._low, 1.0)
    terms = tf.where(self._both,
                     tf.math.log(width) + tf.math.log_sigmoid(h) + tf.math.log_sigmoid(-h),
                     tf.where(self._lower, h, tf.where(self._upper, -h, tf.zeros_like(h))))
    return tf.reduce_sum(terms, axis=-1)


@keras.saving.register_keras_serializable(package="tfp_ldu")
class ColumnBounds(BijectorLayer):
  """Data -> latent: each bounded column of a table mapped to R, the others unchanged.

      a_i < x_i < b_i:  h_i = logit((x_i - a_i) / (b_i - a_i))
      a_i < x_i:        h_i = log(x_i - a_i)
      x_i < b_i:        h_i = -log(b_i - x_i)
      otherwise:        h_i = x_i

      inverse_log_det_jacobian = -sum_i log |dx_i / dh_i|, with dx/dh =
      (b - a) sigmoid(h) sigmoid(-h), e^h, e^-h or 1.

  Placed first in a model of a table in its own units (before its
  `Standardization`), a bounded column's density and samples stay inside
  its bounds (proportions, percentages, positive amounts).  No weights: the
  bounds are part of the config.  `outside_support(x)` tells which rows lie
  on or beyond a bound (their density is 0: `FlowModel.log_prob` returns
  -inf there).

  Shapes: `x` is `[N, D]`; `low` and `high` are `[D]`, -inf / inf for no bound.
  """

  def __init__(self, low, high, **kwargs):
    """Builds the layer.

    Args:
      low: `[D]` lower bounds (-inf or None for none).
      high: `[D]` upper bounds (inf or None for none).
      **kwargs: Keras layer arguments.

    Raises:
      ValueError: bounds of different lengths, or a lower bound not below its
        upper bound.
    """
    super().__init__(**kwargs)
    low = np.array([-np.inf if value is None else value for value in low], np.float64)
    high = np.array([np.inf if value is None else value for value in high], np.float64)
    if low.shape != high.shape:
      raise ValueError(f"ColumnBounds: low and high must have one length; got {len(low)} "
                       f"and {len(high)}.")
    vector_event_size("ColumnBounds", low.shape)
    if np.any(low >= high):
      bad = np.flatnonzero(low >= high).tolist()
      raise ValueError(f"ColumnBounds: each lower bound must lie below its upper bound; "
                       f"columns {bad} have {low[bad].tolist()} >= {high[bad].tolist()}.")
    self.low, self.high = low, high
    self.built = True

  def bijector(self, training=None):
    """latent -> data (see the class docstring), in the layer's dtype."""
    del training
    return _ColumnBoundsBijector(self.low, self.high, self.compute_dtype)

  def outside_support(self, x, event_ndims):
    """`[N]` bool: some x_i of the row lies on or beyond one of its column's bounds."""
    del event_ndims
    low = tf.constant(self.low, x.dtype)
    high = tf.constant(self.high, x.dtype)
    return tf.reduce_any(tf.logical_or(x <= low, x >= high), axis=-1)

  def get_config(self):
    def listed(values):  # JSON has no infinities: None for no bound.
      return [float(value) if np.isfinite(value) else None for value in values]
    return {**super().get_config(), "low": listed(self.low), "high": listed(self.high)}
