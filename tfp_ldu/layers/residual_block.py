"""Keras layer owning one invertible residual block (i-ResNet / Residual Flows)."""
import keras
import tensorflow as tf

from tfp_ldu.bijectors.residual import Residual
from tfp_ldu.layers.bijector_layer import BijectorLayer
from tfp_ldu.layers.bijector_layer import vector_event_size
from tfp_ldu.nets.context_inputs import check_context
from tfp_ldu.nets.lipschitz_mlp import LipschitzMLP

__all__ = ["ResidualBlock"]


@keras.saving.register_keras_serializable(package="tfp_ldu")
class ResidualBlock(BijectorLayer):
  """Owns a `LipschitzMLP` g; `bijector(training)` builds `Residual(g)`.

      z = x + g(x),   Lip(g) <= coeff^L < 1,   shapes `[..., D] -> [..., D]`.

  The log-determinant estimator depends on the Keras `training` flag:

  * training: the unbiased Russian-roulette estimator with `n_exact_terms`
    exact terms and geometric(`p`) / Poisson(`rate`) extra terms (Residual
    Flows' settings: 2 terms, geometric(0.5)), with the Neumann-series
    gradient if `neumann_gradient`; the spectral-norm state is updated.
  * otherwise (`log_prob`, `evaluate`): the exact log-determinant if
    D <= `exact_log_det_max_dim` (D passes of g), else the unbiased roulette
    estimate with `evaluation_n_exact_terms` exact terms (Residual Flows
    evaluates with 20).

  The estimators' seeds come from a `keras.random.SeedGenerator` (a state
  variable, so a fresh seed per call also inside `model.fit` with XLA).
  """

  def __init__(self, event_shape, hidden_units=(64, 64), coeff=0.97, n_power_iterations=5,
               n_exact_terms=2, roulette="geometric", p=0.5, rate=2.0, n_probes=1,
               probe="gaussian", neumann_gradient=True, exact_log_det_max_dim=16,
               evaluation_n_exact_terms=20, tolerance=None, max_iterations=1000, seed=None,
               context_size=0, **kwargs):
    """Builds the layer.

    Args:
      event_shape: `(D,)` (or D).
      hidden_units: hidden sizes of g.
      coeff: per-layer spectral-norm bound of g, in (0, 1).
      n_power_iterations: power-iteration steps per training call.
      n_exact_terms, roulette, p, rate, n_probes, probe, neumann_gradient:
        the training estimator (see `tfp_ldu.bijectors.Residual`).
      exact_log_det_max_dim: largest D evaluated with the exact log-det.
      evaluation_n_exact_terms: exact terms of the evaluation estimator when
        D > `exact_log_det_max_dim`.
      tolerance, max_iterations: fixed-point settings of `forward` (sampling).
      seed: initial seed of the layer's seed generator (None: random).
      context_size: C > 0 for a conditional block z = x + g(x, c)
        (`bijector(context=c)`, c `[N, C]`): g stays Lipschitz < 1 in x
        (`LipschitzMLP(context_size=C)`), c enters freely.
      **kwargs: standard Keras layer arguments (`name`, `dtype`, ...).
    """
    super().__init__(**kwargs)
    self.event_size = vector_event_size(type(self).__name__, event_shape)
    self.hidden_units = tuple(int(h) for h in hidden_units)
    self.coeff = float(coeff)
    self.n_power_iterations = int(n_power_iterations)
    self.n_exact_terms = int(n_exact_terms)
    self.roulette = roulette
    self.p = float(p)
    self.rate = float(rate)
    self.n_probes = int(n_probes)
    self.probe = probe
    self.neumann_gradient = bool(neumann_gradient)
    self.exact_log_det_max_dim = int(exact_log_det_max_dim)
    self.evaluation_n_exact_terms = int(evaluation_n_exact_terms)
    self.tolerance = tolerance
    self.max_iterations = int(max_iterations)
    self.seed = seed
    self.context_size = int(context_size)
    self.net = LipschitzMLP(self.event_size, self.hidden_units, coeff=self.coeff,
                            n_power_iterations=self.n_power_iterations,
                            context_size=self.context_size, name="lipschitz_mlp",
                            dtype=self.dtype_policy)
    self.net.build((None, self.event_size))
    self.seed_generator = keras.random.SeedGenerator(seed, name="estimator_seed")
    self.built = True

  def _next_seed(self):
    return tf.cast(self.seed_generator.next(), tf.int32)

  def bijector(self, training=None, context=None):
    """A fresh `Residual` over the current weights, its estimator chosen by `training`."""
    check_context(type(self).__name__, self.context_size, context)
    common = dict(event_size=self.event_size, tolerance=self.tolerance,
                  max_iterations=self.max_iterations, context=context)
    g = self.net.lipschitz_map(training)
    if training:
      return Residual(g, log_det="roulette", n_exact_terms=self.n_exact_terms,
                      roulette=self.roulette, p=self.p, rate=self.rate,
                      n_probes=self.n_probes, probe=self.probe,
                      neumann_gradient=self.neumann_gradient, seed=self._next_seed(),
                      **common)
    if self.event_size <= self.exact_log_det_max_dim:
      return Residual(g, log_det="exact", **common)
    return Residual(g, log_det="roulette", n_exact_terms=self.evaluation_n_exact_terms,
                    roulette=self.roulette, p=self.p, rate=self.rate, n_probes=self.n_probes,
                    probe=self.probe, seed=self._next_seed(), **common)

  def get_config(self):
    return {**super().get_config(), "event_shape": [self.event_size],
            "hidden_units": list(self.hidden_units), "coeff": self.coeff,
            "n_power_iterations": self.n_power_iterations,
            "n_exact_terms": self.n_exact_terms, "roulette": self.roulette, "p": self.p,
            "rate": self.rate, "n_probes": self.n_probes, "probe": self.probe,
            "neumann_gradient": self.neumann_gradient,
            "exact_log_det_max_dim": self.exact_log_det_max_dim,
            "evaluation_n_exact_terms": self.evaluation_n_exact_terms,
            "tolerance": self.tolerance, "max_iterations": self.max_iterations,
            "seed": self.seed, "context_size": self.context_size}
