"""Glow (Kingma & Dhariwal 2018): a multi-scale flow of actnorm, 1x1 conv and couplings."""
import keras
import numpy as np
import tensorflow as tf

from tfp_ldu.bijectors.masks import channel_mask
from tfp_ldu.bijectors.squeeze import Squeeze, squeezed_shape
from tfp_ldu.flows.flow_model import FlowModel
from tfp_ldu.layers.affine_coupling_layer import AffineCouplingLayer
from tfp_ldu.layers.context_prior import ContextPrior
from tfp_ldu.layers.first_channels_layer import FirstChannelsLayer
from tfp_ldu.layers.image_actnorm import ImageActNorm
from tfp_ldu.layers.invertible_conv1x1 import InvertibleConv1x1
from tfp_ldu.layers.split_prior import SplitPrior
from tfp_ldu.layers.squeeze_layer import SqueezeLayer

__all__ = ["Glow"]


@keras.saving.register_keras_serializable(package="tfp_ldu")
class Glow(FlowModel):
  """Multi-scale Glow on images `[N, H, W, C]`; latent of the same shape.

  Level l (l = 0 .. L-1) acts on an image of shape (h, w, c) =
  (H / 2^l, W / 2^l, C * 2^l) (level 0: the data; later levels: the kept
  half of the level before, still at its resolution).  Data -> latent:

      squeeze                        (h, w, c) -> (h/2, w/2, 4c)
      K steps of flow:               (h/2, w/2, 4c) -> same
          ImageActNorm (per channel, initialised from the first batch)
          InvertibleConv1x1 (LU, random rotation init)
          AffineCouplingLayer on channel_mask: the second channel half,
            conditioned on the first; Glow's scale sigmoid(h + 2)
            (`coupling="affine"`) or NICE's shift (`coupling="additive"`)
      if l < L - 1:
          SplitPrior: the second half z2 (2c channels) is factored out and
            standardised under N(mu(z1), sigma(z1)) from a zero-initialised
            conv of the kept half z1
          FirstChannelsLayer: levels l+1 .. L-1 run on z1 (h/2, w/2, 2c);
            z2 passes through unchanged
      unsqueeze                      (h/2, w/2, 4c) -> (h, w, c)

  **Latent layout.** Every level ends by undoing its squeeze, so the latent
  has the data's shape, `latent_shape = (H, W, C)` (FlowModel's default),
  with a standard normal base: the factored-out, standardised parts sit at
  fixed places of it.  `split_latents(z)` reads them out per level —
  `[N, H/2^(l+1), W/2^(l+1), 2 C 2^l]` for the factored half of level
  l < L-1, and `[N, H/2^L, W/2^L, 4 C 2^(L-1)]` for the last level's
  output — and `merge_latents` puts them back (e.g. to sample with
  per-level temperatures).  The squeeze uses Glow's channel order
  (`tfp_ldu.bijectors.squeeze.Squeeze`).

  log p(x) = log N(T(x); 0, I) + sum of the parts' log-determinants
  (actnorms: -H_l W_l sum log-scale; 1x1 convs: H_l W_l sum log|s|;
  couplings: sum log sigmoid(h + 2); split priors: -sum log sigma).  Every
  inverse is closed form, so `sample` needs no solver.  Preprocessing is
  the caller's: Glow models x / 2^bits - 1/2 plus uniform noise (pass a
  `dequantizer`, e.g. `UniformDequantizer(256, event_ndims=3)`, for pixels
  in {0..255}, which gives [0, 1) data; or `logit_alpha`).

  Args:
    event_shape: `(H, W, C)`, H and W divisible by 2^levels.
    levels: L >= 1 (Glow on CIFAR-10: 3).
    steps_per_level: K >= 1 (Glow on CIFAR-10: 32).
    hidden_channels: width of the coupling networks (Glow: 512).
    coupling: "affine" or "additive".
    dequantizer: optional dequantiser of discrete pixels (see `FlowModel`).
    logit_alpha: optional logit preprocessing (see `FlowModel`).
    seed: seed of the 1x1 convolutions' random rotations (None: random).
    **kwargs: `FlowModel` arguments (`dtype`, `name`, ...; `context_shape`
      and `context_net` for a conditional Glow p(x | c), e.g. class-
      conditional with one-hot labels: every coupling network reads the
      context features as extra channels, and the last level ends with
      openai/glow's conditional prior of the top latent, N(mu(c), sigma(c))
      per channel (`tfp_ldu.layers.ContextPrior`)).

  Raises:
    ValueError: for H or W not divisible by 2^levels, levels or
      steps_per_level < 1, or an unknown coupling.

  #### Example

  ```python
  x = np.random.default_rng(0).normal(size=(64, 8, 8, 1)).astype("float32")
  glow = Glow((8, 8, 1), levels=2, steps_per_level=1, hidden_channels=8, seed=0)
  glow.compile(keras.optimizers.Adam(1e-3))        # jit_compile=True works too
  glow.fit(x, batch_size=16, epochs=1, verbose=0)   # initialises the actnorms first
  glow.log_prob(x[:4])                              # [4] nats
  glow.sample(2, seed=1)                            # [2, 8, 8, 1]
  ```

  #### References

  [1] Kingma, Dhariwal. Glow: Generative Flow with Invertible 1x1
      Convolutions. NeurIPS 2018. https://arxiv.org/abs/1807.03039
  [2] Dinh, Sohl-Dickstein, Bengio. Density estimation using Real NVP.
      ICLR 2017. https://arxiv.org/abs/1605.08803
  """

  takes_context = True

  def __init__(self, event_shape, levels=2, steps_per_level=4, hidden_channels=512,
               coupling="affine", dequantizer=None, logit_alpha=None, seed=None, **kwargs):
    super().__init__(event_shape=event_shape, dequantizer=dequantizer,
                     logit_alpha=logit_alpha, **kwargs)
    if len(self.event_shape) != 3:
      raise ValueError(f"Glow: event_shape must be (H, W, C); got {event_shape!r}.")
    self.levels = int(levels)
    self.steps_per_level = int(steps_per_level)
    if self.levels < 1 or self.steps_per_level < 1:
      raise ValueError(f"Glow: levels and steps_per_level must be >= 1; got {levels} and "
                       f"{steps_per_level}.")
    height, width, _ = self.event_shape
    factor = 2 ** self.levels
    if height % factor or width % factor:
      raise ValueError(f"Glow: {self.levels} levels halve the height and width "
                       f"{self.levels} times, so H and W must be divisible by "
                       f"2^{self.levels} = {factor}; got event_shape {self.event_shape}.")
    if coupling not in ("affine", "additive"):
      raise ValueError(f'Glow: coupling must be "affine" or "additive"; got {coupling!r}.')
    self.coupling = coupling
    self.hidden_channels = int(hidden_channels)
    self.seed = None if seed is None else int(seed)
    self._rng = np.random.default_rng(self.seed)
    self.blocks = self._level(self.event_shape, 0)
    self.flow_layers = self.blocks

  def _level(self, shape, level):
    """The layers of levels `level` .. L-1 on an image of `shape`, data -> latent."""
    squeezed = squeezed_shape(shape, "Glow")
    name = f"level_{level}"
    layers = [SqueezeLayer(shape, name=f"{name}_squeeze", dtype=self.dtype_policy)]
    for step in range(self.steps_per_level):
      prefix = f"{name}_step_{step}"
      layers += [
          ImageActNorm(squeezed, per="channel", name=f"{prefix}_actnorm",
                       dtype=self.dtype_policy),
          InvertibleConv1x1(squeezed[-1], seed=int(self._rng.integers(2**31)),
                            name=f"{prefix}_conv1x1", dtype=self.dtype_policy),
          AffineCouplingLayer(squeezed, channel_mask(squeezed),
                              hidden_channels=self.hidden_channels,
                              additive=self.coupling == "additive",
                              context_size=self.context_size,
                              name=f"{prefix}_coupling", dtype=self.dtype_policy)]
    if level < self.levels - 1:
      kept = squeezed[-1] // 2
      layers += [
          SplitPrior(squeezed, name=f"{name}_split_prior", dtype=self.dtype_policy),
          FirstChannelsLayer(squeezed, kept, self._level((*squeezed[:2], kept), level + 1),
                             name=f"{name}_kept_half", dtype=self.dtype_policy)]
    elif self.context_size:  # The top latent's class-conditional prior.
      layers.append(ContextPrior(squeezed, self.context_size, name=f"{name}_context_prior",
                                 dtype=self.dtype_policy))
    layers.append(SqueezeLayer(shape, unsqueeze=True, name=f"{name}_unsqueeze",
                               dtype=self.dtype_policy))
    return layers

  def latent_part_shapes(self):
    """Per-level shapes of `split_latents`' parts (one example each)."""
    shapes, shape = [], self.event_shape
    for level in range(self.levels):
      squeezed = squeezed_shape(shape, "Glow")
      if level < self.levels - 1:
        kept = squeezed[-1] // 2
        shapes.append((*squeezed[:2], squeezed[-1] - kept))
        shape = (*squeezed[:2], kept)
      else:
        shapes.append(squeezed)
    return shapes

  def split_latents(self, z):
    """The latent `[..., H, W, C]` as per-level parts (see the class docstring).

    Returns:
      list of L tensors: the standardised factored half of levels 0 .. L-2,
      then the last level's output, with the shapes of `latent_part_shapes`.
    """
    z = tf.convert_to_tensor(z)
    parts, shape = [], self.event_shape
    for level in range(self.levels):
      squeezed = Squeeze(shape).inverse(z)
      if level == self.levels - 1:
        parts.append(squeezed)
      else:
        kept = squeezed.shape[-1] // 2
        parts.append(squeezed[..., kept:])
        z, shape = squeezed[..., :kept], (*squeezed.shape[-3:-1], kept)
    return parts

  def merge_latents(self, parts):
    """Inverse of `split_latents`: per-level parts -> latent `[..., H, W, C]`."""
    parts = [tf.convert_to_tensor(part) for part in parts]
    if len(parts) != self.levels:
      raise ValueError(f"Glow.merge_latents: expected {self.levels} parts (one per "
                       f"level); got {len(parts)}.")
    shapes, shape = [], self.event_shape
    for level in range(self.levels):
      shapes.append(shape)
      squeezed = squeezed_shape(shape, "Glow")
      shape = (*squeezed[:2], squeezed[-1] // 2)
    z = parts[-1]
    for level in reversed(range(self.levels)):
      if level < self.levels - 1:
        z = tf.concat([z, parts[level]], axis=-1)
      z = Squeeze(shapes[level]).forward(z)
    return z

  def get_config(self):
    return {**super().get_config(),
            "levels": self.levels, "steps_per_level": self.steps_per_level,
            "hidden_channels": self.hidden_channels, "coupling": self.coupling,
            "seed": self.seed}
