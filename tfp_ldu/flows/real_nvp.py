"""RealNVP for vectors (Dinh et al., 2017): affine couplings on alternating halves."""
import keras

from tfp_ldu.flows.actnorm_then_blocks import actnorm_then_blocks
from tfp_ldu.flows.flow_model import FlowModel
from tfp_ldu.layers.flatten_event import flat_event_shape
from tfp_ldu.layers.vector_coupling_layer import VectorCouplingLayer

__all__ = ["RealNVP"]


@keras.saving.register_keras_serializable(package="tfp_ldu")
class RealNVP(FlowModel):
  """ActNorm, then `num_blocks` affine couplings, the order reversed after each.

  Data -> latent: x -> a = (x - m) exp(-s) (ActNorm, initialised from the
  first batch), then for each block, with a_p the first half of its input
  and a_t the second (`tfp_ldu.layers.VectorCouplingLayer(transformer="affine")`):

      z_p = a_p
      z_t = (a_t - mu(a_p, c)) * exp(-alpha(a_p, c)),   alpha in (-ln 1e3, ln 1e3)
      log|det dz/da| = -sum alpha

  followed by the order reversal, so consecutive blocks transform alternate
  halves.  mu and alpha come from a gated residual MLP
  (`tfp_ldu.nets.GatedResidualMLP`) whose output starts near 0, so every
  block starts near the identity; alpha is soft-clipped (`soft_clip`) as the
  library's MAF log-scales are.  `log_prob` and `sample` are each one pass
  per block (closed-form inverses).  Shapes: x `[N, D]` (D >= 2; an image
  event is flattened, NHWC), latent `[N, D]`.

  Args:
    event_shape: D >= 2 (an int or `(D,)`), or an image shape (flattened).
    num_blocks: couplings.
    hidden_units: widths of each conditioner's gated residual blocks.
    dropout: dropout rate inside those blocks.
    soft_clip: bound the log-scales smoothly (without it, alpha is unbounded).
    **kwargs: `FlowModel` arguments (`context_shape` and `context_net` for a
      conditional RealNVP p(x | c): every conditioner reads [a_p, c]; `dtype`, ...).

  #### Example

  ```python
  from tfp_ldu.flows import RealNVP
  x = np.random.default_rng(0).normal(size=(256, 2)).astype("float32")
  flow = RealNVP(2, num_blocks=2, hidden_units=(8,))
  flow.compile(keras.optimizers.Adam(1e-3))
  flow.fit(x, batch_size=64, epochs=1, verbose=0)
  flow.log_prob(x[:5])                   # [5] nats
  flow.sample(3, seed=1)                 # [3, 2]
  ```

  #### References

  [1] Dinh, Sohl-Dickstein, Bengio. Density estimation using Real NVP.
      ICLR 2017. https://arxiv.org/abs/1605.08803
  """

  takes_context = True

  def __init__(self, event_shape, num_blocks=5, hidden_units=(256, 256), dropout=0.0,
               soft_clip=True, **kwargs):
    super().__init__(event_shape, latent_shape=flat_event_shape(event_shape), **kwargs)
    self.num_blocks = int(num_blocks)
    if self.num_blocks < 1 or self.event_size < 2:
      raise ValueError(f"RealNVP: need num_blocks >= 1 and event_size >= 2; got "
                       f"num_blocks={num_blocks} and event_shape={event_shape}.")
    self.hidden_units = tuple(int(h) for h in hidden_units)
    self.dropout = float(dropout)
    self.soft_clip = bool(soft_clip)
    actnorm_then_blocks(self, lambda i: VectorCouplingLayer(
        self.event_size, transformer="affine", hidden_units=self.hidden_units,
        dropout=self.dropout, soft_clip=self.soft_clip, context_size=self.context_size,
        name=f"coupling_{i}", dtype=self.dtype_policy))

  def get_config(self):
    return {**super().get_config(), "num_blocks": self.num_blocks,
            "hidden_units": list(self.hidden_units), "dropout": self.dropout,
            "soft_clip": self.soft_clip}
