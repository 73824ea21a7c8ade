"""Masked Autoregressive Flow (Papamakarios et al., 2017): the baseline model."""
import math

import keras

from tfp_ldu.flows.flow_model import FlowModel
from tfp_ldu.layers.flatten_event import FlattenEvent
from tfp_ldu.layers.flatten_event import flat_event_shape
from tfp_ldu.layers.actnorm import ActNorm
from tfp_ldu.layers.batch_normalization import BatchNormalization
from tfp_ldu.layers.made_mog import MADEMoG
from tfp_ldu.layers.masked_autoregressive import MaskedAutoregressive

__all__ = ["MAF"]

_BASES = ("gaussian", "mog")

# The smallest event size at which XLA trained MAF faster than a plain graph
# on CPUs (see `MAF.cpu_xla_event_sizes`).
CPU_XLA_MIN_EVENT_SIZE = 256


@keras.saving.register_keras_serializable(package="tfp_ldu")
class MAF(FlowModel):
  """`num_blocks` MAF transforms with order reversal, then ActNorm.

  Same interface as `LDUFlow` (`call`, `log_prob`, `sample`, `fit`), so the two
  can be compared side by side.  With `batch_norm=True` a
  `tfp_ldu.layers.BatchNormalization` follows every MAF transform, as in the
  MAF paper (batch statistics in training, moving averages in evaluation);
  with `base="mog"` the base density is a `tfp_ldu.layers.MADEMoG` over the
  latent (the paper's MAF-MoG; sampling then takes D + 1 MADE passes more).

  Args:
    event_shape: D (an int or `(D,)`).
    num_blocks: MAF transforms (the MAF paper uses 5).
    hidden_units: MADE hidden sizes (also those of the MADE-MoG base).
    dropout: MADE dropout rate.
    batch_norm: batch normalisation after every MAF transform.
    base: "gaussian" (standard normal) or "mog" (MADE-MoG).
    num_components: Gaussians per conditional of the MADE-MoG base (the paper: 10).
    soft_clip: bound the MADEs' log-scales smoothly to +-ln(1e3), as zuko
      does (`MaskedAutoregressive(soft_clip=True)`; models saved before the
      option existed reload without it).
    latent_shift: the MADEs' affine form z = x e^a + b, zuko's (default);
      False: z = (x - mu) e^{-alpha}, the form of models saved before the
      option existed (`MaskedAutoregressive(latent_shift=...)`).
    **kwargs: `FlowModel` arguments (`context_shape` and `context_net` for a
      conditional MAF p(x | c): every MADE sees the context, the MADE-MoG
      base's too; `dtype`, ...).
  """

  takes_context = True

  # bench/user_path.py, 1,500 steps on CPUs: XLA and the plain graph tie up
  # to D = 43, the plain graph wins at 64 (15 against 20 s) and XLA from 256
  # on (32 against 36-40 s; at 784, 57 against 76-90 s).
  cpu_xla_event_sizes = (CPU_XLA_MIN_EVENT_SIZE, math.inf)

  def __init__(self, event_shape, num_blocks=5, hidden_units=(256, 256), dropout=0.0,
               batch_norm=False, base="gaussian", num_components=10, soft_clip=True,
               latent_shift=True, **kwargs):
    super().__init__(event_shape, latent_shape=flat_event_shape(event_shape), **kwargs)
    if base not in _BASES:
      raise ValueError(f"MAF: base must be one of {_BASES}; got {base!r}.")
    self.num_blocks = int(num_blocks)
    self.hidden_units = tuple(int(h) for h in hidden_units)
    self.dropout = float(dropout)
    self.batch_norm = bool(batch_norm)
    self.base = base
    self.num_components = int(num_components)
    self.soft_clip = bool(soft_clip)
    self.latent_shift = bool(latent_shift)
    self.blocks = [MaskedAutoregressive(self.event_size, self.hidden_units,
                                        dropout=self.dropout, context_size=self.context_size,
                                        soft_clip=self.soft_clip,
                                        latent_shift=self.latent_shift, name=f"maf_{i}",
                                        dtype=self.dtype_policy)
                   for i in range(self.num_blocks)]
    self.batch_norms = ([BatchNormalization(self.event_size, name=f"batch_norm_{i}",
                                            dtype=self.dtype_policy)
                         for i in range(self.num_blocks)] if self.batch_norm else [])
    self.actnorm = ActNorm(self.event_size, name="actnorm", dtype=self.dtype_policy)
    self.mog = (MADEMoG(self.event_size, self.num_components, self.hidden_units,
                        dropout=self.dropout, context_size=self.context_size,
                        name="made_mog", dtype=self.dtype_policy)
                if base == "mog" else None)
    layers = []
    for i, block in enumerate(self.blocks):
      layers.append(block)
      if self.batch_norm:
        layers.append(self.batch_norms[i])
    flatten = FlattenEvent(self.event_shape, name="flatten_event")  # images -> [D]
    self.flow_layers = [flatten, *layers, self.actnorm]

  def base_distribution(self, features=None):
    """Standard normal, or the MADE-MoG density over `[D]` (`base="mog"`).

    A conditional MADE-MoG reads the context features `[B, C]` as the MAF
    transforms' MADEs do: p(z | c), batch shape `[B]`.
    """
    if self.mog is None:
      return super().base_distribution(features)
    return self.mog.distribution(features)

  def set_batch_norm_statistics(self, x):
    """Sets every batch norm's statistics to the moments of its inputs over `x`.

    What the MAF authors' code does after training (instead of moving
    averages); the same as `after_training(x)`: `x` `[N, *event_shape]`
    (e.g. the training set, as `fit` takes it) is pushed through the flow in
    evaluation mode, layer by layer.
    """
    self.after_training(x)

  def get_config(self):
    return {**super().get_config(),
            "num_blocks": self.num_blocks, "hidden_units": list(self.hidden_units),
            "dropout": self.dropout, "batch_norm": self.batch_norm, "base": self.base,
            "num_components": self.num_components, "soft_clip": self.soft_clip,
            "latent_shift": self.latent_shift}

  @classmethod
  def from_config(cls, config):
    """Models saved before `soft_clip` / `latent_shift` existed computed without them; still do."""
    return super().from_config({"soft_clip": False, "latent_shift": False, **config})
