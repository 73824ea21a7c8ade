"""One LDU block of Sinusoidal Flow: upper shift, D-scales, lower shift."""
import tensorflow as tf

from tfp_ldu.bijectors.numeric_inverse_bijector import NumericInverseBijector
from tfp_ldu.bijectors.numeric_inverse_bijector import solve_forward
from tfp_ldu.bijectors.triangular_shift import TriangularShift
from tfp_ldu.solvers import NumericInverse

__all__ = ["LDU"]


class LDU(NumericInverseBijector):
  """`z = L(D_n(...D_1(U(x))))` (data -> latent, as `inverse`).

  U is an upper `TriangularShift`, D_1..D_n are element-wise D-scales (usually
  `Sinusoidal`), L a lower `TriangularShift`.  The block's Jacobian is dense,
  but since the shifts are volume-preserving its log-determinant is exactly

      inverse_log_det_jacobian(x) = sum_j ildj_{D_j}(D_{j-1}(...U(x))).

  `forward` (latent -> data) runs the three numeric inverses in reverse order.
  Shapes: `[..., D] -> [..., D]`.

  #### References

  [1] Yumou Wei. Sinusoidal Flow: A Fast Invertible Autoregressive Flow.
      ACML 2021. https://arxiv.org/abs/2110.13344
  """

  def __init__(self, lower_shift_fn, d_scales, upper_shift_fn, event_size=None,
               tolerance=None, validate_args=False, name="ldu"):
    """Builds the block.

    Args:
      lower_shift_fn: strictly lower-autoregressive `[..., D] -> [..., D]`.
      d_scales: list of element-wise bijectors with `forward_min_event_ndims`
        1 (e.g. `Sinusoidal`), applied in list order in the data -> latent pass.
      upper_shift_fn: strictly upper-autoregressive `[..., D] -> [..., D]`.
      event_size: D, if known (else read from inputs).
      tolerance: tolerance of the shifts' sweeps.
      validate_args: passed to the shifts.
      name: name scope.
    """
    parameters = dict(locals())
    with tf.name_scope(name) as name:
      self._upper = TriangularShift(upper_shift_fn, upper=True, event_size=event_size,
                                    tolerance=tolerance, validate_args=validate_args)
      self._lower = TriangularShift(lower_shift_fn, upper=False, event_size=event_size,
                                    tolerance=tolerance, validate_args=validate_args)
      self._d_scales = list(d_scales)
      if not self._d_scales:
        raise ValueError("LDU: `d_scales` must hold at least one bijector.")
      dtype = self._d_scales[0].dtype
      super().__init__(event_shape=[event_size], forward_min_event_ndims=1,
                       validate_args=validate_args, parameters=parameters, dtype=dtype,
                       name=name)

  @classmethod
  def _parameter_properties(cls, dtype):
    return dict()

  @property
  def bijectors(self):
    """The parts in data -> latent order: [U, D_1, ..., D_n, L]."""
    return [self._upper, *self._d_scales, self._lower]

  def _inverse(self, y):
    for part in self.bijectors:
      y = part.inverse(y)
    return y

  def _inverse_log_det_jacobian(self, y):
    # Each part's inverse is cached by TFP, so this pass reuses `_inverse`'s work.
    total = tf.zeros(tf.shape(y)[:-1], dtype=y.dtype)
    for part in self.bijectors:
      total += part.inverse_log_det_jacobian(y, event_ndims=1)
      y = part.inverse(y)
    return total

  def _solve_forward(self, x):
    """Latent -> data: the parts' solves in reverse order (`NumericInverse.combine`)."""
    solves = []
    for part in reversed(self.bijectors):
      solves.append(solve_forward(part, x))
      x = solves[-1].value
    return NumericInverse.combine(solves)
