"""Glow's invertible 1x1 convolution with an LU-factored kernel."""
import tensorflow as tf

from tfp_ldu.bijectors import shape_checks
from tfp_ldu.bijectors.instance_cached import InstanceCachedBijector

__all__ = ["Conv1x1LU"]


class Conv1x1LU(InstanceCachedBijector):
  """Per-pixel channel mixing `z = W x`, `W = P L (U + diag(sign * exp(log_s)))`.

  With L unit lower-triangular (from the strictly lower part of `lower`), U
  strictly upper-triangular (from the strictly upper part of `upper`), P a
  fixed permutation matrix and s = sign * exp(log_s) the diagonal of the
  upper factor, data -> latent (`inverse`) multiplies every pixel's channel
  vector by W:

      z[..., h, w, :] = W x[..., h, w, :]
      inverse_log_det_jacobian(x) = H * W * sum(log_s)       per image `[...]`

  since log|det W| = sum log|s| (det P = +-1, det L = 1).  Latent -> data
  (`forward`) is closed form: x = U_s^{-1} L^{-1} P^T z by two triangular
  solves.  The parts outside the triangles of `lower` and `upper` are
  ignored (a Keras layer can hold full square weights and get zero
  gradients there).

  Shapes: input `[..., H, W, C]` (event rank 3, any batch dims); `permutation`,
  `lower`, `upper` `[C, C]`; `log_s`, `sign` `[C]`.

  #### References

  [1] Kingma, Dhariwal. Glow: Generative Flow with Invertible 1x1
      Convolutions. NeurIPS 2018, section 3.2 (LU decomposition).
      https://arxiv.org/abs/1807.03039
  """

  def __init__(self, permutation, lower, upper, log_s, sign, validate_args=False,
               name="conv1x1_lu"):
    """Builds the bijector.

    Args:
      permutation: `[C, C]` permutation matrix P.
      lower: `[C, C]`; its strictly lower triangle is L's.
      upper: `[C, C]`; its strictly upper triangle is U's.
      log_s: `[C]` log |diagonal of the upper factor|.
      sign: `[C]` the diagonal's signs (+1 or -1).
      validate_args: TFP's flag (unused: shapes are checked statically).
      name: name scope.

    Raises:
      ValueError: if the parameters' shapes disagree.
    """
    parameters = dict(locals())
    with tf.name_scope(name) as name:
      self._log_s = tf.convert_to_tensor(log_s)
      dtype = self._log_s.dtype
      self._permutation = tf.convert_to_tensor(permutation, dtype)
      self._lower = tf.convert_to_tensor(lower, dtype)
      self._upper = tf.convert_to_tensor(upper, dtype)
      self._sign = tf.convert_to_tensor(sign, dtype)
      channels = self._log_s.shape[-1]
      shape_checks.check_parameter_shapes(
          type(self).__name__,
          {"permutation": (channels, channels), "lower": (channels, channels),
           "upper": (channels, channels), "sign": (channels,)},
          {"permutation": self._permutation, "lower": self._lower, "upper": self._upper,
           "sign": self._sign})
      self._channels = channels
      super().__init__(forward_min_event_ndims=3, dtype=dtype,
                       validate_args=validate_args, parameters=parameters, name=name)

  @classmethod
  def _parameter_properties(cls, dtype):
    return dict()

  def factors(self):
    """(P, L, U_s): the permutation, unit-lower and upper factors, each `[C, C]`."""
    strictly_lower = tf.linalg.band_part(self._lower, -1, 0) - tf.linalg.band_part(
        self._lower, 0, 0)
    strictly_upper = tf.linalg.band_part(self._upper, 0, -1) - tf.linalg.band_part(
        self._upper, 0, 0)
    eye = tf.eye(self._channels, dtype=self.dtype)
    diagonal = tf.linalg.diag(self._sign * tf.exp(self._log_s))
    return self._permutation, strictly_lower + eye, strictly_upper + diagonal

  def kernel(self):
    """W = P L U_s, `[C, C]` (z = W x per pixel)."""
    permutation, lower, upper = self.factors()
    return permutation @ lower @ upper

  def _inverse(self, y):
    shape_checks.check_event_shape(type(self).__name__, y, [None, None, self._channels], 3)
    # z_c = sum_d W_cd x_d at every pixel.
    return tf.einsum("...d,cd->...c", y, self.kernel())

  def _forward(self, x):
    shape_checks.check_event_shape(type(self).__name__, x, [None, None, self._channels], 3)
    permutation, lower, upper = self.factors()
    columns = tf.transpose(tf.reshape(x, [-1, self._channels]))       # [C, pixels]
    columns = tf.linalg.matmul(permutation, columns, transpose_a=True)  # P^T z
    columns = tf.linalg.triangular_solve(lower, columns, lower=True)
    columns = tf.linalg.triangular_solve(upper, columns, lower=False)
    out = tf.reshape(tf.transpose(columns), tf.shape(x))
    out.set_shape(x.shape)
    return out

  def _log_det_per_image(self, x):
    """H * W * sum(log_s), broadcast to the batch shape `[...]` of `x`."""
    num_pixels = tf.cast(tf.reduce_prod(tf.shape(x)[-3:-1]), self.dtype)
    value = num_pixels * tf.reduce_sum(self._log_s)
    return tf.fill(tf.shape(x)[:-3], value)

  def _inverse_log_det_jacobian(self, y):
    return self._log_det_per_image(y)

  def _forward_log_det_jacobian(self, x):
    return -self._log_det_per_image(x)
