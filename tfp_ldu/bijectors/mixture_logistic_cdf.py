"""The mixture-of-logistics CDF transformer of Flow++ (Ho et al., ICML 2019)."""
import tensorflow as tf
from tensorflow_probability.python.internal import assert_util
from tensorflow_probability.python.internal import dtype_util
from tensorflow_probability.python.internal import parameter_properties
from tensorflow_probability.python.internal import tensor_util

from tfp_ldu.bijectors import shape_checks
from tfp_ldu.bijectors.numeric_inverse_bijector import NumericInverseBijector
from tfp_ldu.solvers import invert_by_bisection

__all__ = ["MixtureLogisticCDF"]


class MixtureLogisticCDF(NumericInverseBijector):
  """Element-wise `z = logit(F(x)) e^a + b`, F a mixture of logistic CDFs.

  For data `x` (shape `[..., D]`), per dimension i with K components,
  pi = softmax(`logits`), mu = `locs`, s = max(`log_scales`, `min_log_scale`)
  and t_ik = (x_i - mu_ik) e^{-s_ik}:

      F(x_i)     = sum_k pi_ik sigma(t_ik)
      z_i        = (log F(x_i) - log(1 - F(x_i))) e^{a_i} + b_i
      log f(x_i) = logsumexp_k(log pi_ik - s_ik + log sigma(t_ik) + log sigma(-t_ik))
      inverse_log_det_jacobian = sum_i [log f(x_i) - log F(x_i) - log(1 - F(x_i)) + a_i]

  with a = `log_a`, b = `b`.  log F and log(1 - F) are log-sum-exps of
  log-sigmoids (log(1 - sigma(t)) = log sigma(-t)), never logs of F itself, so
  `inverse` and its log-det stay finite far in the tails (|x| = 1e4 and
  beyond); clamping the log-scales from below (Flow++ uses -7) keeps the
  components from collapsing to steps.

  `forward` (latent -> data) solves `inverse(x) = z` by bisection, per
  element, with implicit-function gradients.  The bracket is provably valid:
  with u = (z - b) e^{-a}, `inverse(x) = z` iff F(x) = sigma(u), and component
  k's CDF sigma((x - mu_k) e^{-s_k}) equals sigma(u) exactly at
  x_k = mu_k + e^{s_k} u.  At x_lo = min_k x_k every component CDF is at most
  sigma(u) (each is increasing and x_lo <= x_k), so their convex combination
  F(x_lo) <= sigma(u); likewise F(x_hi) >= sigma(u) at x_hi = max_k x_k.  F is
  continuous and strictly increasing, so the root is unique and lies in
  [x_lo, x_hi], whose width is at most
  (max_k mu_k - min_k mu_k) + |u| (max_k e^{s_k} - min_k e^{s_k}).

  Each halving halves the bracket; the solve stops once the bracket is at most
  `tolerance * (1 + |midpoint|)` wide, so the returned midpoint is within half
  of that of the root, and it is reported as not converged (see
  `tfp_ldu.solvers`) if `num_halvings` halvings do not get there, i.e. if the
  bracket width exceeds `tolerance * (1 + |x|) * 2**num_halvings`.  The
  default 64 halvings cover widths up to 1.8e9 at the float64 default
  tolerance 1e-10 (latents at +-30 with scales up to e^5 need about 45).

  #### Example

  ```python
  d, k = 2, 3
  bij = MixtureLogisticCDF(logits=tf.zeros([d, k]), locs=tf.random.normal([d, k]),
                           log_scales=tf.zeros([d, k]), log_a=tf.zeros([d]),
                           b=tf.zeros([d]))
  dist = tfd.TransformedDistribution(tfd.MultivariateNormalDiag(tf.zeros(d)), bij)
  dist.log_prob(tf.constant([[0.3, -1.2]]))
  ```

  #### References

  [1] Ho, Chen, Srinivas, Duan, Abbeel. Flow++: Improving Flow-Based Generative
      Models with Variational Dequantization and Architecture Design.
      https://arxiv.org/abs/1902.00275
  """

  def __init__(self, logits, locs, log_scales, log_a, b, min_log_scale=-7.,
               tolerance=None, num_halvings=64, validate_args=False,
               name="mixture_logistic_cdf"):
    """Builds the bijector.

    Args:
      logits: `[..., D, K]` unnormalised log mixture weights.
      locs: `[..., D, K]` component locations mu.
      log_scales: `[..., D, K]` component log-scales s (clamped from below).
      log_a: `[..., D]` log of the output scale a.
      b: `[..., D]` output shift.
      min_log_scale: Python float, lower clamp of `log_scales`.
      tolerance: bracket-width tolerance of `forward`'s bisection (default
        1e-5 in float32, 1e-10 in float64), relative to 1 + |x|.
      num_halvings: static Python int, the cap on halvings of `forward`.
      validate_args: check that the parameters are finite.
      name: name scope.

    Raises:
      ValueError: if the parameter shapes disagree (the message names the
        expected and received shapes) or `num_halvings` is not a positive int.
    """
    parameters = dict(locals())
    if not isinstance(num_halvings, int) or num_halvings < 1:
      raise ValueError(f"MixtureLogisticCDF: num_halvings must be a positive Python "
                       f"int; got {num_halvings!r}.")
    with tf.name_scope(name) as name:
      dtype = dtype_util.common_dtype([logits, locs, log_scales, log_a, b],
                                      dtype_hint=tf.float32)
      convert = lambda v, n: tensor_util.convert_nonref_to_tensor(v, dtype=dtype, name=n)
      self._logits = convert(logits, "logits")
      self._locs = convert(locs, "locs")
      self._log_scales = convert(log_scales, "log_scales")
      self._log_a = convert(log_a, "log_a")
      self._b = convert(b, "b")
      d, k = shape_checks.event_and_components("MixtureLogisticCDF", "logits",
                                               self._logits)
      shape_checks.check_parameter_shapes(
          "MixtureLogisticCDF",
          dict(locs=(d, k), log_scales=(d, k), log_a=(d,), b=(d,)),
          dict(locs=self._locs, log_scales=self._log_scales, log_a=self._log_a,
               b=self._b))
      self._min_log_scale = float(min_log_scale)
      self._tolerance = tolerance
      self._num_halvings = num_halvings
      super().__init__(event_shape=[d], forward_min_event_ndims=1,
                       validate_args=validate_args, parameters=parameters, dtype=dtype,
                       name=name)

  @classmethod
  def _parameter_properties(cls, dtype):
    return dict(
        logits=parameter_properties.ParameterProperties(event_ndims=2),
        locs=parameter_properties.ParameterProperties(event_ndims=2),
        log_scales=parameter_properties.ParameterProperties(event_ndims=2),
        log_a=parameter_properties.ParameterProperties(event_ndims=1),
        b=parameter_properties.ParameterProperties(event_ndims=1))

  logits = property(lambda self: self._logits, doc="`[..., D, K]` mixture logits.")
  locs = property(lambda self: self._locs, doc="`[..., D, K]` locations mu.")
  log_scales = property(lambda self: self._log_scales,
                        doc="`[..., D, K]` log-scales s, before clamping.")
  log_a = property(lambda self: self._log_a, doc="`[..., D]` log output scale a.")
  b = property(lambda self: self._b, doc="`[..., D]` output shift b.")
  min_log_scale = property(lambda self: self._min_log_scale,
                           doc="Lower clamp of the log-scales.")

  @classmethod
  def _is_increasing(cls):
    return True

  def _clamped_log_scales(self):
    return tf.maximum(self._log_scales, tf.constant(self._min_log_scale, self.dtype))

  def _log_cdf_sf_density(self, x):
    """log F, log(1 - F) and log f at `x`, each `[..., D]`."""
    self._check_event(x)
    log_scales = self._clamped_log_scales()
    log_weights = tf.math.log_softmax(self._logits, axis=-1)
    t = (x[..., tf.newaxis] - self._locs) * tf.exp(-log_scales)
    log_sigmoid_t = tf.math.log_sigmoid(t)
    log_sigmoid_minus_t = tf.math.log_sigmoid(-t)
    log_cdf = tf.reduce_logsumexp(log_weights + log_sigmoid_t, axis=-1)
    log_sf = tf.reduce_logsumexp(log_weights + log_sigmoid_minus_t, axis=-1)
    log_density = tf.reduce_logsumexp(
        log_weights - log_scales + log_sigmoid_t + log_sigmoid_minus_t, axis=-1)
    return log_cdf, log_sf, log_density

  def _inverse(self, y):
    log_cdf, log_sf, _ = self._log_cdf_sf_density(y)
    return (log_cdf - log_sf) * tf.exp(self._log_a) + self._b

  def _log_derivative(self, y):
    """log dz/dx element-wise, `[..., D]`."""
    log_cdf, log_sf, log_density = self._log_cdf_sf_density(y)
    return log_density - log_cdf - log_sf + self._log_a

  def _inverse_log_det_jacobian(self, y):
    return tf.reduce_sum(self._log_derivative(y), axis=-1)

  def _bracket(self, z):
    """[x_lo, x_hi] holding the root of `inverse(x) = z` (see the class docstring)."""
    u = (z - self._b) * tf.exp(-self._log_a)
    component_roots = self._locs + tf.exp(self._clamped_log_scales()) * u[..., tf.newaxis]
    return (tf.reduce_min(component_roots, axis=-1),
            tf.reduce_max(component_roots, axis=-1))

  def _solve_forward(self, x):
    """Latent -> data by bisection."""
    lower, upper = self._bracket(x)
    return invert_by_bisection(
        self._inverse, x, lower, upper, num_halvings=self._num_halvings,
        tolerance=self._tolerance, what="MixtureLogisticCDF.forward",
        diagonal_jacobian_fn=lambda y: tf.exp(self._log_derivative(y)))

  def _parameter_control_dependencies(self, is_init):
    if not self.validate_args:
      return []
    assertions = []
    for name in ("logits", "locs", "log_scales", "log_a", "b"):
      parameter = getattr(self, f"_{name}")
      if is_init != tensor_util.is_ref(parameter):
        assertions.append(assert_util.assert_equal(
            tf.reduce_all(tf.math.is_finite(parameter)), True,
            message=f"MixtureLogisticCDF: parameter `{name}` must be finite."))
    return assertions
