"""Flow++ (Ho et al., 2019): mixture-logistic attention couplings, variational dequantisation."""
import copy

import keras
import numpy as np

from tfp_ldu.bijectors.masks import channel_mask, checkerboard_mask
from tfp_ldu.bijectors.squeeze import squeezed_shape
from tfp_ldu.flows.flow_model import FlowModel
from tfp_ldu.layers.bijector_layer import RENAMED_ARGUMENTS
from tfp_ldu.layers.bijector_layer import upgraded_config
from tfp_ldu.layers.image_actnorm import ImageActNorm
from tfp_ldu.layers.image_mixture_logistic_coupling_layer import (
    ImageMixtureLogisticCouplingLayer)
from tfp_ldu.layers.invertible_conv1x1 import InvertibleConv1x1
from tfp_ldu.layers.squeeze_layer import SqueezeLayer
from tfp_ldu.layers.uniform_dequantizer import UniformDequantizer
from tfp_ldu.layers.variational_dequantizer import VariationalDequantizer

__all__ = ["FlowPlusPlus", "PRESETS", "default_preset"]

# Architecture presets.  "paper": Flow++ on CIFAR-10 (run_cifar.py: F = 96,
# 10 blocks, K = 32, 4 heads, dropout 0.2; dequantiser 4 couplings of F = 96,
# 2 blocks, K = 32 on a 32-channel context of 3 gated blocks).  "small": the
# CPU preset for 8x8 digits (timings: docs/performance.md).
PRESETS = {
    "paper": dict(num_components=32, filters=96, conditioner_blocks=10, num_heads=4, dropout=0.2,
                  attention=True,
                  dequantizer=dict(num_couplings=4, filters=96, conditioner_blocks=2,
                                   num_components=32, num_heads=4, attention=True,
                                   context_filters=32, num_context_blocks=3)),
    "small": dict(num_components=4, filters=32, conditioner_blocks=2, num_heads=4, dropout=0.0,
                  attention=False,
                  dequantizer=dict(num_couplings=2, filters=16, conditioner_blocks=1,
                                   num_components=4, num_heads=4, attention=False,
                                   context_filters=16, num_context_blocks=1)),
}


# The smallest images (H * W) for which `preset=None` means "paper".
PAPER_PRESET_MIN_PIXELS = 32 * 32


def default_preset(image_shape):
  """`preset=None`: "paper" for images of 32 x 32 pixels or more, "small" below.

  The paper's preset has 27 million weights even on an 8 x 8 image, far
  more than such data can use.
  """
  height, width = image_shape[:2]
  return "paper" if height * width >= PAPER_PRESET_MIN_PIXELS else "small"


@keras.saving.register_keras_serializable(package="tfp_ldu")
class FlowPlusPlus(FlowModel):
  """Flow++ on images `[N, H, W, C]` of discrete levels; latent `[N, H/2, W/2, 4C]`.

  Data -> latent (Flow++'s CIFAR-10 flow, `run_cifar.py`):

      y = (x + u) / L,  u ~ q(u | x)       variational (or uniform) dequantisation
      h = logit(alpha + (1 - 2 alpha) y)   `logit_alpha` (Flow++: 0.05)
      n_1 x step on (H, W, C),  checkerboard masks of alternating parity
      squeeze                   (H, W, C) -> (H/2, W/2, 4C), Glow's channel order
      n_2 x step on (H/2, W/2, 4C), channel masks (second half, then first half)
      n_3 x step on (H/2, W/2, 4C), checkerboard masks of alternating parity

      step = per-position ImageActNorm (Flow++'s `Norm`), InvertibleConv1x1
             (for more than one channel), ImageMixtureLogisticCouplingLayer
             (K logistics; the GatedConvAttentionNet conditioner of F filters
             and `conditioner_blocks` gated conv + attention blocks)

  with (n_1, n_2, n_3) = `num_couplings`, Flow++'s (4, 2, 3) by default, and
  no factor-out: the base N(0, I) is on the squeezed shape (`latent_shape`).
  Differences from the reference TF code: masks alternate instead of its
  `TupleFlip`; the checkerboard is a true one (the code's
  "CheckerboardSplit" splits columns); the conditioners run at full
  resolution with the masked image plus an indicator channel (2x the
  reference's half-image compute); the 1x1 convolutions are LU-parameterised
  (`InvertibleConv1x1`) rather than full matrices; the networks' layers are
  initialised small instead of by data-dependent weight normalisation.

  `call(x)` (the training objective) is the dequantisation bound
  log p(y) - log q(y | x); `importance_weighted_log_likelihood(x, K)` the
  K-sample estimate Flow++ reports (K = 4096); `log_prob` is the density of
  dequantised y; `sample` solves every coupling by bisection.

  Presets (`PRESETS`): "paper" (what `preset=None` fills in for images of
  32 x 32 pixels or more) and "small" (`preset=None` below that)
  (F = 32, 2 blocks, K = 4, no attention; dequantiser of 2 couplings with
  F = 16, 1 block, K = 4 on a 16-channel context; 539,967 weights on 8x8x1),
  which trains on the digits (8x8x1, 17 levels) on a CPU (timings in
  docs/performance.md).  The "paper"
  preset has 32,814,597 weights on 32x32x3 (29,246,661 with uniform
  dequantisation); the reference reports 31,443,440.  Arguments given
  explicitly override the preset.

  Args:
    event_shape: (H, W, C), H and W even.
    num_components, filters, conditioner_blocks, num_heads, dropout, attention: of the
      flow's couplings (None: the preset's value).
    num_couplings: (n_1, n_2, n_3), the couplings of the three stages
      (fewer make CPU tests compile faster; each stage may be 0).
    dequantization: "variational" (`VariationalDequantizer`) or "uniform"
      (`UniformDequantizer`).
    num_levels: L, the number of discrete levels per scalar (default 256,
      8-bit images: pass the data's own count, e.g. 17 for scikit-learn's
      digits; bits/dim depend on it, and `fit` warns when the data use
      fewer than a quarter of the levels).
    logit_alpha: of the logit preprocessing (None: none).
    preset: "paper", "small", or None (by image size, `default_preset`).
    dequantizer_options: dict overriding the preset's `VariationalDequantizer`
      arguments (num_couplings, filters, conditioner_blocks, num_components, num_heads,
      attention, context_filters, num_context_blocks); its dropout is `dropout`.
    seed: seed of the dequantisation noise and the 1x1 convolutions.
    min_log_scale, tolerance, num_halvings: of the `MixtureLogisticCDF`s.
    **kwargs: `FlowModel`/`keras.Model` arguments (`name`, `dtype`;
      `context_shape` and `context_net` for a conditional p(x | c): every
      coupling's gated network adds the context features, broadcast over the
      image, in each gated convolution, as the variational dequantiser's
      inner flow adds its features of x; the variational dequantiser reads
      them too, q(u | x, c) (`VariationalDequantizer(context_size=...)`), so
      E_q[log p(y | c) - log q(y | x, c)] is the bound on log P(x | c)).

  #### Example

  ```python
  x = np.random.default_rng(0).integers(0, 17, size=(64, 8, 8, 1))
  model = FlowPlusPlus((8, 8, 1), num_levels=17, preset="small", seed=0,
                       num_couplings=(1, 1, 1),                  # Flow++'s: (4, 2, 3)
                       dequantizer_options=dict(num_couplings=1))  # the preset's: 2
  model.compile(keras.optimizers.Adam(1e-3))              # jit_compile=True: faster steps,
  model.fit(x.astype("float32"), batch_size=32, epochs=1, verbose=0)  # minutes to compile
  model(x[:4])                                            # [4] bound, nats
  model.importance_weighted_log_likelihood(x[:4], 8)      # [4] tighter, float64
  model.sample(2, seed=1)              # [2, 8, 8, 1] y, in the logit's support (-0.056, 1.056)
  model.sample_levels(2, seed=1)       # [2, 8, 8, 1] int32 levels in {0, ..., 16}
  ```

  #### References

  [1] Ho, Chen, Srinivas, Duan, Abbeel. Flow++: Improving Flow-Based
      Generative Models with Variational Dequantization and Architecture
      Design. ICML 2019. https://arxiv.org/abs/1902.00275
  """

  # Saved configs: Flow++'s conditioner depth was `num_blocks`.
  renamed_arguments = {**RENAMED_ARGUMENTS, "num_blocks": "conditioner_blocks"}

  takes_context = True

  def __init__(self, event_shape, num_components=None, filters=None, conditioner_blocks=None,
               num_heads=None, dropout=None, num_couplings=(4, 2, 3),
               dequantization="variational", num_levels=256,
               logit_alpha=0.05, attention=None, preset=None, dequantizer_options=None,
               seed=None, min_log_scale=-7.0, tolerance=None, num_halvings=64, **kwargs):
    if preset not in (None, *PRESETS):
      raise ValueError(f"FlowPlusPlus: preset must be None or one of {sorted(PRESETS)}; "
                       f"got {preset!r}.")
    if dequantization not in ("variational", "uniform"):
      raise ValueError(f'FlowPlusPlus: dequantization must be "variational" or "uniform"; '
                       f"got {dequantization!r}.")
    kwargs.pop("dequantizer", None)  # Built here from `dequantization` (and configs).
    event_shape = tuple(int(d) for d in event_shape)
    if len(event_shape) != 3:
      raise ValueError(f"FlowPlusPlus: event_shape must be (H, W, C); got {event_shape!r}.")
    latent_shape = squeezed_shape(event_shape, "FlowPlusPlus")
    super().__init__(event_shape, latent_shape=latent_shape, logit_alpha=logit_alpha,
                     **kwargs)
    chosen = copy.deepcopy(PRESETS[preset or default_preset(event_shape)])
    given = dict(num_components=num_components, filters=filters, conditioner_blocks=conditioner_blocks,
                 num_heads=num_heads, dropout=dropout, attention=attention)
    chosen.update({key: value for key, value in given.items() if value is not None})
    chosen["dequantizer"].update(upgraded_config(
        dequantizer_options or {}, VariationalDequantizer.renamed_arguments))
    self.preset = preset
    self.num_couplings = tuple(int(n) for n in num_couplings)
    if len(self.num_couplings) != 3 or min(self.num_couplings) < 0 or not any(
        self.num_couplings):
      raise ValueError(f"FlowPlusPlus: num_couplings must be three counts >= 0, not all "
                       f"0; got {num_couplings!r}.")
    self.num_components = int(chosen["num_components"])
    self.filters = int(chosen["filters"])
    self.conditioner_blocks = int(chosen["conditioner_blocks"])
    self.num_heads = int(chosen["num_heads"])
    self.dropout = float(chosen["dropout"])
    self.attention = bool(chosen["attention"])
    self.dequantization = dequantization
    num_levels = int(num_levels)
    self.dequantizer_options = dict(chosen["dequantizer"])
    self.seed = None if seed is None else int(seed)
    self.min_log_scale = float(min_log_scale)
    self.tolerance = tolerance
    self.num_halvings = int(num_halvings)
    if self.dequantization == "variational":
      # q(u | x, c) for p(x | c), unless the options say otherwise (a conditional
      # model saved before the dequantiser read contexts: `from_config`).
      self.dequantizer = VariationalDequantizer(
          self.event_shape, num_levels=num_levels, dropout=self.dropout, seed=self.seed,
          name="dequantizer", dtype=self.dtype_policy,
          **{"context_size": self.context_size, **self.dequantizer_options})
    else:
      self.dequantizer = UniformDequantizer(num_levels, event_ndims=3, seed=self.seed,
                                            name="dequantizer", dtype=self.dtype_policy)
    self._rng = np.random.default_rng(self.seed)
    layers = []
    full_resolution, channel, squeezed = self.num_couplings
    for j in range(full_resolution):
      layers += self._step(self.event_shape, checkerboard_mask(self.event_shape, j % 2),
                           f"full_{j}")
    layers.append(SqueezeLayer(self.event_shape, name="squeeze", dtype=self.dtype_policy))
    for j in range(channel):
      layers += self._step(latent_shape, channel_mask(latent_shape, first_half=j % 2 == 1),
                           f"channel_{j}")
    for j in range(squeezed):
      layers += self._step(latent_shape, checkerboard_mask(latent_shape, j % 2),
                           f"squeezed_{j}")
    self.flow_layers = layers

  def _step(self, shape, mask, name):
    """[ImageActNorm, InvertibleConv1x1 (if C > 1), coupling] on images of `shape`."""
    layers = [ImageActNorm(shape, per="position", name=f"{name}_actnorm",
                           dtype=self.dtype_policy)]
    if shape[-1] > 1:  # With one channel a 1x1 convolution is only a scale.
      layers.append(InvertibleConv1x1(shape[-1], seed=int(self._rng.integers(2**31)),
                                      name=f"{name}_conv1x1", dtype=self.dtype_policy))
    layers.append(ImageMixtureLogisticCouplingLayer(
        shape, mask, num_components=self.num_components, filters=self.filters,
        conditioner_blocks=self.conditioner_blocks, num_heads=self.num_heads,
        dropout=self.dropout,
        attention=self.attention, min_log_scale=self.min_log_scale,
        tolerance=self.tolerance, num_halvings=self.num_halvings,
        context_channels=self.context_size or None,  # A conditional flow's features.
        name=f"{name}_coupling", dtype=self.dtype_policy))
    return layers

  def _saved_dequantizer_options(self):
    """`dequantizer_options`, with whether a variational dequantiser reads the context."""
    options = dict(self.dequantizer_options)
    if self.dequantization == "variational":
      options["context_size"] = self.dequantizer.context_size
    return options

  @classmethod
  def from_config(cls, config):
    """Also reloads conditional models saved before q(u | x) became q(u | x, c).

    Their configs name no dequantiser `context_size`: they keep q(u | x),
    a valid bound on log P(x | c) (`FlowModel.dequantize` then passes no context).
    """
    config = dict(config)
    if (config.get("context_shape") and config.get("dequantization", "variational")
        == "variational" and "context_size" not in (config.get("dequantizer_options") or {})):
      config["dequantizer_options"] = {**(config.get("dequantizer_options") or {}),
                                       "context_size": 0}
    return super().from_config(config)

  def get_config(self):
    config = super().get_config()
    config.pop("dequantizer", None)  # Built from `dequantization` and its options.
    config.update(num_components=self.num_components,
                  filters=self.filters, conditioner_blocks=self.conditioner_blocks,
                  num_heads=self.num_heads, dropout=self.dropout,
                  num_couplings=list(self.num_couplings),
                  attention=self.attention, dequantization=self.dequantization,
                  num_levels=self.num_levels, preset=self.preset,
                  dequantizer_options=self._saved_dequantizer_options(), seed=self.seed,
                  min_log_scale=self.min_log_scale, tolerance=self.tolerance,
                  num_halvings=self.num_halvings)
    return config
