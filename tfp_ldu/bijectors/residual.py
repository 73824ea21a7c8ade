"""The invertible residual map of i-ResNet / Residual Flows (Behrmann et al., 2019; Chen et al., 2019)."""
import tensorflow as tf
from tensorflow_probability.python.internal import samplers

from tfp_ldu.bijectors import log_det_estimators
from tfp_ldu.bijectors.numeric_inverse_bijector import NumericInverseBijector
from tfp_ldu.bijectors.roulette import TermSchedule
from tfp_ldu.solvers import invert_by_fixed_point

__all__ = ["LOG_DET_MODES", "Residual"]

LOG_DET_MODES = ("exact", "series", "roulette")


class Residual(NumericInverseBijector):
  """`inverse(x) = x + g(x)` with Lip(g) < 1; `forward` solves it by fixed-point iteration.

  For data `x` (shape `[..., D]`) and a contraction g (e.g. the map of a
  `tfp_ldu.nets.LipschitzMLP`):

      z = x + g(x)                                          (inverse, closed form)
      x = z - g(x),  iterated from x = z                    (forward, Banach)
      inverse_log_det_jacobian = log det(I + J_g(x))
                               = sum_{k>=1} (-1)^{k+1} tr(J_g(x)^k) / k

  The fixed-point iteration converges geometrically at rate Lip(g) (with the
  default cap of 1000 iterations, Lip(g) up to 0.97 reaches the float64
  tolerance: log(1e-10) / log(0.97) ~ 756); its gradients come from the
  implicit-function theorem (`tfp_ldu.solvers.invert_by_fixed_point`).

  `log_det` chooses how the log-determinant is computed
  (`tfp_ldu.bijectors.log_det_estimators`):

  * "exact": the Jacobian by D VJPs and a QR factorisation; O(D) passes of g.
  * "series": the first `n_exact_terms` terms, traces by Hutchinson probes
    (biased by the dropped tail).
  * "roulette": unbiased.  The first `n_exact_terms` terms always, then N more
    with N ~ geometric(p) (P(N >= j) = (1-p)^j) or Poisson(rate), term k
    weighted by 1 / P(N >= k - n_exact_terms); at most `max_terms` terms (see
    `tfp_ldu.bijectors.roulette` for the cap's bias; the default cap is
    changed by a draw with probability <= 1e-9).

  The stochastic modes are stateless: the bijector's `seed` (a `[2]` int
  tensor, a Python int, or None for a fresh seed drawn by
  `tfp.random.sanitize_seed`, i.e. per call of a `tf.function`) fixes the
  probes and N, so an instance gives one estimate per input (TFP caches it).
  Keras layers pass a seed from a `keras.random.SeedGenerator`, which also
  works inside `model.fit` with XLA.  `neumann_gradient=True` gives the
  stochastic modes the memory-saving Neumann-series gradient; g must then
  read its parameters as variables (Keras layers do).

  Like `tfb.MaskedAutoregressiveFlow`, the cheap direction is `inverse`, so
  `tfd.TransformedDistribution(base, Residual(g)).log_prob` is one pass.

  #### Example

  ```python
  net = tfp_ldu.nets.LipschitzMLP(2, hidden_units=(64, 64))
  net.build((None, 2))
  bij = Residual(net.lipschitz_map(training=False), log_det="exact")
  dist = tfd.TransformedDistribution(tfd.MultivariateNormalDiag(tf.zeros(2)), bij)
  dist.log_prob(tf.constant([[0.3, -1.2]]))
  ```

  #### References

  [1] Behrmann, Grathwohl, Chen, Duvenaud, Jacobsen. Invertible Residual
      Networks. https://arxiv.org/abs/1811.00995
  [2] Chen, Behrmann, Duvenaud, Jacobsen. Residual Flows for Invertible
      Generative Modeling. https://arxiv.org/abs/1906.02735
  """

  def __init__(self, g_fn, log_det="roulette", n_exact_terms=2, roulette="geometric",
               p=0.5, rate=2.0, n_probes=1, probe="gaussian", max_terms=None,
               neumann_gradient=False, seed=None, event_size=None, tolerance=None,
               max_iterations=1000, context=None, validate_args=False, name="residual"):
    """Builds the bijector.

    Args:
      g_fn: the residual g, `[..., D] -> [..., D]`, acting on each event
        independently, with Lipschitz constant < 1.
      log_det: "exact", "series" or "roulette".
      n_exact_terms: terms always computed ("series": the series length).
      roulette: distribution of the extra terms, "geometric" or "poisson".
      p: success probability of the geometric distribution (E[N] = (1-p)/p).
      rate: mean of the Poisson distribution.
      n_probes: Hutchinson probes per event.
      probe: "gaussian" or "rademacher".
      max_terms: static cap on the number of terms ("roulette"); None for the
        smallest cap reached with probability <= 1e-9 (31 for n_exact_terms=2
        and geometric(0.5), 17 for Poisson(2)).
      neumann_gradient: memory-saving Neumann-series gradient ("series" and
        "roulette" only).
      seed: stateless seed of the estimators.
      event_size: D, if known (else read from inputs).
      tolerance: fixed-point step tolerance of `forward` (default 1e-5 in
        float32, 1e-10 in float64).
      max_iterations: static cap on fixed-point iterations of `forward`.
      context: None, or a tensor g takes as its second argument, `g_fn(x,
        context)` (a conditional residual's context features `[N, C]`,
        row n with event n); the Neumann gradient reaches it as an input.
      validate_args: unused (constraints are checked in Python); TFP API.
      name: name scope.

    Raises:
      ValueError: for an unknown mode, distribution or probe, a non-positive
        count, or `neumann_gradient` with the exact mode.
    """
    parameters = dict(locals())
    if log_det not in LOG_DET_MODES:
      raise ValueError(f"Residual: log_det must be one of {LOG_DET_MODES}; got {log_det!r}.")
    if probe not in log_det_estimators.PROBE_DISTRIBUTIONS:
      raise ValueError(f"Residual: probe must be one of "
                       f"{log_det_estimators.PROBE_DISTRIBUTIONS}; got {probe!r}.")
    if int(n_probes) < 1:
      raise ValueError(f"Residual: n_probes must be >= 1; got {n_probes}.")
    if neumann_gradient and log_det == "exact":
      raise ValueError("Residual: neumann_gradient applies to the 'series' and "
                       "'roulette' estimators, not to log_det='exact'.")
    with tf.name_scope(name) as name:
      self._g_fn = g_fn
      self._log_det = log_det
      if log_det == "series":
        self._schedule = TermSchedule.fixed(n_exact_terms)
      elif log_det == "roulette":
        self._schedule = TermSchedule.roulette(n_exact_terms, roulette, p, rate, max_terms)
      else:
        self._schedule = None
      self._n_probes = int(n_probes)
      self._probe = probe
      self._neumann_gradient = bool(neumann_gradient)
      self._seed = (None if self._schedule is None
                    else samplers.sanitize_seed(seed, salt="Residual"))
      self._tolerance = tolerance
      self._max_iterations = int(max_iterations)
      self._context = context
      super().__init__(event_shape=[event_size], forward_min_event_ndims=1,
                       validate_args=validate_args, parameters=parameters, name=name)

  @classmethod
  def _parameter_properties(cls, dtype):
    return dict()

  g_fn = property(lambda self: self._g_fn, doc="The residual g.")
  log_det = property(lambda self: self._log_det, doc="The log-det mode.")
  schedule = property(lambda self: self._schedule,
                      doc="The `TermSchedule` of the power series (None if exact).")
  seed = property(lambda self: self._seed, doc="Stateless seed `[2]` (None if exact).")

  def _residual(self, x):
    self._check_event(x)
    value = self._g_fn(x) if self._context is None else self._g_fn(x, self._context)
    if tf.TensorShape(value.shape)[-1:] != tf.TensorShape(x.shape)[-1:]:
      raise ValueError(f"Residual: g_fn must map [..., D] to [..., D]; got input shape "
                       f"{list(x.shape)} and output shape {list(value.shape)}.")
    return value

  def _inverse(self, y):
    return y + self._residual(y)

  def _inverse_log_det_jacobian(self, y):
    if self._schedule is None:
      return log_det_estimators.exact_log_det(self._residual, y)
    return log_det_estimators.power_series_log_det(
        self._g_fn, y, self._schedule, n_probes=self._n_probes, seed=self._seed,
        context=self._context, probe=self._probe, neumann_gradient=self._neumann_gradient)

  def _solve_forward(self, x):
    """Latent -> data by fixed-point iteration."""
    return invert_by_fixed_point(
        self._inverse, x, tolerance=self._tolerance, max_iterations=self._max_iterations,
        event_ndims=1, what="Residual.forward")
