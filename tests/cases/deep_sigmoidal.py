"""Registry cases for the deep sigmoidal flow (NAF-DSF): `DeepSigmoidalLayer`.

The MADE's weights are redrawn larger than its initialisation (N(0, 0.5^2)),
so the slopes, shifts and mixture weights vary strongly with x_{<i}: the
Jacobian is genuinely lower triangular with off-diagonal entries of the order
of the diagonal (0.2 to 0.9).  Smooth (tanh) activations: with ReLU, finite
differences can straddle a kink.  `tolerance=1e-14` for the finite-difference
check of `forward` (see `tests/cases/mixture_logistic.py`).  The reversed
order (`reverse=True`) is checked in `tests/test_naf.py`: its eager solves
cost as much as these, too much for a second registry case.
"""
import numpy as np

from tests.registry import BijectorCase
from tfp_ldu.layers.deep_sigmoidal_layer import DeepSigmoidalLayer

SOLVE_TOLERANCE = 1e-14


def make_deep_sigmoidal(reverse=False, seed=7):
  """D = 3, K = 4, one hidden layer of 16; `reverse` conditions on x_{>i}."""
  layer = DeepSigmoidalLayer(3, num_components=4, hidden_units=(16,), reverse=reverse,
                             activation="tanh", tolerance=SOLVE_TOLERANCE, dtype="float64")
  rng = np.random.default_rng(seed)
  for weight in layer.trainable_weights:
    weight.assign(rng.normal(scale=0.5, size=weight.shape))
  return layer


CASES = [
    BijectorCase("deep_sigmoidal", make_deep_sigmoidal, event_size=3, data_scale=2.0,
                 large_input=1e4),
]
