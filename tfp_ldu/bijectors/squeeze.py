"""Glow's squeeze: 2x2 space-to-depth of an image, a pure reshuffle."""
import tensorflow as tf

from tfp_ldu.bijectors import shape_checks
from tfp_ldu.bijectors.instance_cached import InstanceCachedBijector

__all__ = ["Squeeze", "squeezed_shape"]


def squeezed_shape(image_shape, owner="Squeeze"):
  """`(H, W, C) -> (H / 2, W / 2, 4 C)`, with a clear error for odd H or W.

  Raises:
    ValueError: unless `image_shape` is three positive ints with H and W even.
  """
  shape = shape_checks.check_image_shape(owner, image_shape)
  height, width, channels = shape
  if height % 2 or width % 2:
    raise ValueError(f"{owner}: a 2x2 squeeze needs an even height and width; got "
                     f"image_shape (H, W, C) = {shape}.")
  return height // 2, width // 2, 4 * channels


class Squeeze(InstanceCachedBijector):
  """2x2 squeeze `[..., H, W, C] <-> [..., H/2, W/2, 4C]` (data -> latent = `inverse`).

  Data -> latent (`inverse`, the squeeze): each 2x2 block of pixels becomes
  one pixel with four times the channels, in Glow's channel-major order
  (openai/glow `tfops.squeeze2d`, also TFP's `tfb.Glow` "Expand"):

      z[..., i, j, 4 c + 2 dy + dx] = x[..., 2 i + dy, 2 j + dx, c]

  for dy, dx in {0, 1}: channels 4c .. 4c + 3 are the four spatial
  neighbours of input channel c.  A split of the squeezed channels into
  halves therefore splits the input channels when C is even, and the rows
  (dy = 0 | dy = 1) of each 2x2 block when C = 1 — unlike
  `tf.nn.space_to_depth` (Flow++), whose order is (dy, dx, c): channel
  2 C dy + C dx + c.  `forward` is the reverse shuffle (unsqueeze).  Both
  directions only move values, so the log-determinant is 0 (returned with
  the batch shape, `[...]`).

  Any number of batch dimensions works, known or not; the event shapes are
  static (`forward_event_shape((H/2, W/2, 4C)) = (H, W, C)`), so chains with
  image bijectors after the squeeze know their shapes.

  #### Example

  ```python
  squeeze = Squeeze((4, 4, 1))
  z = squeeze.inverse(tf.reshape(tf.range(16.), [1, 4, 4, 1]))   # [1, 2, 2, 4]
  z[0, 0, 0]                     # [0., 1., 4., 5.]: the top-left 2x2 block
  ```

  #### References

  [1] Dinh, Sohl-Dickstein, Bengio. Density estimation using Real NVP.
      ICLR 2017. https://arxiv.org/abs/1605.08803
  [2] Kingma, Dhariwal. Glow: Generative Flow with Invertible 1x1
      Convolutions. NeurIPS 2018. https://arxiv.org/abs/1807.03039
  """

  def __init__(self, image_shape, validate_args=False, name="squeeze"):
    """Builds the bijector.

    Args:
      image_shape: `(H, W, C)` of the data side (H and W even).
      validate_args: TFP's flag (shapes are checked statically here).
      name: name scope.

    Raises:
      ValueError: for odd H or W or a malformed `image_shape`.
    """
    parameters = dict(locals())
    self._squeezed_shape = squeezed_shape(image_shape, type(self).__name__)
    self._image_shape = tuple(int(d) for d in image_shape)
    with tf.name_scope(name) as name:
      super().__init__(forward_min_event_ndims=3, inverse_min_event_ndims=3,
                       validate_args=validate_args, parameters=parameters, name=name)

  @classmethod
  def _parameter_properties(cls, dtype):
    return dict()

  image_shape = property(lambda self: self._image_shape,
                         doc="`(H, W, C)`, the data-side event shape.")
  squeezed_shape = property(lambda self: self._squeezed_shape,
                            doc="`(H/2, W/2, 4C)`, the latent-side event shape.")

  def _reshuffle(self, x, in_shape, split_shape, permutation, out_shape):
    """Reshape `[..., *in_shape]` to `split_shape`, transpose, reshape to `out_shape`."""
    shape_checks.check_event_shape(type(self).__name__, x, in_shape, 3)
    batch_shape = tf.shape(x)[:-3]
    blocks = tf.reshape(x, [-1, *split_shape])
    moved = tf.transpose(blocks, [0, *permutation])
    out = tf.reshape(moved, tf.concat([batch_shape, out_shape], axis=0))
    if x.shape.rank is not None:
      out.set_shape(x.shape[:-3].concatenate(out_shape))
    return out

  def _inverse(self, y):
    """Squeeze `[..., H, W, C] -> [..., H/2, W/2, 4C]`."""
    height, width, channels = self._image_shape
    # [b, H/2, dy, W/2, dx, C] -> [b, H/2, W/2, C, dy, dx]: channel 4c + 2dy + dx.
    return self._reshuffle(y, self._image_shape,
                           [height // 2, 2, width // 2, 2, channels], [1, 3, 5, 2, 4],
                           self._squeezed_shape)

  def _forward(self, x):
    """Unsqueeze `[..., H/2, W/2, 4C] -> [..., H, W, C]`."""
    half_height, half_width, _ = self._squeezed_shape
    channels = self._image_shape[-1]
    # [b, H/2, W/2, C, dy, dx] -> [b, H/2, dy, W/2, dx, C].
    return self._reshuffle(x, self._squeezed_shape,
                           [half_height, half_width, channels, 2, 2], [1, 4, 2, 5, 3],
                           self._image_shape)

  def _inverse_log_det_jacobian(self, y):
    return tf.zeros(tf.shape(y)[:-3], dtype=y.dtype)

  def _forward_log_det_jacobian(self, x):
    return tf.zeros(tf.shape(x)[:-3], dtype=x.dtype)

  def _forward_event_shape(self, input_shape):
    return tf.TensorShape(self._image_shape)

  def _forward_event_shape_tensor(self, input_shape):
    return tf.constant(self._image_shape, dtype=tf.int32)

  def _inverse_event_shape(self, output_shape):
    return tf.TensorShape(self._squeezed_shape)

  def _inverse_event_shape_tensor(self, output_shape):
    return tf.constant(self._squeezed_shape, dtype=tf.int32)
