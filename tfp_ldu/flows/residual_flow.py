"""Residual Flow (Chen et al., 2019; i-ResNet, Behrmann et al., 2019) as a Keras model."""
import keras

from tfp_ldu.flows.flow_model import FlowModel
from tfp_ldu.layers.flatten_event import FlattenEvent
from tfp_ldu.layers.flatten_event import flat_event_shape
from tfp_ldu.layers.actnorm import ActNorm
from tfp_ldu.layers.residual_block import ResidualBlock

__all__ = ["ResidualFlow"]


@keras.saving.register_keras_serializable(package="tfp_ldu")
class ResidualFlow(FlowModel):
  """`num_blocks` pairs (ActNorm, residual block), then a final ActNorm.

      T(x) = A_B+1(R_B(A_B(... R_1(A_1(x))))),   R_b(x) = x + g_b(x),  Lip(g_b) < 1
      log p(x) = log N(T(x); 0, I) + sum_b log det(I + J_{g_b}) - sum_b sum_i s_{b,i}

  Training (`fit`, `training=True`) uses the unbiased Russian-roulette
  log-det estimator (2 exact terms, geometric(0.5), Neumann-series gradient:
  the paper's settings); `log_prob` / `evaluate` use the exact log-det for
  D <= `exact_log_det_max_dim` and the roulette estimate with 20 exact terms
  otherwise.  Sampling solves each block by fixed-point iteration.

  Same interface as `LDUFlow`.  There is no dropout: its 1/(1-rate)
  rescaling would break the Lipschitz bound of the blocks.

  Args:
    event_shape: D (an int or `(D,)`).
    num_blocks: residual blocks.
    hidden_units: hidden sizes of each block's `LipschitzMLP`.
    coeff: per-layer spectral-norm bound (Lip(g) <= coeff^(len(hidden_units)+1)).
    n_power_iterations: power-iteration steps per training step.
    n_exact_terms, roulette, p, rate, n_probes, neumann_gradient: the
      training estimator (see `tfp_ldu.layers.ResidualBlock`).
    exact_log_det_max_dim, evaluation_n_exact_terms: the evaluation estimator.
    tolerance, max_iterations: fixed-point settings used by `sample`.
    seed: base seed of the blocks' estimator seeds (block b uses seed + b).
    **kwargs: `FlowModel` arguments (`context_shape` and `context_net` for a
      conditional flow p(x | c): R_b(x) = x + g_b(x, c), Lipschitz < 1 in x).
  """

  takes_context = True

  def __init__(self, event_shape, num_blocks=10, hidden_units=(128, 128), coeff=0.97,
               n_power_iterations=5, n_exact_terms=2, roulette="geometric", p=0.5, rate=2.0,
               n_probes=1, neumann_gradient=True, exact_log_det_max_dim=16,
               evaluation_n_exact_terms=20, tolerance=None, max_iterations=1000, seed=None,
               **kwargs):
    super().__init__(event_shape, latent_shape=flat_event_shape(event_shape), **kwargs)
    self.num_blocks = int(num_blocks)
    self.hidden_units = tuple(int(h) for h in hidden_units)
    self.block_options = dict(
        coeff=float(coeff), n_power_iterations=int(n_power_iterations),
        n_exact_terms=int(n_exact_terms), roulette=roulette, p=float(p), rate=float(rate),
        n_probes=int(n_probes), neumann_gradient=bool(neumann_gradient),
        exact_log_det_max_dim=int(exact_log_det_max_dim),
        evaluation_n_exact_terms=int(evaluation_n_exact_terms), tolerance=tolerance,
        max_iterations=int(max_iterations))
    self.seed = seed
    self.actnorms = [ActNorm(self.event_size, name=f"actnorm_{i}", dtype=self.dtype_policy)
                     for i in range(self.num_blocks + 1)]
    self.blocks = [
        ResidualBlock(self.event_size, self.hidden_units,
                      seed=None if seed is None else seed + i, context_size=self.context_size,
                      name=f"residual_block_{i}",
                      dtype=self.dtype_policy, **self.block_options)
        for i in range(self.num_blocks)]
    flatten = FlattenEvent(self.event_shape, name="flatten_event")  # images -> [D]
    self.flow_layers = [flatten, *[layer for pair in zip(self.actnorms, self.blocks)
                                   for layer in pair]]
    self.flow_layers.append(self.actnorms[-1])

  def get_config(self):
    return {**super().get_config(),
            "num_blocks": self.num_blocks, "hidden_units": list(self.hidden_units),
            "seed": self.seed, **self.block_options}
