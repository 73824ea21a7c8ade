"""The planar flow of Rezende & Mohamed (2015), sampled by a proven scalar bisection."""
import tensorflow as tf
from tensorflow_probability.python.internal import assert_util
from tensorflow_probability.python.internal import dtype_util
from tensorflow_probability.python.internal import parameter_properties
from tensorflow_probability.python.internal import tensor_util

from tfp_ldu.bijectors.numeric_inverse_bijector import NumericInverseBijector
from tfp_ldu.solvers import invert_by_bisection

__all__ = ["Planar"]


class Planar(NumericInverseBijector):
  """`z = x + u_hat tanh(w^T x + b)`, data -> latent as `inverse`.

  For data `x` (shape `[..., D]`), with u_hat = `u_hat`, w = `w` (both `[D]`),
  b = `b` (scalar), a = w^T x + b and c = w^T u_hat (a scalar):

      inverse(x)               = x + u_hat tanh(a)                  [..., D]
      inverse_log_det_jacobian = log1p(c sech^2(a))                 [...]

  by the matrix determinant lemma, det(I + tanh'(a) u_hat w^T) = 1 + tanh'(a) c.

  Batches of maps: `u_hat` and `w` may be `[..., D]` and `b` `[...]`, their
  batch axes broadcasting against each other and against x's (TFP's batch
  shape of the bijector): row n of x then goes through the map of row n of
  the parameters.  A conditional `tfp_ldu.layers.PlanarLayer` builds one map
  per context this way; a and c are then `[...]` too, and `forward` solves
  each row's scalar equation with its own c and b.
  The map is invertible iff c >= -1 (Rezende & Mohamed, appendix A); this
  bijector takes an already constrained `u_hat` with c > -1 (see
  `tfp_ldu.layers.PlanarLayer`, which builds u_hat from a free u).
  sech^2(a) = 1 - tanh^2(a) is computed as 4 e^{-2|a|} / (1 + e^{-2|a|})^2,
  which stays accurate (and positive) where tanh(a) rounds to +-1.

  `forward` (latent -> data) reduces to one scalar equation.  Writing
  t = w^T z and alpha = w^T x, any solution of `inverse(x) = z` satisfies
  x = z - u_hat tanh(alpha + b), hence (taking w^T of both sides)

      g(alpha) := alpha + c tanh(alpha + b) = t.                     (*)

  Conversely, if alpha solves (*) then x = z - u_hat tanh(alpha + b) has
  w^T x = t - c tanh(alpha + b) = alpha and so `inverse(x) = z`.
  g'(alpha) = 1 + c sech^2(alpha + b) >= 1 + min(c, 0) > 0 for c > -1, so g is
  continuous and strictly increasing and (*) has exactly one root.

  Bracket (proof).  Let r = |c|.  Since |tanh| <= 1,
  g(t - r) = t - r + c tanh(.) <= t and g(t + r) = t + r + c tanh(.) >= t, so
  the root lies in [t - r, t + r] (widened by a few ulps of t for rounding).
  `invert_by_bisection` halves it until it is at most
  `tolerance * (1 + |alpha|)` wide, which takes about log2(2 |c| / tolerance)
  halvings (35 for |c| = 1 at the float64 default tolerance 1e-10), and
  reports the rows that `num_halvings` halvings do not settle as not
  converged (`tfp_ldu.solvers`).  The root's gradients (with respect to t, c
  and b) are implicit: d alpha = (dt - tanh(alpha + b) dc - c sech^2 db) / g';
  x = z - u_hat tanh(alpha + b) is then differentiated by ordinary autodiff.

  #### Example

  ```python
  bij = Planar(u_hat=tf.constant([0.5, -1.0]), w=tf.constant([1.0, 0.3]), b=0.2)
  x = tf.constant([[0.3, -1.2]])
  z = bij.inverse(x)                            # closed form, [1, 2]
  bij.inverse_log_det_jacobian(x, event_ndims=1)  # [1]
  x_back = bij.forward(tf.identity(z))          # one scalar bisection per row
  ```

  #### References

  [1] Rezende, Mohamed. Variational Inference with Normalizing Flows.
      ICML 2015. https://arxiv.org/abs/1505.05770
  """

  def __init__(self, u_hat, w, b, tolerance=None, num_halvings=64, validate_args=False,
               name="planar"):
    """Builds the bijector.

    Args:
      u_hat: `[..., D]` constrained direction u_hat, with w^T u_hat > -1.
      w: `[..., D]` weight vector w.
      b: bias b, a scalar or `[...]` (batch axes broadcasting with those of
        `u_hat` and `w`).
      tolerance: bracket-width tolerance of `forward`'s bisection (default
        1e-5 in float32, 1e-10 in float64), relative to 1 + |alpha|.
      num_halvings: static Python int, the cap on halvings of `forward`.
      validate_args: assert w^T u_hat > -1 and finite parameters.
      name: name scope.

    Raises:
      ValueError: if the parameter shapes disagree (the message names the
        expected and received shapes) or `num_halvings` is not a positive int.
    """
    parameters = dict(locals())
    if (isinstance(num_halvings, bool) or not isinstance(num_halvings, int)
        or num_halvings < 1):
      raise ValueError(f"Planar: num_halvings must be a positive Python int; got "
                       f"{num_halvings!r}.")
    with tf.name_scope(name) as name:
      dtype = dtype_util.common_dtype([u_hat, w, b], dtype_hint=tf.float32)
      convert = lambda v, n: tensor_util.convert_nonref_to_tensor(v, dtype=dtype, name=n)
      self._u_hat = convert(u_hat, "u_hat")
      self._w = convert(w, "w")
      self._b = convert(b, "b")
      d = _check_shapes(self._u_hat, self._w, self._b)
      self._tolerance = tolerance
      self._num_halvings = num_halvings
      super().__init__(event_shape=[d], forward_min_event_ndims=1,
                       validate_args=validate_args, parameters=parameters, dtype=dtype,
                       name=name)

  @classmethod
  def _parameter_properties(cls, dtype):
    return dict(
        u_hat=parameter_properties.ParameterProperties(
            event_ndims=1,
            default_constraining_bijector_fn=parameter_properties.BIJECTOR_NOT_IMPLEMENTED),
        w=parameter_properties.ParameterProperties(event_ndims=1),
        b=parameter_properties.ParameterProperties(event_ndims=0))

  u_hat = property(lambda self: self._u_hat, doc="`[..., D]` constrained direction u_hat.")
  w = property(lambda self: self._w, doc="`[..., D]` weight vector w.")
  b = property(lambda self: self._b, doc="Bias b, scalar or `[...]`.")

  @property
  def w_dot_u_hat(self):
    """c = w^T u_hat (> -1 for an invertible map), a scalar (`[...]` for batched maps)."""
    return tf.reduce_sum(self._w * self._u_hat, axis=-1)

  def _pre_activation(self, x):
    """a = w^T x + b, `[...]`."""
    self._check_event(x)
    return tf.reduce_sum(x * self._w, axis=-1) + self._b

  def _inverse(self, y):
    return y + self._u_hat * tf.tanh(self._pre_activation(y))[..., tf.newaxis]

  def _inverse_log_det_jacobian(self, y):
    return tf.math.log1p(self.w_dot_u_hat * _sech_squared(self._pre_activation(y)))

  def _solve_forward(self, x):
    """Latent -> data: bisection for alpha = w^T x, then x = z - u_hat tanh(alpha + b)."""
    c = self.w_dot_u_hat
    target = tf.reduce_sum(x * self._w, axis=-1)
    radius = tf.abs(c) + 4. * dtype_util.eps(x.dtype) * (1. + tf.abs(target))
    solved = invert_by_bisection(
        lambda alpha: alpha + c * tf.tanh(alpha + self._b), target,
        target - radius, target + radius, num_halvings=self._num_halvings,
        tolerance=self._tolerance, what="Planar.forward",
        diagonal_jacobian_fn=lambda alpha: 1. + c * _sech_squared(alpha + self._b))
    value = x - self._u_hat * tf.tanh(solved.value + self._b)[..., tf.newaxis]
    return solved._replace(value=value)

  def _parameter_control_dependencies(self, is_init):
    if not self.validate_args:
      return []
    assertions = []
    if is_init != (tensor_util.is_ref(self._u_hat) or tensor_util.is_ref(self._w)):
      assertions.append(assert_util.assert_greater(
          self.w_dot_u_hat, -tf.ones([], self.dtype),
          message="Planar: w^T u_hat must be > -1 for the map to be invertible."))
    for name in ("u_hat", "w", "b"):
      parameter = getattr(self, f"_{name}")
      if is_init != tensor_util.is_ref(parameter):
        assertions.append(assert_util.assert_equal(
            tf.reduce_all(tf.math.is_finite(parameter)), True,
            message=f"Planar: parameter `{name}` must be finite."))
    return assertions


def _check_shapes(u_hat, w, b):
  """D from `u_hat` `[..., D]`; `w` must be `[..., D]` and `b` `[...]` (static shapes).

  The batch axes of the three must broadcast (one map per batch row).
  """
  shape, w_shape, b_shape = (tf.TensorShape(t.shape) for t in (u_hat, w, b))
  if shape.rank == 0:
    raise ValueError("Planar: parameter `u_hat` must have shape [..., D]; received shape "
                     "[].")
  d = shape[-1] if shape.rank is not None else None
  if w_shape.rank == 0 or (w_shape.rank is not None
                           and not w_shape[-1:].is_compatible_with([d])):
    expected = "D" if d is None else str(d)
    raise ValueError(f"Planar: parameter `w` must have shape [..., {expected}] (the event "
                     f"size of `u_hat`); received shape {w_shape.as_list()}.")
  if None not in (shape.rank, w_shape.rank, b_shape.rank):
    try:
      tf.broadcast_static_shape(tf.broadcast_static_shape(shape[:-1], w_shape[:-1]),
                                b_shape)
    except ValueError:
      raise ValueError(f"Planar: the batch shapes of `u_hat` {shape[:-1].as_list()}, `w` "
                       f"{w_shape[:-1].as_list()} and `b` {b_shape.as_list()} do not "
                       f"broadcast.") from None
  if d is None and w_shape.rank is not None:
    d = w_shape[-1]
  return d


def _sech_squared(a):
  """sech^2(a) = 4 e^{-2|a|} / (1 + e^{-2|a|})^2, accurate for large |a|."""
  decay = tf.exp(-2. * tf.abs(a))
  return 4. * decay / tf.square(1. + decay)
