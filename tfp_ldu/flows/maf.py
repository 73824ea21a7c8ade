"""Masked Autoregressive Flow (Papamakarios et al., 2017): the baseline model."""
import keras

from tfp_ldu.flows.flow_model import FlowModel
from tfp_ldu.layers.actnorm import ActNorm
from tfp_ldu.layers.masked_autoregressive import MaskedAutoregressive

__all__ = ["MAF"]


@keras.saving.register_keras_serializable(package="tfp_ldu")
class MAF(FlowModel):
  """`num_blocks` MAF transforms with order reversal, then ActNorm.

  Same interface as `LDUFlow` (`call`, `log_prob`, `sample`, `fit`), so the two
  can be compared side by side.

  Args:
    event_shape: D (an int or `(D,)`).
    num_blocks: MAF transforms (the MAF paper uses 5).
    hidden_units: MADE hidden sizes.
    dropout: MADE dropout rate.
  """

  flattens_events = True

  def __init__(self, event_shape, num_blocks=5, hidden_units=(256, 256), dropout=0.0,
               **kwargs):
    super().__init__(event_shape, **kwargs)
    self.num_blocks = int(num_blocks)
    self.hidden_units = tuple(int(h) for h in hidden_units)
    self.dropout = float(dropout)
    self.blocks = [MaskedAutoregressive(self.event_size, self.hidden_units,
                                        dropout=self.dropout, name=f"maf_{i}",
                                        dtype=self.dtype_policy)
                   for i in range(self.num_blocks)]
    self.actnorm = ActNorm(self.event_size, name="actnorm", dtype=self.dtype_policy)
    self.flow_layers = [*self.blocks, self.actnorm]

  def get_config(self):
    return {**super().get_config(),
            "num_blocks": self.num_blocks, "hidden_units": list(self.hidden_units),
            "dropout": self.dropout}
