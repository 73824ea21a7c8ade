"""Keras layer owning the MADE of one triangular shift."""
import keras
import tensorflow as tf

from tfp_ldu.bijectors.triangular_shift import TriangularShift
from tfp_ldu.layers.bijector_layer import BijectorLayer
from tfp_ldu.layers.bijector_layer import vector_event_size
from tfp_ldu.layers.precision import conditioner_policy
from tfp_ldu.nets.made import MADE
from tfp_ldu.nets.context_inputs import check_context

__all__ = ["MADEShift"]


@keras.saving.register_keras_serializable(package="tfp_ldu")
class MADEShift(BijectorLayer):
  """Strictly triangular shift network s(x) and its `TriangularShift` bijector.

      lower (upper=False): s(x) = MADE(x)[..., 0]                 (s_i sees x_{<i})
      upper (upper=True):  s(x) = rev(MADE(rev(x))[..., 0])       (s_i sees x_{>i})

  where rev reverses the last axis.  Shapes: `[..., D] -> [..., D]`.
  With `context_size=C > 0`, s = s(x, c): the context `[..., C]` reaches
  every MADE layer (`tfp_ldu.nets.MADE`), and s stays strictly triangular in x.
  """

  def __init__(self, event_shape, hidden_units=(256, 256), upper=False, activation="relu",
               dropout=0.0, tolerance=None, context_size=0, **kwargs):
    super().__init__(**kwargs)
    self.event_size = vector_event_size(type(self).__name__, event_shape)
    self.hidden_units = tuple(hidden_units)
    self.upper = bool(upper)
    self.activation = activation
    self.dropout = float(dropout)
    self.tolerance = tolerance
    self.context_size = int(context_size)
    self.made = MADE(self.event_size, self.hidden_units, activation=activation,
                     dropout=self.dropout, reverse=self.upper, context_size=self.context_size,
                     name=f"{self.name}_made",
                     dtype=conditioner_policy(self.dtype_policy))
    self.made.build((None, self.event_size))
    self.built = True

  def shift(self, x, context=None):
    """s(x, c), `[..., D]` (in `x`'s dtype, whatever the MADE computes in)."""
    return tf.cast(self.made(x, context=context)[..., 0], x.dtype)

  def shift_for(self, context):
    """x -> s(x, c) for a fixed context (the function a `TriangularShift` takes)."""
    check_context(type(self).__name__, self.context_size, context)
    return lambda x: self.shift(x, context)

  def bijector(self, training=None, context=None):
    """A fresh `TriangularShift` (data -> latent: x + s(x, c))."""
    del training
    return TriangularShift(self.shift_for(context), upper=self.upper,
                           event_size=self.event_size, tolerance=self.tolerance)

  def get_config(self):
    return {**super().get_config(), "event_shape": [self.event_size],
            "hidden_units": list(self.hidden_units), "upper": self.upper,
            "activation": self.activation, "dropout": self.dropout,
            "tolerance": self.tolerance, "context_size": self.context_size}
