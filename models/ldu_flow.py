"""The LDU flow of Sinusoidal Flow (Wei, ACML 2021) as a Keras model."""
import keras

from models.flow_model import FlowModel
from tfp_ldu.layers.actnorm import ActNorm
from tfp_ldu.layers.ldu_block import LDUBlock

__all__ = ["LDUFlow"]


@keras.saving.register_keras_serializable(package="tfp_ldu")
class LDUFlow(FlowModel):
  """`num_blocks` LDU blocks (MADE shifts, Sinusoidal D-scales), then ActNorm.

      T(x) = ActNorm(LDU_B(...LDU_1(x))),   log p(x) = log N(T(x); 0, I) + sum ILDJ

  Args:
    event_dim: D.
    num_blocks: LDU blocks (paper: 12 for tabular data, 16 for 2-D toys).
    num_d_scales: Sinusoidal D-scales per block (paper: 4).
    num_mixtures: K, sinusoid components per D-scale (paper: 4).
    hidden_units: MADE hidden sizes (paper: 256-256 for GAS).
    dropout: MADE dropout rate.
    tolerance, max_iterations, solver: numeric-inverse settings of the D-scales
      used by `sample` ("newton", the default, or "fixed_point"; see `Sinusoidal`).
  """

  def __init__(self, event_dim, num_blocks=12, num_d_scales=4, num_mixtures=4,
               hidden_units=(256, 256), dropout=0.0, tolerance=None, max_iterations=1000,
               solver="newton", **kwargs):
    super().__init__(event_dim, **kwargs)
    self.num_blocks = int(num_blocks)
    self.num_d_scales = int(num_d_scales)
    self.num_mixtures = int(num_mixtures)
    self.hidden_units = tuple(int(h) for h in hidden_units)
    self.dropout = float(dropout)
    self.tolerance = tolerance
    self.max_iterations = int(max_iterations)
    self.solver = solver
    self.blocks = [
        LDUBlock(self.event_dim, self.num_d_scales, self.num_mixtures, self.hidden_units,
                 dropout=self.dropout, tolerance=tolerance, max_iterations=max_iterations,
                 solver=solver,
                 name=f"ldu_block_{i}", dtype=self.dtype_policy)
        for i in range(self.num_blocks)]
    self.actnorm = ActNorm(self.event_dim, name="actnorm", dtype=self.dtype_policy)
    self.flow_layers = [*self.blocks, self.actnorm]

  def get_config(self):
    return {**super().get_config(), "event_dim": self.event_dim,
            "num_blocks": self.num_blocks, "num_d_scales": self.num_d_scales,
            "num_mixtures": self.num_mixtures, "hidden_units": list(self.hidden_units),
            "dropout": self.dropout, "tolerance": self.tolerance,
            "max_iterations": self.max_iterations, "solver": self.solver}
