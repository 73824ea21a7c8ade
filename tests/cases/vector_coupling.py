"""Registry cases for `VectorCouplingLayer`: RealNVP's affine and NSF's spline coupling.

The conditioner's head is randomised so that the transformer is far from the
identity (log-scales of several units; uneven spline bins and slopes far
from 1).  The spline data (std 2 on [-2, 2]) cover the interval's inside,
its edges and the identity tails; the large-input check goes to |x| = 1e3,
where the pass-through part drives the network's output far out and the
soft clip must keep the map finite.  An odd D (3) checks the uneven halves.
The conditional spline's data stay mostly inside its interval: in the
identity tails no context could move the map.
"""
import keras
import numpy as np

from tests.registry import BijectorCase
from tfp_ldu.layers import VectorCouplingLayer


def make_coupling(seed, event_size=4, head_scale=1.0, context_size=0, **options):
  keras.utils.set_random_seed(seed)
  layer = VectorCouplingLayer(event_size, hidden_units=(8,), activation="tanh",
                              context_size=context_size, dtype="float64", **options)
  rng = np.random.default_rng(seed)
  head = layer.conditioner.head
  head.kernel.assign(head_scale * rng.normal(size=head.kernel.shape))
  head.bias.assign(head_scale * rng.normal(size=head.bias.shape))
  return layer


CASES = [
    BijectorCase("vector_coupling_affine", lambda: make_coupling(0, head_scale=0.5),
                 event_size=4),
    BijectorCase("vector_coupling_affine_odd_unreversed",
                 lambda: make_coupling(1, event_size=3, head_scale=0.5, reverse=False),
                 event_size=3),
    BijectorCase("vector_coupling_spline",
                 lambda: make_coupling(2, transformer="spline", num_bins=5, bound=2.0),
                 event_size=4, data_scale=2.0),
    BijectorCase("vector_coupling_spline_conditional",
                 lambda: make_coupling(3, event_size=3, transformer="spline", num_bins=4,
                                       bound=3.0, context_size=2),
                 event_size=3, context_size=2),
    BijectorCase("vector_coupling_affine_conditional",
                 lambda: make_coupling(4, head_scale=0.5, context_size=2),
                 event_size=4, context_size=2),
]
