"""MADE (Germain et al., 2015) as a Keras 3 layer."""
import keras
import numpy as np
import tensorflow as tf
from keras import ops

__all__ = ["MADE", "made_masks"]


def made_masks(event_size: int, hidden_units, params_per_dim: int = 1):
  """Connectivity masks of a MADE with strictly autoregressive outputs.

  Degrees: input j has degree j (0..D-1); hidden units cycle over 0..D-2; a
  hidden unit of degree m sees inputs/units of degree <= m; output i sees
  hidden units of degree < i (inputs of degree < i when there are no hidden
  layers).  Output i therefore depends on x_{<i} only; output 0 is a bias.

  Returns:
    list of float32 numpy masks `[fan_in, fan_out]`; the last is
    `[H_last, D * params_per_dim]` laid out so that a reshape to
    `[D, params_per_dim]` puts output i in row i.
  """
  degrees = [np.arange(event_size)]
  for units in hidden_units:
    degrees.append(np.arange(units) % max(event_size - 1, 1))
  masks = [(d_in[:, None] <= d_out[None, :]).astype("float32")
           for d_in, d_out in zip(degrees[:-1], degrees[1:])]
  out_degrees = np.repeat(np.arange(event_size), params_per_dim)
  masks.append((degrees[-1][:, None] < out_degrees[None, :]).astype("float32"))
  return masks


@keras.saving.register_keras_serializable(package="tfp_ldu")
class MADE(keras.layers.Layer):
  """Masked autoencoder whose output row i depends only on inputs < i.

      h_0 = x,  h_l = act((W_l * M_l) h_{l-1} + b_l),  out = (W * M) h_L + b

  Input `[..., D]`, output `[..., D, params_per_dim]`.  All weights are Keras
  weights (`add_weight`), so Keras 3 trains them; the masks are constants
  applied in `call`.  For an upper-triangular (reverse order) network, reverse
  the input and the output's D axis.
  """

  def __init__(self, event_size, hidden_units, params_per_dim=1, activation="relu",
               dropout=0.0, kernel_initializer="glorot_uniform", **kwargs):
    super().__init__(**kwargs)
    if int(event_size) < 1:
      raise ValueError(f"MADE: event_size must be >= 1; got {event_size}.")
    if not 0.0 <= float(dropout) < 1.0:
      raise ValueError(f"MADE: dropout must be in [0, 1); got {dropout}.")
    self.event_size = int(event_size)
    self.hidden_units = tuple(int(h) for h in hidden_units)
    self.params_per_dim = int(params_per_dim)
    self.activation = keras.activations.get(activation)
    self.dropout = float(dropout)
    self.kernel_initializer = keras.initializers.get(kernel_initializer)
    self._dropout_layers = [keras.layers.Dropout(self.dropout)
                            for _ in self.hidden_units] if self.dropout else []

  def build(self, input_shape):
    if input_shape[-1] is not None and input_shape[-1] != self.event_size:
      raise ValueError(f"MADE: expected input of shape [..., {self.event_size}]; "
                       f"received shape {list(input_shape)}.")
    masks = made_masks(self.event_size, self.hidden_units, self.params_per_dim)
    self._masks, self._kernels, self._biases = [], [], []
    for index, mask in enumerate(masks):
      fan_in, fan_out = mask.shape
      self._masks.append(mask)
      self._kernels.append(self.add_weight(
          shape=(fan_in, fan_out), initializer=self.kernel_initializer,
          name=f"kernel_{index}"))
      self._biases.append(self.add_weight(shape=(fan_out,), initializer="zeros",
                                          name=f"bias_{index}"))

  def call(self, x, training=None):
    h = x
    last = len(self._kernels) - 1
    for index, (mask, kernel, bias) in enumerate(
        zip(self._masks, self._kernels, self._biases)):
      h = ops.matmul(h, kernel * ops.convert_to_tensor(mask, kernel.dtype)) + bias
      if index < last:
        h = self.activation(h)
        if self._dropout_layers:
          h = self._dropout_layers[index](h, training=training)
    return tf.reshape(h, tf.concat(
        [tf.shape(h)[:-1], [self.event_size, self.params_per_dim]], axis=0))

  def compute_output_shape(self, input_shape):
    return tuple(input_shape[:-1]) + (self.event_size, self.params_per_dim)

  def get_config(self):
    return {**super().get_config(), "event_size": self.event_size,
            "hidden_units": list(self.hidden_units),
            "params_per_dim": self.params_per_dim,
            "activation": keras.activations.serialize(self.activation),
            "dropout": self.dropout,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer)}
