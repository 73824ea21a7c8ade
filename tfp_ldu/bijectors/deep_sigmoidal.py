"""The deep sigmoidal flow of Neural Autoregressive Flows (Huang et al., ICML 2018)."""
import tensorflow as tf

from tfp_ldu.bijectors.last_input_cache import LastInputCache
from tfp_ldu.bijectors.mixture_logistic_cdf import MixtureLogisticCDF
from tfp_ldu.bijectors.numeric_inverse_bijector import NumericInverseBijector
from tfp_ldu.solvers import (NumericInverse, attach_implicit_gradient, bounded_loop,
                             default_tolerance, require_converged, truncation_limit)

__all__ = ["DeepSigmoidal"]

# Below this raw slope, log softplus(r) = r to within e^r / 2 < 5e-14.
_LOG_SOFTPLUS_LINEAR_BELOW = -30.


def _log_softplus(raw):
  """log(softplus(raw)), finite (with finite gradients) for every finite `raw`."""
  safe = tf.maximum(raw, _LOG_SOFTPLUS_LINEAR_BELOW)
  return tf.where(raw > _LOG_SOFTPLUS_LINEAR_BELOW, tf.math.log(tf.math.softplus(safe)),
                  raw)


class DeepSigmoidal(NumericInverseBijector):
  """NAF-DSF: per dimension, `z_i = logit(sum_k w_ik sigma(a_ik x_i + b_ik))`.

  For data `x` (shape `[..., D]`), a conditioner maps x to raw parameters
  `[..., D, 3K]` whose row i depends on x_{<i} only (a MADE), read as

      w_i = softmax(out[..., i, 0:K]),   a_i = softplus(out[..., i, K:2K]),
      b_i = out[..., i, 2K:3K]

  and, data -> latent (`inverse`, one pass),

      z_i = logit(F_i(x_i)),   F_i(x_i) = sum_k w_ik sigma(a_ik x_i + b_ik)
      inverse_log_det_jacobian = sum_i log dz_i/dx_i     (the Jacobian is triangular)

  F_i is a mixture of logistic CDFs with locations -b_ik / a_ik and scales
  1 / a_ik, so each dimension is a `MixtureLogisticCDF` (log-scales
  s = -log a, output scale 1, shift 0): its log-space maths, exact log-det
  and bracketed bisection are reused, not re-derived.  As in
  `MixtureLogisticCDF`, the log-scales are clamped at `min_log_scale`, i.e.
  the slopes at a <= e^{-min_log_scale} (the location uses the clamped slope,
  so the map stays exactly `sigma(a x + b)` per component).  Computed in log
  space, z is finite and onto the real line (no clipping of F as in the NAF
  code).

  `forward` (latent -> data) runs sweeps on the shared bounded loop: a sweep
  computes the parameters from the current x and solves every dimension's
  scalar equation by bisection on `MixtureLogisticCDF`'s proven bracket.  Row
  i of the parameters depends on x_{<i} only, so after sweep j the first j
  dimensions (in the conditioner's order) are exact and the sweep after the
  D-th changes nothing: at most D + 1 sweeps, the last confirming (a row
  stops once a sweep moves no element by more than `tolerance * (1 + |x|)`).
  A sweep's bisection that fails, or sweeps that hit the cap, are reported
  the library's way (raise eagerly, assert in graphs, NaN under XLA).

  Gradients of `forward` come from the implicit-function theorem, never from
  the loop: with J = dz/dx (lower triangular, positive diagonal d), the
  adjoint lambda J = g is solved on the equation F(x) / d = z / d (d held
  fixed at the root), whose Jacobian D^{-1} J is the identity plus a strictly
  triangular part, so the shared adjoint iteration is exact after D sweeps,
  as for `TriangularShift`.

  Shapes: `x`, `z` are `[..., D]`; `conditioner_fn` maps `[..., D]` to
  `[..., D, 3K]`.  The bijector holds no variables: the conditioner is
  typically a Keras layer (`tfp_ldu.nets.MADE`) owned by a Keras model.

  #### Example

  ```python
  from tfp_ldu.nets import MADE
  made = MADE(3, hidden_units=(16,), params_per_dim=3 * 4)
  bij = DeepSigmoidal(made, event_size=3, num_components=4)
  x = tf.constant([[0.5, -1.0, 2.0]])
  z = bij.inverse(x)                        # one pass
  x_back = bij.forward(tf.identity(z))      # at most 3 + 1 sweeps
  bij.solve_forward(tf.identity(z)).num_iterations
  ```

  #### References

  [1] Huang, Krueger, Lacoste, Courville. Neural Autoregressive Flows.
      ICML 2018. https://arxiv.org/abs/1804.00779
  [2] Germain, Gregor, Murray, Larochelle. MADE: Masked Autoencoder for
      Distribution Estimation. https://arxiv.org/abs/1502.03509
  """

  def __init__(self, conditioner_fn, event_size, num_components, min_log_scale=-7.,
               tolerance=None, num_halvings=64, validate_args=False,
               name="deep_sigmoidal"):
    """Builds the bijector.

    Args:
      conditioner_fn: callable `[..., D] -> [..., D, 3K]`, row i depending on
        x_{<i} only (the layout is in the class docstring).
      event_size: D, a positive Python int (the cap on sweeps is D + 1).
      num_components: K, a positive Python int.
      min_log_scale: lower clamp of the components' log-scales -log a.
      tolerance: step tolerance of the sweeps and of each bisection (default
        1e-5 in float32, 1e-10 in float64; relative to 1 + |x|).
      num_halvings: static Python int, the cap on halvings of each bisection.
      validate_args: passed to the per-dimension `MixtureLogisticCDF`s.
      name: name scope.

    Raises:
      ValueError: if `event_size` or `num_components` is not a positive int.
    """
    parameters = dict(locals())
    for arg, value in (("event_size", event_size), ("num_components", num_components)):
      if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"DeepSigmoidal: {arg} must be a positive Python int; "
                         f"got {value!r}.")
    with tf.name_scope(name) as name:
      self._conditioner_fn = conditioner_fn
      self._event_size = event_size
      self._num_components = num_components
      self._min_log_scale = float(min_log_scale)
      self._tolerance = tolerance
      self._num_halvings = num_halvings
      # Built once per input tensor: inverse and log-det share it.
      self._cached_transformer = LastInputCache(self._transformer)
      super().__init__(event_shape=[event_size], forward_min_event_ndims=1,
                       validate_args=validate_args, parameters=parameters, name=name)

  @classmethod
  def _parameter_properties(cls, dtype):
    return dict()

  conditioner_fn = property(lambda self: self._conditioner_fn,
                            doc="`[..., D] -> [..., D, 3K]` raw parameters.")
  event_size = property(lambda self: self._event_size, doc="D.")
  num_components = property(lambda self: self._num_components, doc="K.")

  def _raw_parameters(self, x):
    """The conditioner's `[..., D, 3K]` output, shape-checked."""
    self._check_event(x)
    raw = tf.convert_to_tensor(self._conditioner_fn(x))
    expected = tf.TensorShape([self._event_size, 3 * self._num_components])
    shape = tf.TensorShape(raw.shape)
    if shape.rank is not None and (shape.rank < 2 or
                                   not shape[-2:].is_compatible_with(expected)):
      raise ValueError(
          f"DeepSigmoidal: conditioner_fn must return shape [..., {self._event_size}, "
          f"{3 * self._num_components}] (D = {self._event_size} rows of 3K = "
          f"3 * {self._num_components} raw parameters: logits, slopes, shifts); "
          f"received shape {shape.as_list()} for input shape {list(x.shape)}.")
    return raw

  def _transformer(self, x):
    """The `MixtureLogisticCDF` of every dimension at the parameters from `x`.

    It acts on `[..., D, 1]` (a batch of D scalar problems), so its
    log-det with `event_ndims=1` is the per-dimension log-derivative.
    """
    k = self._num_components
    raw = self._raw_parameters(x)
    logits, raw_slopes, shifts = raw[..., :k], raw[..., k:2 * k], raw[..., 2 * k:]
    log_scales = tf.maximum(-_log_softplus(raw_slopes),
                            tf.constant(self._min_log_scale, raw.dtype))
    locs = -shifts * tf.exp(log_scales)
    zeros = tf.zeros_like(raw[..., :1])
    return MixtureLogisticCDF(
        logits[..., tf.newaxis, :], locs[..., tf.newaxis, :],
        log_scales[..., tf.newaxis, :], log_a=zeros, b=zeros,
        min_log_scale=self._min_log_scale, tolerance=self._tolerance,
        num_halvings=self._num_halvings, validate_args=self.validate_args)

  def _inverse(self, y):
    return self._cached_transformer(y).inverse(y[..., tf.newaxis])[..., 0]

  def _log_derivatives(self, y, transformer=None):
    """log dz_i/dx_i, `[..., D]`."""
    if transformer is None:
      transformer = self._cached_transformer(y)
    return transformer.inverse_log_det_jacobian(y[..., tf.newaxis], event_ndims=1)

  def _inverse_log_det_jacobian(self, y):
    return tf.reduce_sum(self._log_derivatives(y), axis=-1)

  def _solve_forward(self, x):
    """Latent -> data by at most D + 1 sweeps of element-wise bisections."""
    target = x[..., tf.newaxis]
    tolerance = default_tolerance(x.dtype) if self._tolerance is None else self._tolerance
    max_sweeps = self._event_size + 1
    what = f"{type(self).__name__}.forward"

    def sweep(current):
      return self._transformer(current).solve_forward(target).value[..., 0]

    def sweep_changed_nothing(old, new):
      # Element-wise, then all: XLA's reduce_max drops NaNs, so a max of the
      # steps would let a failed (NaN) bisection pass as converged.
      close = tf.abs(new - old) <= tolerance * (1. + tf.abs(new))
      return tf.reduce_all(close, axis=-1)

    result = bounded_loop(sweep, sweep_changed_nothing, x, tf.shape(x)[:-1], max_sweeps)
    num_unconverged = tf.reduce_sum(tf.cast(tf.logical_not(result.converged), tf.int32))
    if truncation_limit() is not None:  # Opt-in: the last iterate, as it is.
      return NumericInverse(result.state, result.num_iterations, num_unconverged)
    root = tf.stop_gradient(require_converged(result.state, result.converged, what=what,
                                              max_iterations=max_sweeps))
    # Diagonally preconditioned equation F(x) / d = z / d: its Jacobian is
    # I + (strictly triangular), so the adjoint iteration ends after D sweeps.
    diagonal = tf.stop_gradient(
        tf.exp(self._log_derivatives(root, self._transformer(root))))
    root = attach_implicit_gradient(
        lambda y: self._transformer(y).inverse(y[..., tf.newaxis])[..., 0] / diagonal,
        root, x / diagonal, tolerance=tolerance, max_iterations_adjoint=max_sweeps,
        event_ndims=1)
    return NumericInverse(root, result.num_iterations, num_unconverged)
