"""Weightless layer holding a 2x2 squeeze (or unsqueeze) in a flow's layer list."""
import keras
from tensorflow_probability import bijectors as tfb

from tfp_ldu.bijectors.squeeze import Squeeze, squeezed_shape
from tfp_ldu.layers.bijector_layer import BijectorLayer

__all__ = ["SqueezeLayer"]


@keras.saving.register_keras_serializable(package="tfp_ldu")
class SqueezeLayer(BijectorLayer):
  """`bijector()` is `Squeeze(image_shape)`, or its inverse with `unsqueeze=True`.

  Data -> latent (`call`):

      unsqueeze=False:  [N, H, W, C]        -> [N, H/2, W/2, 4C]   (squeeze)
      unsqueeze=True:   [N, H/2, W/2, 4C]   -> [N, H, W, C]        (unsqueeze)

  with Glow's channel order 4c + 2dy + dx (see `tfp_ldu.bijectors.squeeze.Squeeze`)
  and zero log-determinant.  `image_shape` is always the unsqueezed
  `(H, W, C)`.  No weights.

  Args:
    event_shape: `(H, W, C)` with H and W even.
    unsqueeze: whether the data -> latent map is the unsqueeze.
    **kwargs: standard Keras layer arguments.

  Raises:
    ValueError: for odd H or W.
  """

  def __init__(self, event_shape, unsqueeze=False, **kwargs):
    super().__init__(**kwargs)
    squeezed_shape(event_shape, type(self).__name__)
    self.image_shape = tuple(int(d) for d in event_shape)
    self.unsqueeze = bool(unsqueeze)
    self.built = True

  def bijector(self, training=None):
    """`Squeeze(image_shape)` (latent -> data = unsqueeze), inverted if `unsqueeze`."""
    del training
    squeeze = Squeeze(self.image_shape)
    return tfb.Invert(squeeze) if self.unsqueeze else squeeze

  def get_config(self):
    return {**super().get_config(), "event_shape": list(self.image_shape),
            "unsqueeze": self.unsqueeze}
