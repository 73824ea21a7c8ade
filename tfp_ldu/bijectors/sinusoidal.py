"""The sinusoidal transformer of Sinusoidal Flow (Wei, ACML 2021)."""
import tensorflow as tf
from tensorflow_probability.python.bijectors import softplus as softplus_bijector
from tensorflow_probability.python.bijectors import tanh as tanh_bijector
from tensorflow_probability.python.internal import assert_util
from tensorflow_probability.python.internal import dtype_util
from tensorflow_probability.python.internal import parameter_properties
from tensorflow_probability.python.internal import tensor_util

from tfp_ldu.bijectors import shape_checks
from tfp_ldu.bijectors.numeric_inverse_bijector import NumericInverseBijector
from tfp_ldu.solvers import invert_by_fixed_point, invert_by_newton

# Up to this many dimensions the sums over the K components run as matrix
# products with block-diagonal `[D, DK]` matrices (`Sinusoidal._weighted_sums`),
# whose cost grows as D^2 K: above it, as the element-wise chain (O(D K)).
# One D-scale's value, log-det and gradients, batch 128, K = 4, 2 cores, ms,
# block-diagonal / element-wise: D = 8 0.37 / 0.45, 32 0.50 / 0.67, 64 1.14 /
# 0.88, 128 2.3 / 2.1, 256 7.3 / 2.8, 784 39 / 4.5 (bench/sinusoidal_kernels.py,
# docs/performance.md).
BLOCK_DIAGONAL_MAX_EVENT_SIZE = 64

__all__ = ["Sinusoidal"]


class Sinusoidal(NumericInverseBijector):
  """Element-wise sinusoidal transformer; closed form data -> latent as `inverse`.

  For data `x` (shape `[..., D]`), with `u_ik = a_ik x_i + b_ik`:

      z_i = x_i + r_i sum_k w_ik (sin 2b_ik - sin 2u_ik) / (2 a_ik) + c_i
      dz_i/dx_i = 1 - r_i sum_k w_ik cos 2u_ik  in  [1 - |r_i|, 1 + |r_i|]
      inverse_log_det_jacobian = sum_i log1p(-r_i sum_k w_ik cos 2u_ik)

  where a = `in_scale` > 0, b = `in_shift`, w = `mix_weights` (on the simplex
  over K), c = `out_shift`, r = `residual_scale` in (-1, 1).  Since the
  residual part has Lipschitz constant <= max|r| < 1, `forward` (latent ->
  data) can solve the map by the Picard fixed-point iteration
  x <- z - c - g(x) (`solver="fixed_point"`), which converges geometrically
  with rate |r| — slowly when |r| is near 1, as in trained flows.  The default
  `solver="newton"` iterates the Newton map x <- x - (F(x) - z) / F'(x)
  instead, safeguarded by the bracket x in [z - c - B, z - c + B] with
  B = |r| sum_k w_k / a_k (since |g| <= B): quadratic convergence near the
  root, never worse than bisection.  Both run on the shared bounded loop, and
  the gradients of `forward` come from the implicit-function theorem.

  Like `tfb.MaskedAutoregressiveFlow`, the cheap direction is `inverse`, so
  `tfd.TransformedDistribution(base, Sinusoidal(...)).log_prob` is one pass.

  #### Example

  ```python
  d, k = 2, 4
  bij = Sinusoidal(in_scale=tf.ones([d, k]), in_shift=tf.zeros([d, k]),
                   mix_weights=tf.fill([d, k], 0.25), out_shift=tf.zeros([d]),
                   residual_scale=tf.fill([d], 0.5))
  dist = tfd.TransformedDistribution(tfd.MultivariateNormalDiag(tf.zeros(d)), bij)
  dist.log_prob(tf.constant([[0.3, -1.2]]))
  ```

  #### References

  [1] Yumou Wei. Sinusoidal Flow: A Fast Invertible Autoregressive Flow.
      ACML 2021. https://arxiv.org/abs/2110.13344
  """

  def __init__(self, in_scale, in_shift, mix_weights, out_shift, residual_scale,
               tolerance=None, max_iterations=1000, solver="newton",
               validate_args=False, name="sinusoidal"):
    """Builds the bijector.

    Args:
      in_scale: `[..., D, K]` positive input scales a.
      in_shift: `[..., D, K]` input shifts b.
      mix_weights: `[..., D, K]` mixture weights w, summing to 1 over K.
      out_shift: `[..., D]` output shift c.
      residual_scale: `[..., D]` residual scale r with |r| < 1.
      tolerance: fixed-point step tolerance of `forward` (default 1e-5 in
        float32, 1e-10 in float64).
      max_iterations: static cap on the iterations of `forward`.
      solver: "newton" (bracketed Newton, the default) or "fixed_point"
        (Picard iteration, rate |r|) for `forward`.
      validate_args: check the parameter constraints.
      name: name scope.

    Raises:
      ValueError: if the parameter shapes disagree (the message names the
        expected and received shapes), or for an unknown `solver`.
    """
    parameters = dict(locals())
    with tf.name_scope(name) as name:
      dtype = dtype_util.common_dtype(
          [in_scale, in_shift, mix_weights, out_shift, residual_scale],
          dtype_hint=tf.float32)
      convert = lambda v, n: tensor_util.convert_nonref_to_tensor(v, dtype=dtype, name=n)
      self._in_scale = convert(in_scale, "in_scale")
      self._in_shift = convert(in_shift, "in_shift")
      self._mix_weights = convert(mix_weights, "mix_weights")
      self._out_shift = convert(out_shift, "out_shift")
      self._residual_scale = convert(residual_scale, "residual_scale")
      d, k = shape_checks.event_and_components("Sinusoidal", "in_scale", self._in_scale)
      self._event_and_components = (d, k)
      shape_checks.check_parameter_shapes(
          "Sinusoidal",
          dict(in_shift=(d, k), mix_weights=(d, k), out_shift=(d,), residual_scale=(d,)),
          dict(in_shift=self._in_shift, mix_weights=self._mix_weights,
               out_shift=self._out_shift, residual_scale=self._residual_scale))
      if solver not in ("newton", "fixed_point"):
        raise ValueError(f'Sinusoidal: solver must be "newton" or "fixed_point"; '
                         f"got {solver!r}.")
      self._solver = solver
      self._tolerance = tolerance
      self._max_iterations = max_iterations
      super().__init__(event_shape=[d], forward_min_event_ndims=1,
                       validate_args=validate_args, parameters=parameters, dtype=dtype,
                       name=name)

  @classmethod
  def _parameter_properties(cls, dtype):
    return dict(
        in_scale=parameter_properties.ParameterProperties(
            event_ndims=2,
            default_constraining_bijector_fn=(
                lambda: softplus_bijector.Softplus(low=dtype_util.eps(dtype)))),
        in_shift=parameter_properties.ParameterProperties(event_ndims=2),
        mix_weights=parameter_properties.ParameterProperties(
            event_ndims=2,
            default_constraining_bijector_fn=parameter_properties.BIJECTOR_NOT_IMPLEMENTED),
        out_shift=parameter_properties.ParameterProperties(event_ndims=1),
        residual_scale=parameter_properties.ParameterProperties(
            event_ndims=1, default_constraining_bijector_fn=tanh_bijector.Tanh))

  in_scale = property(lambda self: self._in_scale, doc="`[..., D, K]` a > 0.")
  in_shift = property(lambda self: self._in_shift, doc="`[..., D, K]` b.")
  mix_weights = property(lambda self: self._mix_weights, doc="`[..., D, K]` w.")
  out_shift = property(lambda self: self._out_shift, doc="`[..., D]` c.")
  residual_scale = property(lambda self: self._residual_scale, doc="`[..., D]` r.")

  @classmethod
  def _is_increasing(cls):
    return True

  def _uses_block_diagonal(self, y):
    """Whether `_weighted_sums` runs as block-diagonal matrix products for `y`."""
    d, k = self._event_and_components
    return (all(t.shape.rank == 2 for t in (self._in_scale, self._mix_weights))
            and d is not None and k is not None and y.shape.rank is not None
            and d <= BLOCK_DIAGONAL_MAX_EVENT_SIZE)

  def _kernels(self, block_diagonal, sines=True, cosines=True):
    """The parameter-only tensors of `_weighted_sums` and z, as a dict.

    Computed once per evaluation, or once per solve by `_solve_forward`,
    outside the solver's loop (which would otherwise repeat them every
    iteration: with a conditional D-scale's per-row shifts b they are
    `[N, D, K]` of work).  Only what the sums asked for: `weights["sine"]`
    and `offset` = sum_k w_k sin(2 b_k) / (2 a_k), the sum at x = 0,
    `[..., D]`, with `sines`; `weights["cosine"]` with `cosines`.
    """
    a, b, w = self._in_scale, self._in_shift, self._mix_weights
    weights = {}
    kernels = {}
    if sines:
      weights["sine"] = w / (2. * a)
      kernels["offset"] = tf.reduce_sum(weights["sine"] * tf.sin(2. * b), axis=-1)
    if cosines:
      weights["cosine"] = w
    if not block_diagonal:
      return dict(kernels, a=a, two_b=2. * b, weights=weights)
    d, k = self._event_and_components
    eye = tf.eye(d, dtype=a.dtype)
    block_rows = lambda m: tf.reshape(eye[:, :, tf.newaxis] * m, [d, d * k])  # [D, DK]
    block_cols = lambda m: tf.reshape(m[:, :, tf.newaxis] * eye[:, tf.newaxis, :],
                                      [d * k, d])  # [DK, D]
    return dict(kernels, rows=block_rows(2. * a),
                two_b=tf.reshape(2. * b, tf.concat([tf.shape(b)[:-2], [d * k]], 0)),
                weights={name: block_cols(m) for name, m in weights.items()})

  def _weighted_sums(self, y, sines=True, cosines=True, kernels=None):
    """(sum_k w_k sin(2u_k) / (2a_k), sum_k w_k cos 2u_k), each `[..., D]` (or None).

    With unbatched scales and weights (a, w `[D, K]`, as in an LDU block)
    the phases and the sums over k are matrix products with block-diagonal
    `[D, DK]` and `[DK, D]` matrices, 2u = y E + 2b and sums = f(2u) Q:
    three vectorised kernels instead of a chain of `[..., D, K]` element-wise
    ops (faster on CPUs for large batches at small D; docs/performance.md),
    up to D = `BLOCK_DIAGONAL_MAX_EVENT_SIZE`: the matrices hold D^2 K
    entries, so above it the element-wise chain runs.  The shifts b may carry batch
    axes (a conditional D-scale's per-context phases): then 2b is added to
    y E by broadcasting.  `kernels`: `_kernels()` of the same path, if the
    caller evaluates the sums many times.
    """
    self._check_event(y)
    block_diagonal = self._uses_block_diagonal(y)
    kernels = self._kernels(block_diagonal, sines, cosines) if kernels is None else kernels
    weights = kernels["weights"]
    if not block_diagonal:
      v = kernels["a"] * (2. * y[..., tf.newaxis]) + kernels["two_b"]
      return (tf.reduce_sum(weights["sine"] * tf.sin(v), axis=-1) if sines else None,
              tf.reduce_sum(weights["cosine"] * tf.cos(v), axis=-1) if cosines else None)
    d, k = self._event_and_components
    if self._in_shift.shape.rank == 2:
      flat = tf.reshape(y, [-1, d])
      v = tf.nn.bias_add(tf.matmul(flat, kernels["rows"]), kernels["two_b"])
      shape = tf.shape(y)
    else:  # [..., D, K] shifts: [..., DK] phases, broadcast against y's batch axes.
      v = tf.matmul(y if y.shape.rank > 1 else y[tf.newaxis], kernels["rows"])
      v += kernels["two_b"]
      shape = tf.concat([tf.shape(v)[:-1], [d]], 0)
      v = tf.reshape(v, [-1, d * k])
    unflatten = lambda t: tf.reshape(t, shape)
    return (unflatten(tf.matmul(tf.sin(v), weights["sine"])) if sines else None,
            unflatten(tf.matmul(tf.cos(v), weights["cosine"])) if cosines else None)

  def _inverse(self, y, kernels=None):
    """z(y); `kernels` (`_kernels`) computed once by a caller that evaluates z often."""
    if kernels is None:
      kernels = self._kernels(self._uses_block_diagonal(y), cosines=False)
    sines, _ = self._weighted_sums(y, cosines=False, kernels=kernels)
    return y + self._residual_scale * (kernels["offset"] - sines) + self._out_shift

  def _mixed_cos(self, y, kernels=None):
    """sum_k w_k cos 2u_k, `[..., D]`; dz/dx = 1 - r * this."""
    return self._weighted_sums(y, sines=False, kernels=kernels)[1]

  def _derivative(self, y, kernels=None):
    """dz/dx element-wise, `[..., D]`."""
    return 1. - self._residual_scale * self._mixed_cos(y, kernels)

  def _inverse_log_det_jacobian(self, y):
    # log1p keeps full precision where r * mixed_cos is small.
    return tf.reduce_sum(tf.math.log1p(-self._residual_scale * self._mixed_cos(y)), axis=-1)

  def _solve_forward(self, x):
    """Latent -> data by the chosen iteration."""
    # The parameter-only tensors once, outside the solver's loop.
    kernels = self._kernels(self._uses_block_diagonal(x))
    inverse = lambda y: self._inverse(y, kernels)
    common = dict(tolerance=self._tolerance, max_iterations=self._max_iterations,
                  what="Sinusoidal.forward",
                  diagonal_jacobian_fn=lambda y: self._derivative(y, kernels))
    if self._solver == "fixed_point":
      return invert_by_fixed_point(inverse, x, event_ndims=0, **common)
    center = x - self._out_shift
    # |g(x)| <= |r| sum_k w_k / a_k bounds the root's distance from z - c.
    radius = (tf.abs(self._residual_scale)
              * tf.reduce_sum(self._mix_weights / self._in_scale, axis=-1))
    radius = radius * (1. + 1e-6) + dtype_util.eps(x.dtype) * (1. + tf.abs(center))
    return invert_by_newton(inverse, x, center - radius, center + radius,
                            initial=center, **common)

  def _parameter_control_dependencies(self, is_init):
    if not self.validate_args:
      return []
    assertions = []
    if is_init != tensor_util.is_ref(self._in_scale):
      assertions.append(assert_util.assert_positive(
          self._in_scale, message="Sinusoidal: parameter `in_scale` must be positive."))
    if is_init != tensor_util.is_ref(self._mix_weights):
      w = tf.convert_to_tensor(self._mix_weights)
      assertions.append(assert_util.assert_non_negative(
          w, message="Sinusoidal: parameter `mix_weights` must be non-negative."))
      assertions.append(assert_util.assert_near(
          tf.reduce_sum(w, axis=-1), tf.ones([], w.dtype),
          atol=10 * dtype_util.eps(w.dtype),
          message="Sinusoidal: parameter `mix_weights` must sum to 1 over K."))
    if is_init != tensor_util.is_ref(self._residual_scale):
      assertions.append(assert_util.assert_less(
          tf.abs(self._residual_scale), tf.ones([], self.dtype),
          message="Sinusoidal: parameter `residual_scale` must satisfy |r| < 1."))
    return assertions
