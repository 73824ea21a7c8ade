"""Keras layer owning one MAF transform (the baseline of the paper's tables)."""
import keras
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_ldu.layers.bijector_layer import BijectorLayer
from tfp_ldu.layers.bijector_layer import vector_event_size
from tfp_ldu.layers.precision import conditioner_policy
from tfp_ldu.nets.made import MADE

tfb = tfp.bijectors

__all__ = ["MaskedAutoregressive"]


@keras.saving.register_keras_serializable(package="tfp_ldu")
class MaskedAutoregressive(BijectorLayer):
  """A `tfb.MaskedAutoregressiveFlow` driven by this library's Keras 3 `MADE`.

  Data -> latent (the bijector's `inverse`, one pass):
      z_i = (x_i - mu_i(x_{<i})) * exp(-alpha_i(x_{<i})),  then reverse the order
  (`reverse=True`) so that stacked layers alternate their autoregressive order.
  `tfb.AutoregressiveNetwork` is a tf_keras layer whose weights Keras 3 never
  trains, hence the MADE here.  Shapes: `[..., D] -> [..., D]`.
  """

  def __init__(self, event_shape, hidden_units=(256, 256), activation="relu", dropout=0.0,
               reverse=True, **kwargs):
    super().__init__(**kwargs)
    self.event_size = vector_event_size(type(self).__name__, event_shape)
    self.hidden_units = tuple(hidden_units)
    self.activation = activation
    self.dropout = float(dropout)
    self.reverse = bool(reverse)
    self.made = MADE(self.event_size, self.hidden_units, params_per_dim=2,
                     activation=activation, dropout=self.dropout,
                     name=f"{self.name}_made",
                     dtype=conditioner_policy(self.dtype_policy))
    self.made.build((None, self.event_size))
    self.built = True

  def bijector(self, training=None):
    """latent -> data; a fresh closure per call keeps TFP's cache per instance."""
    del training
    def shift_and_log_scale(x):
      params = tf.cast(self.made(x), x.dtype)
      return params[..., 0], params[..., 1]
    maf = tfb.MaskedAutoregressiveFlow(shift_and_log_scale_fn=shift_and_log_scale)
    if not self.reverse:
      return maf
    permutation = tf.range(self.event_size - 1, -1, -1)
    return tfb.Chain([maf, tfb.Permute(permutation)])

  def get_config(self):
    return {**super().get_config(), "event_shape": [self.event_size],
            "hidden_units": list(self.hidden_units), "activation": self.activation,
            "dropout": self.dropout, "reverse": self.reverse}
