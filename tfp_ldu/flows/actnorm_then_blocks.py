"""The layout NSF, RealNVP and IAF share: flatten, ActNorm, then `num_blocks` blocks."""
from tfp_ldu.layers.actnorm import ActNorm
from tfp_ldu.layers.flatten_event import FlattenEvent

__all__ = ["actnorm_then_blocks"]


def actnorm_then_blocks(flow, make_block):
  """Sets `flow.actnorm`, `flow.blocks` and `flow.flow_layers` of a vector flow.

  Data -> latent: `FlattenEvent` (an image event becomes `[D]`, NHWC), an
  `ActNorm` initialised from the first batch (so the blocks see standardised
  data), then `make_block(i)` for i < `flow.num_blocks`.

  Args:
    flow: a `FlowModel` with `num_blocks` and `event_size` set.
    make_block: `i -> BijectorLayer`, block i in data -> latent order.
  """
  flow.actnorm = ActNorm(flow.event_size, name="actnorm", dtype=flow.dtype_policy)
  flow.blocks = [make_block(i) for i in range(flow.num_blocks)]
  flatten = FlattenEvent(flow.event_shape, name="flatten_event")
  flow.flow_layers = [flatten, flow.actnorm, *flow.blocks]
