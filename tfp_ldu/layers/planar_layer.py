"""Keras layer that owns one planar flow's weights (Rezende & Mohamed, 2015)."""
import math

import keras
import numpy as np
import tensorflow as tf

from tfp_ldu.bijectors.planar import Planar
from tfp_ldu.layers.bijector_layer import BijectorLayer
from tfp_ldu.layers.bijector_layer import vector_event_size

__all__ = ["PlanarLayer"]


@keras.saving.register_keras_serializable(package="tfp_ldu")
class PlanarLayer(BijectorLayer):
  """Free weights u, w (`[D]`) and b (scalar) of a `Planar`; `bijector()` builds it.

  The bijector needs w^T u_hat > -1 (invertibility); u_hat is built from the
  free u as in the paper's appendix A, with a small margin:

      m(s)  = -1 + margin + softplus(s)
      u_hat = u + (m(w^T u) - w^T u) w / ||w||^2,
      so w^T u_hat = m(w^T u) > -1 + margin.

  The margin keeps the bound in floating point (without it -1 + softplus(s)
  rounds to exactly -1 once w^T u < -17 in float32, -37 in float64, and the
  log-det log1p(-sech^2) becomes -inf) and bounds the slope of `forward`'s
  scalar equation from below, g' >= margin, so rounding in w^T z reaches the
  solved alpha amplified at most 1/margin times.  The default 1e-2 keeps that
  float32 error (6e-8 / margin, relative) no larger than the bisection's
  default tolerance 1e-5.

  Initialisation: u and w uniform in (-1/sqrt(D), 1/sqrt(D)) (w must not be
  0, where u_hat is undefined), b = 0.

  Args:
    event_shape: `(D,)` (or D).
    margin: w^T u_hat >= -1 + margin, a Python float in (0, 1).
    tolerance, num_halvings: `forward`'s bisection settings (see `Planar`).
    **kwargs: `keras.layers.Layer` arguments (`name`, `dtype`, ...).
  """

  def __init__(self, event_shape, margin=1e-2, tolerance=None, num_halvings=64, **kwargs):
    super().__init__(**kwargs)
    self.event_size = vector_event_size(type(self).__name__, event_shape)
    if self.event_size < 1:
      raise ValueError(f"PlanarLayer: event_shape must be (D,) with D >= 1; got "
                       f"{event_shape!r}.")
    self.margin = float(margin)
    if not 0.0 < self.margin < 1.0:
      raise ValueError(f"PlanarLayer: margin must be in (0, 1); got {margin!r}.")
    self.tolerance = tolerance
    self.num_halvings = int(num_halvings)
    limit = 1.0 / math.sqrt(self.event_size)
    uniform = keras.initializers.RandomUniform(-limit, limit)
    self.u = self.add_weight(shape=(self.event_size,), initializer=uniform, name="u")
    self.w = self.add_weight(shape=(self.event_size,), initializer=uniform, name="w")
    self.b = self.add_weight(shape=(), initializer="zeros", name="b")
    self.built = True

  def u_hat(self):
    """u_hat `[D]` from the current weights, with w^T u_hat = m(w^T u)."""
    u, w = tf.convert_to_tensor(self.u), tf.convert_to_tensor(self.w)
    w_dot_u = tf.reduce_sum(w * u)
    m = -1.0 + self.margin + tf.nn.softplus(w_dot_u)
    direction = w / tf.maximum(tf.reduce_sum(w * w), np.finfo(w.dtype.as_numpy_dtype).tiny)
    u_hat = u + (m - w_dot_u) * direction
    # u_hat's entries carry rounding of order eps |u|, so for a large |w^T u|
    # the computed w^T u_hat could miss m by more than the margin.  One
    # correction along w (zero in exact arithmetic) leaves an error of order
    # eps |u_hat| |w| only.
    return u_hat + (m - tf.reduce_sum(w * u_hat)) * direction

  def bijector(self, training=None):
    """A fresh `Planar` built from the current weights (tensors, not variables)."""
    del training
    return Planar(self.u_hat(), tf.convert_to_tensor(self.w), tf.convert_to_tensor(self.b),
                  tolerance=self.tolerance, num_halvings=self.num_halvings)

  def get_config(self):
    return {**super().get_config(), "event_shape": [self.event_size], "margin": self.margin,
            "tolerance": self.tolerance, "num_halvings": self.num_halvings}

