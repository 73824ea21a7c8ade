"""Registry case for `StackedLDUBlocks` (a `LoopedChain` of `LDU` blocks)."""
import numpy as np

from tests.registry import BijectorCase
from tfp_ldu.layers.stacked_ldu_blocks import StackedLDUBlocks
from tfp_ldu.testing import randomise_d_scale


def make_stacked_ldu_blocks():
  """B = 2 blocks of n = 2 D-scales (K = 2) on D = 3, smooth MADEs (see sinusoidal_flow)."""
  layer = StackedLDUBlocks(3, num_blocks=2, num_d_scales=2, num_components=2,
                           hidden_units=(8,), activation="tanh", dtype="float64")
  # The stacked weights carry the same names as a SinusoidalParameters layer's.
  randomise_d_scale(layer, np.random.default_rng(5))
  return layer


CASES = [
    BijectorCase("stacked_ldu_blocks", make_stacked_ldu_blocks, event_size=3),
]
