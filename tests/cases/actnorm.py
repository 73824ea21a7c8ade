"""Registry cases for the vector `ActNorm` and the weightless `LogitPreprocessing`,
`Standardization` and `ColumnBounds`.

ActNorm: random locations and log-scales, and a case with scales from e^-6
to e^6 (extreme but valid).  LogitPreprocessing maps (a little more than)
[0, 1)^D to R^D: its data are dequantised pixels in [0, 1), its extreme
inputs lie just inside the support's edges (-alpha / (1 - 2 alpha) and
1 + alpha / (1 - 2 alpha)), and it owns no weights.
"""
import numpy as np

from tests.registry import BijectorCase
from tfp_ldu.layers import ActNorm, ColumnBounds, LogitPreprocessing, Standardization

ALPHA = 0.05


def make_actnorm(seed, log_scale_range=1.0):
  rng = np.random.default_rng(seed)
  layer = ActNorm(5, dtype="float64")
  layer.loc.assign(rng.normal(size=5))
  layer.log_scale.assign(rng.uniform(-log_scale_range, log_scale_range, size=5))
  layer.initialized.assign(1.0)
  return layer


def pixels(rng, shape):
  return rng.uniform(0.0, 1.0, size=shape)


def near_the_support_edges():
  margin = ALPHA / (1.0 - 2.0 * ALPHA)
  edges = np.array([-margin, 1.0 + margin])
  inside = np.array([[edges[0] + 1e-9, edges[1] - 1e-9, 0.0, 1.0 - 1e-12, 0.5]])
  return np.concatenate([inside, inside[:, ::-1]])


def inside_the_column_bounds(rng, shape):
  """Rows inside `ColumnBounds`' (0, 1), (-inf, 2), (-3, inf) and unbounded columns."""
  normal = rng.normal(size=shape)
  return np.stack([rng.uniform(0.05, 0.95, shape[0]), 2.0 - np.exp(normal[:, 1]),
                   -3.0 + np.exp(normal[:, 2]), normal[:, 3]], axis=-1)


def near_the_column_bounds():
  return np.array([[1e-9, 2.0 - 1e-9, -3.0 + 1e-9, 50.0],
                   [1.0 - 1e-9, -1e3, 1e3, -50.0]])


CASES = [
    BijectorCase("actnorm", lambda: make_actnorm(0), event_size=5),
    BijectorCase("actnorm_extreme_scales", lambda: make_actnorm(1, log_scale_range=6.0),
                 event_size=5, round_trip_atol=1e-8),
    BijectorCase("logit_preprocessing", lambda: LogitPreprocessing(ALPHA, dtype="float64"),
                 event_size=5, sample=pixels, extreme_inputs=near_the_support_edges,
                 has_weights=False),
    # A table in raw units: columns centred far from 0 with scales from 1e-3 to 1e3.
    BijectorCase("standardization", lambda: Standardization(
        [1e3, -2.0, 0.5, 40.0, 0.0], [1e3, 1e-3, 2.0, 15.0, 1.0], dtype="float64"),
                 event_size=5, has_weights=False),
    BijectorCase("column_bounds", lambda: ColumnBounds(
        [0.0, None, -3.0, None], [1.0, 2.0, None, None], dtype="float64"),
                 event_size=4, sample=inside_the_column_bounds,
                 extreme_inputs=near_the_column_bounds, has_weights=False),
]
