"""Keras layer owning the PixelCNN of one triangular shift on images."""
import keras
import tensorflow as tf

from tfp_ldu.bijectors.triangular_shift import TriangularShift
from tfp_ldu.layers.bijector_layer import BijectorLayer
from tfp_ldu.layers.precision import conditioner_policy
from tfp_ldu.nets.context_inputs import check_context
from tfp_ldu.nets.pixelcnn import PixelCNN

__all__ = ["PixelCNNShift"]


@keras.saving.register_keras_serializable(package="tfp_ldu")
class PixelCNNShift(BijectorLayer):
  """`TriangularShift` z = x + s(x) on flat NHWC image rows, s a `PixelCNN`.

      lower (upper=False): s(x)_i sees x_{<i}, i the raster index with channels fastest
      upper (upper=True):  s(x)_i sees x_{>i} (the network runs on the image
                           reversed in H, W and C)

  Shapes: `[..., H*W*C] -> [..., H*W*C]`.  The PixelCNN's per-position
  normalisations are initialised from the first batch this shift sees
  (`initialize`, through the `BijectorLayer` protocol).  Sizes of the
  Sinusoidal Flow paper: 16 feature maps, 2 residual blocks.  With
  `context_size=C > 0`, s = s(x, c) (`bijector(context=c)`, c `[N, C]`; the
  PixelCNN's conditional residual blocks), still strictly triangular in x.
  """

  def __init__(self, event_shape, filters=16, num_residual_blocks=2, upper=False,
               tolerance=None, context_size=0, **kwargs):
    super().__init__(**kwargs)
    self.image_shape = tuple(int(d) for d in event_shape)
    self.filters = int(filters)
    self.num_residual_blocks = int(num_residual_blocks)
    self.upper = bool(upper)
    self.tolerance = tolerance
    self.context_size = int(context_size)
    self.net = PixelCNN(self.image_shape, filters=self.filters,
                        num_residual_blocks=self.num_residual_blocks, upper=self.upper,
                        context_size=self.context_size,
                        name=f"{self.name}_pixelcnn",
                        dtype=conditioner_policy(self.dtype_policy))
    self.event_size = self.net.event_size
    self.built = True

  def shift(self, x, context=None):
    """s(x, c), `[..., H*W*C]` (in `x`'s dtype, whatever the PixelCNN computes in)."""
    return tf.cast(self.net(x, context=context), x.dtype)

  def shift_for(self, context):
    """x -> s(x, c) for a fixed context (the function a `TriangularShift` takes)."""
    check_context(type(self).__name__, self.context_size, context)
    return lambda x: self.shift(x, context)

  def initialize(self, x, context=None):
    """Initialises the PixelCNN's normalisations from the batch it sees (and its contexts)."""
    if self.net.needs_initialization:
      self.net.initialize(x, context)

  def bijector(self, training=None, context=None):
    """A fresh `TriangularShift` (data -> latent: x + s(x, c))."""
    del training
    return TriangularShift(self.shift_for(context), upper=self.upper,
                           event_size=self.event_size, tolerance=self.tolerance)

  def get_config(self):
    return {**super().get_config(), "event_shape": list(self.image_shape),
            "filters": self.filters, "num_residual_blocks": self.num_residual_blocks,
            "upper": self.upper, "tolerance": self.tolerance,
            "context_size": self.context_size}
