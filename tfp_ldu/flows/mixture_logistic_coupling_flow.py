"""A Flow++-style flow for tabular data: mixture-logistic couplings and ActNorm."""
import keras

from tfp_ldu.flows.flow_model import FlowModel
from tfp_ldu.layers.flatten_event import FlattenEvent
from tfp_ldu.layers.flatten_event import flat_event_shape
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
    event_shape: D >= 2 (an int or `(D,)`).
    num_couplings: number of couplings (default 8).
    num_components: K, logistic components per transformed dimension.
    hidden_units: widths of the conditioners' gated residual blocks.
    dropout: dropout rate inside those blocks.
    layer_norm: layer normalisation after each block.
    min_log_scale, tolerance, num_halvings: of the `MixtureLogisticCDF`s.
    **kwargs: `FlowModel` arguments (`context_shape` and `context_net` for a
      conditional flow p(x | c): each conditioner reads [x_p, c]).
  """

  takes_context = True

  def __init__(self, event_shape, num_couplings=8, num_components=4, hidden_units=(64, 64),
               dropout=0.0, layer_norm=True, min_log_scale=-7.0, tolerance=None,
               num_halvings=64, **kwargs):
    super().__init__(event_shape, latent_shape=flat_event_shape(event_shape), **kwargs)
    if self.event_size < 2:
      raise ValueError(f"MixtureLogisticCouplingFlow: couplings need event_size >= 2; "
                       f"got {event_shape}.")
    self.num_couplings = int(num_couplings)
    self.num_components = int(num_components)
    self.hidden_units = tuple(int(h) for h in hidden_units)
    self.dropout = float(dropout)
    self.layer_norm = bool(layer_norm)
    self.min_log_scale = float(min_log_scale)
    self.tolerance = tolerance
    self.num_halvings = int(num_halvings)
    self.couplings = [
        MixtureLogisticCouplingLayer(
            self.event_size, half_transform_mask(self.event_size, second_half=j % 2 == 0),
            num_components=self.num_components, hidden_units=self.hidden_units,
            dropout=self.dropout, layer_norm=self.layer_norm,
            min_log_scale=self.min_log_scale, tolerance=tolerance,
            num_halvings=self.num_halvings, context_size=self.context_size,
            name=f"coupling_{j}", dtype=self.dtype_policy)
        for j in range(self.num_couplings)]
    self.actnorms = [ActNorm(self.event_size, name=f"actnorm_{j}", dtype=self.dtype_policy)
                     for j in range(self.num_couplings + 1)]
    # One assignment: the setter puts the logit preprocessing first, so `+=`
    # would insert it again at every coupling.
    flatten = FlattenEvent(self.event_shape, name="flatten_event")  # images -> [D]
    self.flow_layers = [flatten, self.actnorms[0], *[layer for pair in zip(
        self.couplings, self.actnorms[1:]) for layer in pair]]

  def get_config(self):
    return {**super().get_config(),
            "num_couplings": self.num_couplings, "num_components": self.num_components,
            "hidden_units": list(self.hidden_units), "dropout": self.dropout,
            "layer_norm": self.layer_norm, "min_log_scale": self.min_log_scale,
            "tolerance": self.tolerance, "num_halvings": self.num_halvings}
