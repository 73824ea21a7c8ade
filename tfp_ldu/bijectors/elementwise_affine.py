"""Element-wise affine map with log-determinants of the batch shape."""
import tensorflow as tf

from tfp_ldu.bijectors.instance_cached import InstanceCachedBijector

__all__ = ["ElementwiseAffine"]


class ElementwiseAffine(InstanceCachedBijector):
  """`x = z * exp(log_scale) + shift` (latent -> data, `forward`).

  Data -> latent (`inverse`):

      z = (x - shift) * exp(-log_scale)
      inverse_log_det_jacobian(x) = -sum_{event dims} log_scale   (broadcast to x)

  `shift` and `log_scale` broadcast against the input: `[C]` or `[H, W, C]`
  for an image actnorm (`event_ndims=3`: the log-det of a per-channel scale
  is H * W * sum(log_scale)), `[..., D_t]` per element for the transformer
  of a coupling (`event_ndims=1`).  Either may be None (no shift; scale 1).

  Unlike `tfb.Chain([tfb.Shift, tfb.Scale])`, whose log-determinant is a
  scalar when the parameters carry no batch dimensions, the log-determinant
  here always has the input's batch shape `[...]` (the input's shape without
  its last `event_ndims` dimensions), so every layer of a flow reports one
  value per example, also the additive (shift-only) couplings.

  This is the transformer of Glow's affine coupling (z = (x + t) sigmoid(h),
  i.e. shift = -t, log_scale = -log sigmoid(h)), of NICE's additive coupling
  (shift = -t), of Glow's split prior (shift = mu, log_scale = log sigma) and
  the map of the image actnorms.
  """

  def __init__(self, shift=None, log_scale=None, event_ndims=0, validate_args=False,
               name="elementwise_affine"):
    """Builds the bijector.

    Args:
      shift: tensor broadcasting against the input, or None.
      log_scale: tensor broadcasting against the input, or None.
      event_ndims: the event rank (the log-det sums over the last
        `event_ndims` dimensions).
      validate_args: TFP's flag (unused: no run-time checks).
      name: name scope.

    Raises:
      ValueError: if both `shift` and `log_scale` are None.
    """
    parameters = dict(locals())
    if shift is None and log_scale is None:
      raise ValueError("ElementwiseAffine: give a shift, a log_scale or both.")
    with tf.name_scope(name) as name:
      reference = log_scale if shift is None else shift
      dtype = tf.convert_to_tensor(reference).dtype
      self._shift = None if shift is None else tf.convert_to_tensor(shift, dtype)
      self._log_scale = None if log_scale is None else tf.convert_to_tensor(log_scale, dtype)
      super().__init__(forward_min_event_ndims=int(event_ndims), dtype=dtype,
                       validate_args=validate_args, parameters=parameters, name=name)

  @classmethod
  def _parameter_properties(cls, dtype):
    return dict()

  shift = property(lambda self: self._shift, doc="The shift (or None).")
  log_scale = property(lambda self: self._log_scale, doc="The log-scale (or None).")

  def _forward(self, x):
    if self._log_scale is not None:
      x = x * tf.exp(self._log_scale)
    return x if self._shift is None else x + self._shift

  def _inverse(self, y):
    if self._shift is not None:
      y = y - self._shift
    return y if self._log_scale is None else y * tf.exp(-self._log_scale)

  def _summed_log_scale(self, x):
    """sum of log_scale broadcast to x over the event dims: shape `[...]` (batch)."""
    event_ndims = self.forward_min_event_ndims
    if self._log_scale is None:
      full = tf.zeros_like(x)
    else:
      full = self._log_scale + tf.zeros_like(x)
    if event_ndims == 0:
      return full
    return tf.reduce_sum(full, axis=list(range(-event_ndims, 0)))

  def _forward_log_det_jacobian(self, x):
    return self._summed_log_scale(x)

  def _inverse_log_det_jacobian(self, y):
    return -self._summed_log_scale(y)
