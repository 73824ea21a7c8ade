"""Neural spline flow (Durkan et al., 2019): rational-quadratic splines, autoregressive or coupling."""
import math

import keras

from tfp_ldu.flows.actnorm_then_blocks import actnorm_then_blocks
from tfp_ldu.flows.flow_model import FlowModel
from tfp_ldu.layers.flatten_event import flat_event_shape
from tfp_ldu.layers.masked_autoregressive import MaskedAutoregressive
from tfp_ldu.layers.vector_coupling_layer import VectorCouplingLayer

__all__ = ["NSF"]


@keras.saving.register_keras_serializable(package="tfp_ldu")
class NSF(FlowModel):
  """ActNorm, then `num_blocks` rational-quadratic spline transforms (autoregressive or coupling).

  Data -> latent: x -> a = (x - m) exp(-s) (ActNorm, initialised from the
  first batch so the data enter the splines' interval standardised), then
  for each block z_i = RQS_i^{-1}(a_i) with RQS_i a monotone spline of K bins
  on [-B, B] (the identity outside) whose 3K - 1 parameters a MADE computes
  from a_{<i}, and the order reversed between blocks
  (`tfp_ldu.layers.MaskedAutoregressive(transformer="spline")`; the spline
  is `tfp_ldu.bijectors.RationalQuadraticSpline`, TFP's map with one-hot bin
  lookups).  `log_prob` is one pass per block;
  `sample` inverts each block in D passes (closed-form spline inverses, no
  numeric solve).

  With `coupling=True` (the paper's RQ-NSF (C)), each block is a coupling
  instead (`tfp_ldu.layers.VectorCouplingLayer(transformer="spline")`): the
  second half of a is transformed element-wise, z_t = RQS^{-1}(a_t), by a
  spline whose parameters a gated residual MLP computes from the first half
  a_p (and the context), z_p = a_p, and the order is reversed between
  blocks, so consecutive blocks transform alternate halves.  Both `log_prob`
  and `sample` are then one pass per block; D >= 2.  The paper mixes the
  dimensions between couplings with a learned LU-factored linear map; here
  the fixed order reversal does (a vector LU layer is not in the library).

  Args:
    event_shape: D (an int or `(D,)`), or an image shape (flattened, NHWC).
    num_blocks: spline transforms (the NSF paper's tabular models: 5 to 10).
    hidden_units: MADE hidden sizes (with `coupling=True`: the widths of
      the conditioners' gated residual blocks).
    dropout: MADE (or residual block) dropout rate.
    num_bins: K, bins per spline (the paper: 8).
    bound: B, the splines' interval [-B, B] (the paper: 3).
    soft_clip: bound the raw spline parameters smoothly, as zuko does
      (`MaskedAutoregressive(soft_clip=True)`; models saved before the option
      existed reload without it).
    coupling: coupling blocks instead of autoregressive ones (see above).
    **kwargs: `FlowModel` arguments (`context_shape` and `context_net` for a
      conditional NSF p(x | c): every MADE, or every coupling's network, sees
      the context; `dtype`, ...).

  #### Example

  ```python
  from tfp_ldu.flows import NSF
  x = np.random.default_rng(0).normal(size=(256, 2)).astype("float32")
  flow = NSF(2, num_blocks=2, hidden_units=(16,))
  flow.compile(keras.optimizers.Adam(1e-3))
  flow.fit(x, batch_size=64, epochs=1, verbose=0)
  flow.log_prob(x[:5])                   # [5] nats
  flow.sample(3, seed=1)                 # [3, 2]
  coupled = NSF(2, num_blocks=2, hidden_units=(16,), coupling=True)  # RQ-NSF (C)
  ```

  #### References

  [1] Durkan, Bekasov, Murray, Papamakarios. Neural Spline Flows. NeurIPS
      2019. https://arxiv.org/abs/1906.04032
  [2] Dinh, Sohl-Dickstein, Bengio. Density estimation using Real NVP.
      ICLR 2017. https://arxiv.org/abs/1605.08803
  """

  takes_context = True

  # XLA trained NSF faster than a plain graph on CPUs at every D measured
  # (`bench/user_path.py`: 1.25-1.8x the wall time to 1,500 steps, its
  # longer compile included), so `compile()` picks it without GPUs too.
  cpu_xla_event_sizes = (1, math.inf)

  def __init__(self, event_shape, num_blocks=5, hidden_units=(256, 256), dropout=0.0,
               num_bins=8, bound=3.0, soft_clip=True, coupling=False, **kwargs):
    super().__init__(event_shape, latent_shape=flat_event_shape(event_shape), **kwargs)
    self.num_blocks = int(num_blocks)
    if self.num_blocks < 1:
      raise ValueError(f"NSF: num_blocks must be >= 1; got {num_blocks}.")
    self.hidden_units = tuple(int(h) for h in hidden_units)
    self.dropout = float(dropout)
    self.num_bins = int(num_bins)
    self.bound = float(bound)
    self.soft_clip = bool(soft_clip)
    self.coupling = bool(coupling)
    if self.coupling and self.event_size < 2:
      raise ValueError(f"NSF: coupling=True needs event_size >= 2; got {event_shape}.")
    block = VectorCouplingLayer if self.coupling else MaskedAutoregressive
    actnorm_then_blocks(self, lambda i: block(
        self.event_size, hidden_units=self.hidden_units, dropout=self.dropout,
        transformer="spline", num_bins=self.num_bins, bound=self.bound,
        context_size=self.context_size, soft_clip=self.soft_clip, name=f"spline_{i}",
        dtype=self.dtype_policy))

  def get_config(self):
    return {**super().get_config(), "num_blocks": self.num_blocks,
            "hidden_units": list(self.hidden_units), "dropout": self.dropout,
            "num_bins": self.num_bins, "bound": self.bound, "soft_clip": self.soft_clip,
            "coupling": self.coupling}

  @classmethod
  def from_config(cls, config):
    """Models saved before `soft_clip` existed computed without it, and still do."""
    return super().from_config({"soft_clip": False, **config})
