"""Registry cases for the Glow / RealNVP pieces: squeeze, image actnorms, 1x1 conv,
affine and additive couplings (checkerboard and channel masks), the split prior and a
whole two-level Glow (factor-out through `FirstChannels`).

Every layer is float64 with its weights moved away from their (identity or
zero) initialisation, so the zero-initialised last convolutions of the
couplings and of the split prior are random too.
"""
import keras
import numpy as np
import tensorflow_probability as tfp

from tests.registry import BijectorCase
from tfp_ldu.bijectors.masks import channel_mask, checkerboard_mask
from tfp_ldu.flows.glow import Glow
from tfp_ldu.layers.affine_coupling_layer import AffineCouplingLayer
from tfp_ldu.layers.bijector_layer import BijectorLayer
from tfp_ldu.layers.image_actnorm import ImageActNorm
from tfp_ldu.layers.invertible_conv1x1 import InvertibleConv1x1
from tfp_ldu.layers.split_prior import SplitPrior
from tfp_ldu.layers.squeeze_layer import SqueezeLayer
from tfp_ldu.layers.context_prior import ContextPrior

tfb = tfp.bijectors


def perturbed(layer, seed, scale=0.3):
  """`layer` with `scale` * N(0, 1) added to every trainable weight."""
  rng = np.random.default_rng(seed)
  for weight in layer.trainable_weights:
    weight.assign(weight.numpy() + scale * rng.normal(size=weight.shape))
  return layer


class LayerSequence(BijectorLayer):
  """Bijector layers run one after the other (data -> latent), as one layer."""

  def __init__(self, layers, **kwargs):
    super().__init__(**kwargs)
    self.parts = list(layers)
    self.built = True

  def bijector(self, training=None):
    return tfb.Chain([part.bijector(training) for part in self.parts])


class GlowBijector(BijectorLayer):
  """A whole `Glow` model's flow as one bijector layer."""

  def __init__(self, model, **kwargs):
    super().__init__(**kwargs)
    self.model = model
    self.built = True

  def bijector(self, training=None):
    return self.model.flow_bijector(training)


def squeeze_sandwich():
  """squeeze (4, 4, 2) -> per-position actnorm and 1x1 conv on (2, 2, 8) -> unsqueeze."""
  image, squeezed = (4, 4, 2), (2, 2, 8)
  return LayerSequence([
      SqueezeLayer(image, dtype="float64"),
      perturbed(ImageActNorm(squeezed, per="position", dtype="float64"), seed=1),
      perturbed(InvertibleConv1x1(8, seed=2, dtype="float64"), seed=3, scale=0.1),
      SqueezeLayer(image, unsqueeze=True, dtype="float64")], dtype="float64")


def coupling(image_shape, mask, additive, seed, context_size=0, scale=0.2):
  keras.utils.set_random_seed(seed)  # The network's initial kernels too.
  layer = AffineCouplingLayer(image_shape, mask, hidden_channels=6, additive=additive,
                              context_size=context_size, dtype="float64")
  return perturbed(layer, seed, scale=scale)


def tiny_glow():
  model = Glow((4, 4, 2), levels=2, steps_per_level=1, hidden_channels=4, seed=5,
               dtype="float64")
  return GlowBijector(perturbed(model, seed=6, scale=0.1), dtype="float64")


IMAGE = (2, 4, 2)
COUPLED = (4, 4, 2)
SIZE = int(np.prod(IMAGE))
COUPLED_SIZE = int(np.prod(COUPLED))

CASES = [
    BijectorCase("squeeze_sandwich", squeeze_sandwich, event_size=32,
                 event_shape=(4, 4, 2)),
    BijectorCase("image_actnorm_per_channel",
                 lambda: perturbed(ImageActNorm(IMAGE, per="channel", dtype="float64"), 7),
                 event_size=SIZE, event_shape=IMAGE),
    BijectorCase("image_actnorm_per_position",
                 lambda: perturbed(ImageActNorm(IMAGE, per="position", dtype="float64"), 8),
                 event_size=SIZE, event_shape=IMAGE),
    BijectorCase("invertible_conv1x1",
                 lambda: perturbed(InvertibleConv1x1(3, seed=9, dtype="float64"), 10,
                                   scale=0.2),
                 event_size=2 * 4 * 3, event_shape=(2, 4, 3)),
    BijectorCase("affine_coupling_checkerboard",
                 lambda: coupling(COUPLED, checkerboard_mask(COUPLED), False, 11),
                 event_size=COUPLED_SIZE, event_shape=COUPLED),
    BijectorCase("affine_coupling_channel",
                 lambda: coupling(COUPLED, channel_mask(COUPLED), False, 12),
                 event_size=COUPLED_SIZE, event_shape=COUPLED),
    BijectorCase("additive_coupling_checkerboard",
                 lambda: coupling(COUPLED, checkerboard_mask(COUPLED, parity=0), True, 13),
                 event_size=COUPLED_SIZE, event_shape=COUPLED),
    BijectorCase("additive_coupling_channel",
                 lambda: coupling(COUPLED, channel_mask(COUPLED, first_half=True), True, 14),
                 event_size=COUPLED_SIZE, event_shape=COUPLED),
    # exp(-log sigma(z1)) of a random conv: inputs of 1e3 would overflow float64.
    BijectorCase("split_prior",
                 lambda: perturbed(SplitPrior((2, 2, 4), dtype="float64"), 15, scale=0.2),
                 event_size=16, event_shape=(2, 2, 4), large_input=30.0),
    BijectorCase("glow_two_levels", tiny_glow, event_size=32, event_shape=(4, 4, 2),
                 large_input=30.0),
    BijectorCase("affine_coupling_conditional",
                 lambda: coupling(COUPLED, channel_mask(COUPLED), False, 21, context_size=3,
                                  scale=0.4),
                 event_size=COUPLED_SIZE, event_shape=COUPLED, context_size=3),
    BijectorCase("context_prior",
                 lambda: perturbed(ContextPrior(IMAGE, 2, dtype="float64"), 17, scale=0.2),
                 event_size=SIZE, event_shape=IMAGE, context_size=2),
]
