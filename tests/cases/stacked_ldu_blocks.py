"""Registry case for `StackedLDUBlocks` (a `LoopedChain` of `LDU` blocks)."""
import numpy as np

from tests.registry import BijectorCase
from tfp_ldu.layers.stacked_ldu_blocks import StackedLDUBlocks
from tfp_ldu.testing import randomise_d_scale


def make_stacked_ldu_blocks(context_size=0):
  """B = 2 blocks of n = 2 D-scales (K = 2) on D = 3, smooth MADEs (see sinusoidal_flow)."""
  layer = StackedLDUBlocks(3, num_blocks=2, num_d_scales=2, num_components=2,
                           hidden_units=(8,), activation="tanh", context_size=context_size,
                           dtype="float64")
  # The stacked weights carry the same names as a SinusoidalParameters layer's.
  rng = np.random.default_rng(5)
  randomise_d_scale(layer, rng)
  for projections in (layer.lower_context_kernels, layer.upper_context_kernels):
    if projections:  # The output projection starts at zero.
      projections[-1].assign(0.3 * rng.normal(size=projections[-1].shape))
  return layer


CASES = [
    BijectorCase("stacked_ldu_blocks", make_stacked_ldu_blocks, event_size=3),
    BijectorCase("stacked_ldu_blocks_conditional", lambda: make_stacked_ldu_blocks(2),
                 event_size=3, context_size=2),
]
