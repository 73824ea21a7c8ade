"""Keras layer that owns one Sinusoidal D-scale's parameters."""
import keras
import tensorflow as tf

from tfp_ldu.bijectors.sinusoidal import Sinusoidal
from tfp_ldu.layers.bijector_layer import BijectorLayer
from tfp_ldu.layers.bijector_layer import vector_event_size

__all__ = ["SinusoidalParameters", "add_d_scale_weights", "constrained_d_scale"]


def _softmax(logits):
  """Softmax over the last axis, written out: oneDNN's kernel is slower on [D, K] this small."""
  unnormalized = tf.exp(logits - tf.reduce_max(logits, axis=-1, keepdims=True))
  return unnormalized / tf.reduce_sum(unnormalized, axis=-1, keepdims=True)


def add_d_scale_weights(layer, leading_shape, event_size, num_components):
  """Adds the five D-scale weights to `layer`, as attributes, with a leading shape.

  Shapes `[*leading_shape, D, K]` (raw_in_scale, in_shift, mix_logits) and
  `[*leading_shape, D]` (raw_residual, out_shift); initialised as in
  `SinusoidalParameters` (the identity D-scale).  `leading_shape` is `()`
  for one D-scale and `(B, n)` for the block-stacked ones of `StackedLDUBlocks`.
  """
  lead, d, k = tuple(leading_shape), int(event_size), int(num_components)
  uniform = keras.initializers.RandomUniform(-3.0, 3.0)
  layer.raw_in_scale = layer.add_weight(shape=(*lead, d, k), initializer=uniform,
                                        name="raw_in_scale")
  layer.in_shift = layer.add_weight(shape=(*lead, d, k), initializer=uniform, name="in_shift")
  layer.mix_logits = layer.add_weight(shape=(*lead, d, k), initializer="zeros",
                                      name="mix_logits")
  layer.raw_residual = layer.add_weight(shape=(*lead, d), initializer="zeros",
                                        name="raw_residual")
  layer.out_shift = layer.add_weight(shape=(*lead, d), initializer="zeros", name="out_shift")


def constrained_d_scale(layer):
  """`Sinusoidal`'s parameters (a dict of tensors) from `layer`'s five D-scale weights.

  in_scale = softplus(raw_in_scale), mix_weights = softmax(mix_logits),
  residual_scale = tanh(raw_residual); in_shift and out_shift as stored.
  Element-wise or over the last axis, so any leading shape is kept.
  """
  read = tf.convert_to_tensor
  return dict(in_scale=tf.nn.softplus(read(layer.raw_in_scale)),
              in_shift=read(layer.in_shift),
              mix_weights=_softmax(read(layer.mix_logits)),
              out_shift=read(layer.out_shift),
              residual_scale=tf.tanh(read(layer.raw_residual)))


@keras.saving.register_keras_serializable(package="tfp_ldu")
class SinusoidalParameters(BijectorLayer):
  """Unconstrained weights of a `Sinusoidal` bijector; `bijector()` builds it.

  Weights (shapes `[D, K]` or `[D]`) and constraints, initialised so the
  D-scale starts as the identity (as in the paper's code):

      in_scale       = softplus(raw_in_scale),  raw ~ U(-3, 3)
      in_shift       = raw_in_shift,            raw ~ U(-3, 3)
      mix_weights    = softmax(mix_logits),     logits = 0
      residual_scale = tanh(raw_residual),      raw = 0   (so r = 0: identity)
      out_shift      = out_shift,               0
  """

  def __init__(self, event_shape, num_components=4, tolerance=None, max_iterations=1000,
               solver="newton", **kwargs):
    super().__init__(**kwargs)
    self.event_size = vector_event_size(type(self).__name__, event_shape)
    self.num_components = int(num_components)
    self.tolerance = tolerance
    self.max_iterations = int(max_iterations)
    self.solver = solver
    add_d_scale_weights(self, (), self.event_size, self.num_components)
    self.built = True

  def bijector(self, training=None):
    """A fresh `Sinusoidal` built from the current weights (tensors, not variables)."""
    del training
    return Sinusoidal(**constrained_d_scale(self), tolerance=self.tolerance,
                      max_iterations=self.max_iterations, solver=self.solver)

  def get_config(self):
    return {**super().get_config(), "event_shape": [self.event_size],
            "num_components": self.num_components, "tolerance": self.tolerance,
            "max_iterations": self.max_iterations, "solver": self.solver}
