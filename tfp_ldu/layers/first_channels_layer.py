"""Keras layer running a list of bijector layers on the first channels of an image."""
import keras
from tensorflow_probability import bijectors as tfb

from tfp_ldu.bijectors.first_channels import FirstChannels
from tfp_ldu.layers.bijector_layer import BijectorLayer
from tfp_ldu.layers.bijector_layer import initialize_in_order

__all__ = ["FirstChannelsLayer"]


@keras.saving.register_keras_serializable(package="tfp_ldu")
class FirstChannelsLayer(BijectorLayer):
  """The later levels of a multi-scale flow: `layers` on channels `[0, k)`, the rest kept.

  Data -> latent (`call`) on `[N, H, W, C]`:

      z[..., :k] = T(x[..., :k]),   z[..., k:] = x[..., k:]

  where T runs `layers` (bijector layers on `[N, H, W, k]`, in data -> latent
  order, mapping that shape to itself) one after the other; the
  log-determinant is T's.  `bijector()` is a
  `tfp_ldu.bijectors.FirstChannels(Chain(...))`, `initialize(x)` walks the
  inner layers, giving each the input it sees (`x[..., :k]` through the
  layers before it).

  Args:
    event_shape: `(H, W, C)`.
    num_channels: k, 0 < k < C.
    layers: the inner `BijectorLayer`s.
    **kwargs: standard Keras layer arguments.
  """

  def __init__(self, event_shape, num_channels, layers, **kwargs):
    super().__init__(**kwargs)
    self.image_shape = tuple(int(d) for d in event_shape)
    self.num_channels = int(num_channels)
    if len(self.image_shape) != 3 or not 0 < self.num_channels < self.image_shape[-1]:
      raise ValueError(f"FirstChannelsLayer: need event_shape (H, W, C) and 0 < "
                       f"num_channels < C; got event_shape {self.image_shape} and "
                       f"num_channels {num_channels}.")
    if not layers:
      raise ValueError("FirstChannelsLayer: give at least one inner layer.")
    self.inner_layers = list(layers)
    self.built = True

  def initialize(self, x, context=None):
    """Initialises each inner layer that needs it from the batch it sees (given `context`)."""
    initialize_in_order(self.inner_layers, x[..., :self.num_channels], context)

  @property
  def context_size(self):
    """The largest context size of the inner layers (0: none reads a context)."""
    return max(getattr(layer, "context_size", 0) for layer in self.inner_layers)

  def bijector(self, training=None, context=None):
    """A fresh `FirstChannels` over the inner layers' current weights (and `context`)."""
    inner = tfb.Chain([layer.bijector(training=training, context=context)
                       for layer in self.inner_layers], name="inner")
    return FirstChannels(inner, self.num_channels, self.image_shape)

  def get_config(self):
    return {**super().get_config(), "event_shape": list(self.image_shape),
            "num_channels": self.num_channels,
            "layers": [keras.saving.serialize_keras_object(layer)
                       for layer in self.inner_layers]}

  @classmethod
  def from_config(cls, config):
    config = dict(config)
    config["layers"] = [keras.saving.deserialize_keras_object(layer)
                        for layer in config["layers"]]
    return super().from_config(config)
