"""Keras layer that owns one Sinusoidal D-scale's parameters."""
import keras
import tensorflow as tf

from tfp_ldu.bijectors.sinusoidal import Sinusoidal
from tfp_ldu.layers.bijector_layer import BijectorLayer

__all__ = ["SinusoidalParameters"]


def _softmax(logits):
  """Softmax over the last axis; oneDNN's kernel is ~4x slower on [D, K] this small."""
  unnormalized = tf.exp(logits - tf.reduce_max(logits, axis=-1, keepdims=True))
  return unnormalized / tf.reduce_sum(unnormalized, axis=-1, keepdims=True)


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

  def __init__(self, event_size, num_mixtures=4, tolerance=None, max_iterations=1000,
               solver="newton", **kwargs):
    super().__init__(**kwargs)
    self.event_size = int(event_size)
    self.num_mixtures = int(num_mixtures)
    self.tolerance = tolerance
    self.max_iterations = int(max_iterations)
    self.solver = solver
    d, k = self.event_size, self.num_mixtures
    uniform = keras.initializers.RandomUniform(-3.0, 3.0)
    self.raw_in_scale = self.add_weight(shape=(d, k), initializer=uniform,
                                        name="raw_in_scale")
    self.in_shift = self.add_weight(shape=(d, k), initializer=uniform, name="in_shift")
    self.mix_logits = self.add_weight(shape=(d, k), initializer="zeros",
                                      name="mix_logits")
    self.raw_residual = self.add_weight(shape=(d,), initializer="zeros",
                                        name="raw_residual")
    self.out_shift = self.add_weight(shape=(d,), initializer="zeros", name="out_shift")
    self.built = True

  def bijector(self, training=None):
    """A fresh `Sinusoidal` built from the current weights (tensors, not variables)."""
    del training
    read = tf.convert_to_tensor
    return Sinusoidal(
        in_scale=tf.nn.softplus(read(self.raw_in_scale)),
        in_shift=read(self.in_shift),
        mix_weights=_softmax(read(self.mix_logits)),
        out_shift=read(self.out_shift),
        residual_scale=tf.tanh(read(self.raw_residual)),
        tolerance=self.tolerance, max_iterations=self.max_iterations, solver=self.solver)

  def get_config(self):
    return {**super().get_config(), "event_size": self.event_size,
            "num_mixtures": self.num_mixtures, "tolerance": self.tolerance,
            "max_iterations": self.max_iterations, "solver": self.solver}
