"""Volume-preserving triangular shift z = x + s(x), s strictly autoregressive."""
import tensorflow as tf

from tfp_ldu.bijectors.numeric_inverse_bijector import NumericInverseBijector
from tfp_ldu.solvers import invert_by_fixed_point

__all__ = ["TriangularShift"]


class TriangularShift(NumericInverseBijector):
  """`inverse(x) = x + shift_fn(x)` with a strictly triangular Jacobian of shift_fn.

  For `upper=False` (the L of an LDU block), `shift_fn(x)[..., i]` depends only
  on `x[..., :i]`; for `upper=True` (the U), only on `x[..., i+1:]`.  The
  Jacobian I + S has S strictly triangular, so

      inverse_log_det_jacobian = 0,

  and the Picard iteration x <- z - shift_fn(x) used by `forward` is exact
  after at most D sweeps (sweep k fixes entry k in the dependency order); the
  solver stops earlier when a sweep changes nothing, and its cap is D + 1 (the
  last sweep confirms convergence).  Gradients of `forward` come from the
  implicit-function theorem, solved by the same iteration on the adjoint.

  Shapes: `x`, `z` are `[..., D]`; `shift_fn` maps `[..., D] -> [..., D]`.  The
  bijector holds no variables: `shift_fn` is typically a Keras layer (e.g.
  `tfp_ldu.nets.MADE`) owned by a Keras model.

  #### Example

  ```python
  shift_fn = lambda x: tf.concat([tf.zeros_like(x[..., :1]), tf.sin(x[..., :-1])], -1)
  bij = TriangularShift(shift_fn, upper=False, event_size=3)
  x = tf.constant([[0.5, -1.0, 2.0]])
  z = bij.inverse(x)                       # [[0.5, -0.52, 1.16]]
  x_back = bij.forward(tf.identity(z))     # 3 sweeps (+1 to confirm)
  ```

  #### References

  [1] Yumou Wei. Sinusoidal Flow: A Fast Invertible Autoregressive Flow.
      ACML 2021. https://arxiv.org/abs/2110.13344
  [2] Germain, Gregor, Murray, Larochelle. MADE: Masked Autoencoder for
      Distribution Estimation. https://arxiv.org/abs/1502.03509
  """

  def __init__(self, shift_fn, upper=False, event_size=None, tolerance=None,
               validate_args=False, name=None):
    """Builds the bijector.

    Args:
      shift_fn: callable `[..., D] -> [..., D]`, strictly autoregressive in the
        order given by `upper`.
      upper: False if output i depends on inputs < i, True if on inputs > i.
      event_size: D, if known; otherwise read from the input's static shape
        (required by `forward`, whose iteration cap is D + 1).
      tolerance: step tolerance of the sweeps (default 1e-5 in float32,
        1e-10 in float64).
      validate_args: unused (no parameter constraints); kept for the TFP API.
      name: name scope (default "upper_triangular_shift"/"lower_triangular_shift").
    """
    parameters = dict(locals())
    name = name or ("upper_triangular_shift" if upper else "lower_triangular_shift")
    with tf.name_scope(name) as name:
      self._shift_fn = shift_fn
      self._upper = bool(upper)
      self._event_size = event_size
      self._tolerance = tolerance
      super().__init__(event_shape=[event_size], forward_min_event_ndims=1,
                       is_constant_jacobian=True,
                       validate_args=validate_args, parameters=parameters, name=name)

  @classmethod
  def _parameter_properties(cls, dtype):
    return dict()

  @property
  def shift_fn(self):
    return self._shift_fn

  @property
  def upper(self):
    return self._upper

  def _shift(self, x):
    self._check_event(x)
    shift = self._shift_fn(x)
    if tf.TensorShape(shift.shape)[-1:] != tf.TensorShape(x.shape)[-1:]:
      raise ValueError(f"TriangularShift: shift_fn must map [..., D] to [..., D]; "
                       f"got input shape {list(x.shape)} and output shape "
                       f"{list(shift.shape)}.")
    return shift

  def _inverse(self, y):
    return y + self._shift(y)

  def _inverse_log_det_jacobian(self, y):
    return tf.zeros(tf.shape(y)[:-1], dtype=y.dtype)

  def _solve_forward(self, x):
    """Latent -> data by at most D + 1 sweeps."""
    event_size = self._event_size or tf.compat.dimension_value(x.shape[-1])
    if event_size is None:
      raise ValueError("TriangularShift.forward needs a static event size D: pass "
                       "`event_size` or an input with a known last dimension.")
    return invert_by_fixed_point(
        self._inverse, x, tolerance=self._tolerance, max_iterations=event_size + 1,
        event_ndims=1, what=f"{type(self).__name__}.forward")
