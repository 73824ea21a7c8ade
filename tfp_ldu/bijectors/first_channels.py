"""A bijector on the first channels of an image; the other channels pass through."""
import tensorflow as tf

from tfp_ldu.bijectors.numeric_inverse_bijector import NumericInverseBijector
from tfp_ldu.bijectors.numeric_inverse_bijector import solve_forward

__all__ = ["FirstChannels"]


class FirstChannels(NumericInverseBijector):
  """Applies `inner` to channels `[0, k)` of `[..., H, W, C]`; channels `[k, C)` pass.

  Data -> latent (`inverse`):

      z[..., :k] = inner.inverse(x[..., :k])
      z[..., k:] = x[..., k:]
      inverse_log_det_jacobian(x) = inner.inverse_log_det_jacobian(x[..., :k])

  (a block-diagonal Jacobian).  `inner` must map `[..., H, W, k]` to the same
  shape.  This is how a multi-scale flow (RealNVP, Glow) runs its later
  levels on the kept half after factoring out the other half.  `forward`
  applies `inner.forward` to the first channels; if `inner` holds numeric
  solves, `solve_forward` reports them.

  Shapes: `[..., H, W, C]`, event rank 3, `image_shape = (H, W, C)`.
  """

  def __init__(self, inner, num_channels, image_shape, validate_args=False,
               name="first_channels"):
    """Builds the bijector.

    Args:
      inner: a `tfb.Bijector` on `[..., H, W, num_channels]` (event rank 3).
      num_channels: k, 0 < k < C.
      image_shape: `(H, W, C)`.
      validate_args: TFP's flag (shapes are checked statically here).
      name: name scope.

    Raises:
      ValueError: unless 0 < k < C.
    """
    parameters = dict(locals())
    image_shape = tuple(int(d) for d in image_shape)
    if len(image_shape) != 3 or not 0 < int(num_channels) < image_shape[-1]:
      raise ValueError(f"FirstChannels: need image_shape (H, W, C) and 0 < num_channels "
                       f"< C; got image_shape {image_shape} and num_channels "
                       f"{num_channels}.")
    with tf.name_scope(name) as name:
      self._inner = inner
      self._num_channels = int(num_channels)
      super().__init__(event_shape=image_shape, forward_min_event_ndims=3,
                       validate_args=validate_args, parameters=parameters, name=name)

  @classmethod
  def _parameter_properties(cls, dtype):
    return dict()

  inner = property(lambda self: self._inner, doc="The bijector on the first channels.")
  num_channels = property(lambda self: self._num_channels, doc="k.")

  def _split(self, x):
    self._check_event(x)
    return x[..., :self._num_channels], x[..., self._num_channels:]

  def _inverse(self, y):
    first, rest = self._split(y)
    return tf.concat([self._inner.inverse(first), rest], axis=-1)

  def _inverse_log_det_jacobian(self, y):
    first, _ = self._split(y)
    return self._inner.inverse_log_det_jacobian(first, event_ndims=3)

  def _solve_forward(self, x):
    first, rest = self._split(x)
    solved = solve_forward(self._inner, first)
    return solved._replace(value=tf.concat([solved.value, rest], axis=-1))
