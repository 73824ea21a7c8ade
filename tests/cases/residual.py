"""Registry case for the i-ResNet / Residual Flows block (exact log-det mode)."""
import numpy as np

from tests.registry import BijectorCase
from tfp_ldu.layers import ResidualBlock


def make_residual_block(context_size=0):
  """A D=4 block whose every layer sits at the spectral bound (kernels scaled up).

  With training unset the block builds `Residual(log_det="exact")` (D <= 16).
  Conditional: g(x, c) reads 2 context features beside x.
  """
  block = ResidualBlock(4, hidden_units=(16, 16), context_size=context_size, dtype="float64",
                        seed=0)
  rng = np.random.default_rng(3)
  for weight in block.net.trainable_weights:
    if "kernel" in weight.path:
      weight.assign(3.0 * weight.numpy())
    else:
      weight.assign(weight.numpy() + rng.normal(scale=0.5, size=weight.shape))
  return block


CASES = [BijectorCase("residual_block", make_residual_block, event_size=4, data_scale=2.0),
         BijectorCase("residual_block_conditional", lambda: make_residual_block(2),
                      event_size=4, data_scale=2.0, context_size=2)]
