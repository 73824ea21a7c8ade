"""Inverse autoregressive flow (Kingma et al., 2016): MAF inverted, cheap to sample."""
import keras

from tfp_ldu.flows.actnorm_then_blocks import actnorm_then_blocks
from tfp_ldu.flows.flow_model import FlowModel
from tfp_ldu.layers.flatten_event import flat_event_shape
from tfp_ldu.layers.masked_autoregressive import MaskedAutoregressive

__all__ = ["IAF"]


@keras.saving.register_keras_serializable(package="tfp_ldu")
class IAF(FlowModel):
  """ActNorm, then `num_blocks` inverse autoregressive transforms, the order reversed after each.

  Latent -> data (sampling), for each block from the latent side, with the
  MADE conditioned on the block's input z:

      x_i = (z_i - mu_i(z_{<i}, c)) * exp(-alpha_i(z_{<i}, c)),
      alpha = soft_clip(MADE output) in (-ln 1e3, ln 1e3)

  then the order reversed, and finally the ActNorm x = a exp(s) + m
  (initialised from the first batch).  This is MAF with the roles of data
  and latent swapped (`tfp_ldu.layers.MaskedAutoregressive(inverted=True)`),
  so the costs swap too:

  * `sample` is cheap: one MADE pass per block;
  * `log_prob` (and so training by maximum likelihood) is D MADE passes per
    block, solving z_i = x_i exp(alpha_i) + mu_i in order i = 1 .. D.

  Prefer MAF or NSF to fit data; IAF suits densities that are sampled far
  more often than evaluated (variational posteriors, where `log_prob` is
  only needed at the flow's own samples).  The MADEs take no dropout (the
  D passes would each draw another mask).  Shapes: x `[N, D]` (an image event
  is flattened, NHWC), latent `[N, D]`.

  Args:
    event_shape: D (an int or `(D,)`), or an image shape (flattened).
    num_blocks: inverse autoregressive transforms.
    hidden_units: MADE hidden sizes.
    soft_clip: bound the MADEs' log-scales smoothly to +-ln(1e3).
    **kwargs: `FlowModel` arguments (`context_shape` and `context_net` for a
      conditional IAF p(x | c): every MADE sees the context; `dtype`, ...).

  #### Example

  ```python
  from tfp_ldu.flows import IAF
  x = np.random.default_rng(0).normal(size=(256, 2)).astype("float32")
  flow = IAF(2, num_blocks=2, hidden_units=(8,))
  flow.compile(keras.optimizers.Adam(1e-3))
  flow.fit(x, batch_size=64, epochs=1, verbose=0)
  flow.sample(3, seed=1)                 # [3, 2], one pass per block
  flow.log_prob(x[:5])                   # [5] nats, D passes per block
  ```

  #### References

  [1] Kingma, Salimans, Jozefowicz, Chen, Sutskever, Welling. Improved
      Variational Inference with Inverse Autoregressive Flow. NeurIPS 2016.
      https://arxiv.org/abs/1606.04934
  [2] Papamakarios, Pavlakou, Murray. Masked Autoregressive Flow for Density
      Estimation. NeurIPS 2017, section 3.3. https://arxiv.org/abs/1705.07057
  """

  takes_context = True

  def __init__(self, event_shape, num_blocks=5, hidden_units=(256, 256), soft_clip=True,
               **kwargs):
    super().__init__(event_shape, latent_shape=flat_event_shape(event_shape), **kwargs)
    self.num_blocks = int(num_blocks)
    if self.num_blocks < 1:
      raise ValueError(f"IAF: num_blocks must be >= 1; got {num_blocks}.")
    self.hidden_units = tuple(int(h) for h in hidden_units)
    self.soft_clip = bool(soft_clip)
    actnorm_then_blocks(self, lambda i: MaskedAutoregressive(
        self.event_size, self.hidden_units, inverted=True, soft_clip=self.soft_clip,
        latent_shift=False,  # The form above; zuko's was measured for MAF only.
        context_size=self.context_size, name=f"iaf_{i}", dtype=self.dtype_policy))

  def get_config(self):
    return {**super().get_config(), "num_blocks": self.num_blocks,
            "hidden_units": list(self.hidden_units), "soft_clip": self.soft_clip}
