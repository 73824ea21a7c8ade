"""Registry cases for the planar flow's bijector (through `PlanarLayer`).

Two float64 layers with random non-trivial weights: one with w^T u_hat > 0
and one close to the invertibility bound (w^T u_hat ~ -0.94), where the
scalar equation of `forward` is nearly flat.  The solves use
`tolerance=1e-14`: the registry differentiates `forward` by central
differences with step 1e-6.  The conditional case gives its hyper-network's
zero-initialised output weights a value, so that every context moves u, w
and b (and every hyper-network weight gets a gradient); its w^T u sits near
the bound, where a context that broke the constraint would show.
"""
import numpy as np

from tests.registry import BijectorCase
from tfp_ldu.layers.planar_layer import PlanarLayer

SOLVE_TOLERANCE = 1e-14


def make_planar(seed, w_dot_u, context_size=0):
  """A 3-D layer with random u, w, b, u shifted along w so that w^T u = `w_dot_u`."""
  rng = np.random.default_rng(seed)
  layer = PlanarLayer(3, tolerance=SOLVE_TOLERANCE, context_size=context_size,
                      context_hidden_units=4, dtype="float64")
  if context_size:
    layer.context_output.assign(rng.normal(size=layer.context_output.shape))
  w = rng.normal(size=3)
  u = rng.normal(size=3)
  u += (w_dot_u - w @ u) * w / (w @ w)
  layer.u.assign(u)
  layer.w.assign(w)
  layer.b.assign(0.5 * rng.normal())
  return layer


CASES = [
    BijectorCase("planar", lambda: make_planar(seed=11, w_dot_u=1.5), event_size=3,
                 data_scale=1.5),
    BijectorCase("planar_near_bound", lambda: make_planar(seed=12, w_dot_u=-3.0),
                 event_size=3, data_scale=1.5),
    BijectorCase("planar_conditional",
                 lambda: make_planar(seed=13, w_dot_u=-2.0, context_size=2), event_size=3,
                 data_scale=1.5, context_size=2),
]
