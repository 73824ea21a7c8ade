"""Keras layer that owns one planar flow's weights (Rezende & Mohamed, 2015)."""
import math

import keras
import numpy as np
import tensorflow as tf

from tfp_ldu.bijectors.planar import Planar
from tfp_ldu.layers.bijector_layer import BijectorLayer
from tfp_ldu.layers.bijector_layer import vector_event_size
from tfp_ldu.nets.context_inputs import check_context
from tfp_ldu.nets.made import fan_in_uniform

__all__ = ["PlanarLayer"]


@keras.saving.register_keras_serializable(package="tfp_ldu")
class PlanarLayer(BijectorLayer):
  """Free weights u, w (`[D]`) and b (scalar) of a `Planar`; `bijector(context=c)` builds it.

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

  Conditional (`context_size=C > 0`): u, w and b become functions of the
  context features c `[N, C]` through a small hyper-network added to the
  free weights,

      [du(c), dw(c), db(c)] = tanh(c W_1 + b_1) V,      V `[H, 2D + 1]`
      u(c) = u + du(c),  w(c) = w + dw(c),  b(c) = b + db(c),

  and u_hat(c) is built from (u(c), w(c)) as above, row by row, so every
  context's map keeps w(c)^T u_hat(c) >= -1 + margin: the flow is
  invertible for every c.  `bijector(context=c)` is then a `Planar` with
  parameters `[N, D]`, `[N, D]` and `[N]` (row n of x with context n; one
  row broadcasts), and `forward` solves each row's bisection with its own
  parameters.  V starts at zero (as the output projection of a conditional
  MADE, `tfp_ldu.nets.made.context_kernel_initializer`), so the initial map
  is the unconditional one; W_1, b_1 start U(+-1/sqrt(C)).

  Args:
    event_shape: `(D,)` (or D).
    margin: w^T u_hat >= -1 + margin, a Python float in (0, 1).
    tolerance, num_halvings: `forward`'s bisection settings (see `Planar`).
    context_size: C, context features (0: unconditional).
    context_hidden_units: H, hidden units of the hyper-network (C > 0 only).
    **kwargs: `keras.layers.Layer` arguments (`name`, `dtype`, ...).
  """

  def __init__(self, event_shape, margin=1e-2, tolerance=None, num_halvings=64,
               context_size=0, context_hidden_units=16, **kwargs):
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
    self.context_size = int(context_size)
    self.context_hidden_units = int(context_hidden_units)
    if self.context_size < 0 or (self.context_size and self.context_hidden_units < 1):
      raise ValueError(f"PlanarLayer: need context_size >= 0 and context_hidden_units >= 1; "
                       f"got {context_size!r} and {context_hidden_units!r}.")
    if self.context_size:
      hidden = fan_in_uniform(self.context_size)
      self.context_kernel = self.add_weight(
          shape=(self.context_size, self.context_hidden_units), initializer=hidden,
          name="context_kernel")
      self.context_bias = self.add_weight(shape=(self.context_hidden_units,),
                                          initializer=hidden, name="context_bias")
      self.context_output = self.add_weight(
          shape=(self.context_hidden_units, 2 * self.event_size + 1), initializer="zeros",
          name="context_output")
    self.built = True

  def u_hat(self, u=None, w=None):
    """u_hat `[..., D]` from u, w `[..., D]` (default: the weights), with w^T u_hat = m(w^T u)."""
    u = tf.convert_to_tensor(self.u if u is None else u)
    w = tf.convert_to_tensor(self.w if w is None else w)
    dot = lambda a, b: tf.reduce_sum(a * b, axis=-1, keepdims=True)
    w_dot_u = dot(w, u)
    m = -1.0 + self.margin + tf.nn.softplus(w_dot_u)
    direction = w / tf.maximum(dot(w, w), np.finfo(w.dtype.as_numpy_dtype).tiny)
    u_hat = u + (m - w_dot_u) * direction
    # u_hat's entries carry rounding of order eps |u|, so for a large |w^T u|
    # the computed w^T u_hat could miss m by more than the margin.  One
    # correction along w (zero in exact arithmetic) leaves an error of order
    # eps |u_hat| |w| only.
    return u_hat + (m - dot(w, u_hat)) * direction

  def parameters(self, context=None):
    """(u, w, b) of the map: the weights, or `[N, D]`, `[N, D]`, `[N]` for contexts `[N, C]`."""
    check_context(type(self).__name__, self.context_size, context)
    u, w, b = (tf.convert_to_tensor(v) for v in (self.u, self.w, self.b))
    if context is None:
      return u, w, b
    hidden = tf.tanh(tf.matmul(tf.cast(context, u.dtype), self.context_kernel)
                     + self.context_bias)
    du, dw, db = tf.split(tf.matmul(hidden, self.context_output),
                          [self.event_size, self.event_size, 1], axis=-1)
    return u + du, w + dw, b + db[..., 0]

  def bijector(self, training=None, context=None):
    """A fresh `Planar` built from the current weights (and contexts `[N, C]`, if conditional)."""
    del training
    u, w, b = self.parameters(context)
    return Planar(self.u_hat(u, w), w, b, tolerance=self.tolerance,
                  num_halvings=self.num_halvings)

  def get_config(self):
    config = {**super().get_config(), "event_shape": [self.event_size],
              "margin": self.margin, "tolerance": self.tolerance,
              "num_halvings": self.num_halvings}
    if self.context_size:  # Unconditional configs stay as they were.
      config.update(context_size=self.context_size,
                    context_hidden_units=self.context_hidden_units)
    return config

