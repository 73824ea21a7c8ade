"""Neural Autoregressive Flow with deep sigmoidal transforms (Huang et al., 2018)."""
import keras

from tfp_ldu.flows.flow_model import FlowModel
from tfp_ldu.layers.flatten_event import FlattenEvent
from tfp_ldu.layers.flatten_event import flat_event_shape
from tfp_ldu.layers.actnorm import ActNorm
from tfp_ldu.layers.deep_sigmoidal_layer import DeepSigmoidalLayer

__all__ = ["NAF"]


@keras.saving.register_keras_serializable(package="tfp_ldu")
class NAF(FlowModel):
  """`num_blocks` deep sigmoidal transforms alternating their order, then ActNorm.

  Block j (data -> latent) is a `DeepSigmoidalLayer` conditioned on x_{<i}
  for even j and on x_{>i} for odd j; `log_prob` is one pass, `sample` runs
  at most D + 1 bisection sweeps per block.  Same interface as `MAF`.

  Args:
    event_shape: D (an int or `(D,)`; image shapes are flattened).
    num_blocks: deep sigmoidal transforms.
    num_components: K, sigmoids per dimension and block.
    hidden_units: MADE hidden sizes.
    activation, dropout: of the MADEs.
    min_log_scale, tolerance, num_halvings: of the `DeepSigmoidal` bijectors.
    **kwargs: `FlowModel` arguments (`context_shape` and `context_net` for a
      conditional NAF p(x | c): every MADE sees the context).
  """

  takes_context = True

  def __init__(self, event_shape, num_blocks=5, num_components=8, hidden_units=(64, 64),
               activation="relu", dropout=0.0, min_log_scale=-7.0, tolerance=None,
               num_halvings=64, **kwargs):
    super().__init__(event_shape, latent_shape=flat_event_shape(event_shape), **kwargs)
    self.num_blocks = int(num_blocks)
    self.num_components = int(num_components)
    self.hidden_units = tuple(int(h) for h in hidden_units)
    self.activation = activation
    self.dropout = float(dropout)
    self.min_log_scale = float(min_log_scale)
    self.tolerance = tolerance
    self.num_halvings = int(num_halvings)
    self.blocks = [DeepSigmoidalLayer(
        self.event_size, self.num_components, self.hidden_units, reverse=bool(i % 2),
        activation=activation, dropout=self.dropout, min_log_scale=self.min_log_scale,
        tolerance=tolerance, num_halvings=self.num_halvings, context_size=self.context_size,
        name=f"dsf_{i}",
        dtype=self.dtype_policy) for i in range(self.num_blocks)]
    self.actnorm = ActNorm(self.event_size, name="actnorm", dtype=self.dtype_policy)
    flatten = FlattenEvent(self.event_shape, name="flatten_event")  # images -> [D]
    self.flow_layers = [flatten, *self.blocks, self.actnorm]

  def get_config(self):
    return {**super().get_config(), "num_blocks": self.num_blocks,
            "num_components": self.num_components, "hidden_units": list(self.hidden_units),
            "activation": self.activation, "dropout": self.dropout,
            "min_log_scale": self.min_log_scale, "tolerance": self.tolerance,
            "num_halvings": self.num_halvings}
