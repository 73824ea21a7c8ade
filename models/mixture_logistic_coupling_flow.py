"""A Flow++-style flow for tabular data: mixture-logistic couplings and ActNorm."""
import keras

from models.flow_model import FlowModel
from tfp_ldu.bijectors.mixture_logistic_coupling import half_transform_mask
from tfp_ldu.layers.actnorm import ActNorm
from tfp_ldu.layers.mixture_logistic_coupling_layer import MixtureLogisticCouplingLayer

__all__ = ["MixtureLogisticCouplingFlow"]


@keras.saving.register_keras_serializable(package="tfp_ldu")
class MixtureLogisticCouplingFlow(FlowModel):
  """ActNorm, then `num_couplings` x (mixture-logistic coupling, ActNorm).

      T = A_n o C_{n-1} o A_{n-1} o ... o C_0 o A_0   (data -> latent)
      log p(x) = log N(T(x); 0, I) + sum of the parts' ILDJ

  Coupling j transforms the second half of the dimensions if j is even and
  the first half if j is odd, conditioned on the other half, so every
  dimension is transformed once the stack has two couplings.  Every ActNorm
  is initialised from the first batch by `fit`.  Same interface as `LDUFlow`
  (`call`, `log_prob`, `sample`, `fit`).

  Args:
    event_dim: D >= 2.
    num_couplings: number of couplings (default 8).
    num_mixtures: K, logistic components per transformed dimension.
    hidden_units: widths of the conditioners' gated residual blocks.
    dropout: dropout rate inside those blocks.
    layer_norm: layer normalisation after each block.
    num_blocks: accepted as an alias of `num_couplings` (so the configuration
      of `LDUFlow` applies); an error if both are given and differ.
    num_d_scales: accepted and ignored (an `LDUFlow` setting).
    min_log_scale, tolerance, num_halvings: of the `MixtureLogisticCDF`s.
  """

  def __init__(self, event_dim, num_couplings=None, num_mixtures=4, hidden_units=(64, 64),
               dropout=0.0, layer_norm=True, num_blocks=None, num_d_scales=None,
               min_log_scale=-7.0, tolerance=None, num_halvings=64, **kwargs):
    del num_d_scales
    if num_couplings is not None and num_blocks is not None and num_couplings != num_blocks:
      raise ValueError(f"MixtureLogisticCouplingFlow: num_blocks is an alias of "
                       f"num_couplings; got num_couplings={num_couplings} and "
                       f"num_blocks={num_blocks}.")
    super().__init__(event_dim, **kwargs)
    if self.event_dim < 2:
      raise ValueError(f"MixtureLogisticCouplingFlow: couplings need event_dim >= 2; "
                       f"got {event_dim}.")
    num_couplings = num_couplings if num_couplings is not None else num_blocks
    self.num_couplings = int(8 if num_couplings is None else num_couplings)
    self.num_mixtures = int(num_mixtures)
    self.hidden_units = tuple(int(h) for h in hidden_units)
    self.dropout = float(dropout)
    self.layer_norm = bool(layer_norm)
    self.min_log_scale = float(min_log_scale)
    self.tolerance = tolerance
    self.num_halvings = int(num_halvings)
    self.couplings = [
        MixtureLogisticCouplingLayer(
            self.event_dim, half_transform_mask(self.event_dim, second_half=j % 2 == 0),
            num_mixtures=self.num_mixtures, hidden_units=self.hidden_units,
            dropout=self.dropout, layer_norm=self.layer_norm,
            min_log_scale=self.min_log_scale, tolerance=tolerance,
            num_halvings=self.num_halvings, name=f"coupling_{j}", dtype=self.dtype_policy)
        for j in range(self.num_couplings)]
    self.actnorms = [ActNorm(self.event_dim, name=f"actnorm_{j}", dtype=self.dtype_policy)
                     for j in range(self.num_couplings + 1)]
    self.flow_layers = [self.actnorms[0]]
    for coupling, actnorm in zip(self.couplings, self.actnorms[1:]):
      self.flow_layers += [coupling, actnorm]

  def get_config(self):
    return {**super().get_config(), "event_dim": self.event_dim,
            "num_couplings": self.num_couplings, "num_mixtures": self.num_mixtures,
            "hidden_units": list(self.hidden_units), "dropout": self.dropout,
            "layer_norm": self.layer_norm, "min_log_scale": self.min_log_scale,
            "tolerance": self.tolerance, "num_halvings": self.num_halvings}
