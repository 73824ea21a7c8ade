"""Masked 2-D convolution of PixelCNN (van den Oord et al., 2016) on NHWC feature maps."""
import keras
import numpy as np
import tensorflow as tf

__all__ = ["MaskedConv2D", "pixelcnn_mask"]

MASK_TYPES = ("A", "B")


def pixelcnn_mask(kernel_size: int, in_channels: int, out_channels: int,
                  image_channels: int, mask_type: str) -> np.ndarray:
  """The PixelCNN kernel mask, `[k, k, in_channels, out_channels]` (HWIO), float32.

  Raster order over an image `[H, W, C]` is row, then column, then channel
  (the flat NHWC index).  Feature map `f` belongs to channel group
  `f % image_channels` (interleaved groups; an image input's channel c is its
  own group c).  With centre `m = k // 2`, tap `(i, j)` reads the input pixel
  at offset `(i - m, j - m)` (`tf.nn.conv2d` is a cross-correlation), and

      mask[i, j, a, b] = 1                          if i < m, or i == m and j < m
                       = [group(a) <  group(b)]     at the centre, type "A"
                       = [group(a) <= group(b)]     at the centre, type "B"
                       = 0                          otherwise (later pixels).

  Spatial pattern (k = 5) and centre-tap channel masks (C = 3, rows = input
  group, columns = output group):

      1 1 1 1 1        type A:  R G B        type B:  R G B
      1 1 1 1 1              R  0 1 1              R  1 1 1
      1 1 * 0 0              G  0 0 1              G  0 1 1
      0 0 0 0 0              B  0 0 0              B  0 0 1
      0 0 0 0 0

  Type A (first layer) lets output group c see image channels < c of the
  current pixel; type B (later layers) lets group c see feature groups <= c,
  which themselves saw only channels < their group.  Either way a feature of
  group c at pixel p depends on image values strictly before (p, c).

  Raises:
    ValueError: for an even or non-positive kernel size, a mask type other
      than "A"/"B", or non-positive channel counts.
  """
  kernel_size, image_channels = int(kernel_size), int(image_channels)
  if kernel_size < 1 or kernel_size % 2 == 0:
    raise ValueError(f"pixelcnn_mask: kernel_size must be a positive odd integer "
                     f"(the mask needs a centre tap); got {kernel_size}.")
  if mask_type not in MASK_TYPES:
    raise ValueError(f"pixelcnn_mask: mask_type must be 'A' or 'B'; got {mask_type!r}.")
  if min(int(in_channels), int(out_channels), image_channels) < 1:
    raise ValueError(f"pixelcnn_mask: channel counts must be >= 1; got in_channels="
                     f"{in_channels}, out_channels={out_channels}, "
                     f"image_channels={image_channels}.")
  centre = kernel_size // 2
  mask = np.zeros((kernel_size, kernel_size, in_channels, out_channels), np.float32)
  mask[:centre] = 1.0
  mask[centre, :centre] = 1.0
  in_groups = np.arange(in_channels)[:, None] % image_channels
  out_groups = np.arange(out_channels)[None, :] % image_channels
  allowed = in_groups < out_groups if mask_type == "A" else in_groups <= out_groups
  mask[centre, centre] = allowed.astype(np.float32)
  return mask


@keras.saving.register_keras_serializable(package="tfp_ldu")
class MaskedConv2D(keras.layers.Layer):
  """2-D convolution with a PixelCNN mask, stride 1, zero 'SAME' padding.

      y = conv2d(x, kernel * mask) + bias          `[N, H, W, F_in] -> [N, H, W, filters]`

  `mask = pixelcnn_mask(kernel_size, F_in, filters, image_channels, mask_type)`
  is a constant; the kernel is stored in full and multiplied by the mask once
  per call (masked entries receive zero gradient, so they never matter).
  Zero padding adds no dependence on the input, so the mask alone decides
  which earlier pixels and channel groups an output may read.
  """

  def __init__(self, filters, kernel_size, mask_type, image_channels, use_bias=True,
               kernel_initializer="glorot_uniform", **kwargs):
    super().__init__(**kwargs)
    self.filters = int(filters)
    self.kernel_size = int(kernel_size)
    self.mask_type = mask_type
    self.image_channels = int(image_channels)
    self.use_bias = bool(use_bias)
    self.kernel_initializer = keras.initializers.get(kernel_initializer)
    # Validates kernel size, mask type and channel counts before any weight exists.
    pixelcnn_mask(self.kernel_size, 1, self.filters, self.image_channels, mask_type)

  def build(self, input_shape):
    if len(input_shape) != 4 or input_shape[-1] is None:
      raise ValueError(f"{self.name}: expected input of shape [N, H, W, channels] with "
                       f"known channels; received shape {list(input_shape)}.")
    in_channels = int(input_shape[-1])
    self._mask = pixelcnn_mask(self.kernel_size, in_channels, self.filters,
                               self.image_channels, self.mask_type)
    self.kernel = self.add_weight(
        shape=self._mask.shape, initializer=self.kernel_initializer, name="kernel")
    self.bias = (self.add_weight(shape=(self.filters,), initializer="zeros", name="bias")
                 if self.use_bias else None)

  @property
  def mask(self):
    """The constant mask `[k, k, F_in, filters]` (numpy, float32)."""
    return self._mask

  def call(self, x):
    kernel = self.kernel * tf.constant(self._mask, dtype=self.kernel.dtype)
    y = tf.nn.conv2d(x, kernel, strides=1, padding="SAME")
    return y if self.bias is None else y + self.bias

  def compute_output_shape(self, input_shape):
    return tuple(input_shape[:-1]) + (self.filters,)

  def get_config(self):
    return {**super().get_config(), "filters": self.filters,
            "kernel_size": self.kernel_size, "mask_type": self.mask_type,
            "image_channels": self.image_channels, "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer)}
