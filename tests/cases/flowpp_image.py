"""Registry cases for the image Flow++ coupling (convolutional mixture-logistic coupling).

Tiny networks (4 filters, 1 block, K = 2) on a 2x4x2 image: a checkerboard
mask with attention and a channel mask without (the finite-difference
gradient check solves twice per weight, so fewer weights keep it quick).
The solves use `tolerance=1e-14` (see `tests/cases/mixture_logistic.py`),
and the network's small-initialised output and gate layers are randomised
so the coupling is far from the identity.
"""
import numpy as np

from tests.registry import BijectorCase
from tfp_ldu.bijectors.masks import channel_mask, checkerboard_mask
from tfp_ldu.layers.image_mixture_logistic_coupling_layer import (
    ImageMixtureLogisticCouplingLayer)

IMAGE_SHAPE = (2, 4, 2)
SOLVE_TOLERANCE = 1e-14


def randomise_small_layers(network, seed):
  """Gives the output convolution and every gate ordinary random weights.

  Kernels get standard deviation 1 / sqrt(fan-in), so the mixture parameters
  are of order 1 (as in `tests/cases/mixture_logistic.py`): far from the
  identity, yet not so steep or flat that the round trip is ill-conditioned.
  """
  rng = np.random.default_rng(seed)
  small = [network.proj_out] + [block.gate for block in
                                [*network.conv_blocks, *network.attention_blocks]]
  for layer in small:
    fan_in = int(np.prod(layer.kernel.shape[:-1]))
    layer.kernel.assign(rng.normal(size=layer.kernel.shape) / np.sqrt(fan_in))
    layer.bias.assign(0.3 * rng.normal(size=layer.bias.shape))
  if network.position_embedding is not None:
    network.position_embedding.assign(
        0.5 * rng.normal(size=network.position_embedding.shape))


def make_coupling(mask, seed, attention):
  def make():
    layer = ImageMixtureLogisticCouplingLayer(
        IMAGE_SHAPE, mask, num_components=2, filters=4, conditioner_blocks=1, num_heads=2,
        attention=attention, tolerance=SOLVE_TOLERANCE, dtype="float64")
    randomise_small_layers(layer.network, seed)
    return layer
  return make


CASES = [
    BijectorCase("flowpp_image_coupling_checkerboard",
                 make_coupling(checkerboard_mask(IMAGE_SHAPE, parity=1), seed=11,
                               attention=True),
                 event_size=int(np.prod(IMAGE_SHAPE)), event_shape=IMAGE_SHAPE,
                 data_scale=2.0),
    BijectorCase("flowpp_image_coupling_channel",
                 make_coupling(channel_mask(IMAGE_SHAPE), seed=12, attention=False),
                 event_size=int(np.prod(IMAGE_SHAPE)), event_shape=IMAGE_SHAPE,
                 data_scale=2.0),
]
