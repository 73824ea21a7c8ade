"""The bijector test registry.

Every bijector of the library is registered as a `BijectorCase` in a module of
`tests/cases/` (a module-level list `CASES`); `test_bijector_registry.py` runs
the same checks on all of them.  Adding a bijector = adding a case file.
"""
import dataclasses
import importlib
import pkgutil
from typing import Callable

import numpy as np

from tests import cases as cases_package


@dataclasses.dataclass(frozen=True)
class BijectorCase:
  """One bijector under test.

  Attributes:
    name: test id.
    make_layer: `() -> keras Layer` in float64 with randomised (non-identity)
      weights and a `bijector()` method building a fresh bijector from them.
    event_size: D, the number of scalars in one event.
    data_scale: std of the test data (round trip, Jacobian checks).
    large_input: |x| up to which `inverse` and its log-det must stay finite.
    round_trip_atol: allowed max |forward(inverse(x)) - x| (float64).
    log_det_atol: allowed max |ILDJ - log|det J|| (float64).
    event_shape: the event's shape if not `(event_size,)` (e.g. `(H, W, C)`).
    sample: `(rng, shape) -> array` of test data (default: normal, `data_scale`),
      for bijectors whose domain is not all of R^D.
    extreme_inputs: `() -> array` `[N, *event_shape]` of extreme but valid
      inputs at which `inverse` and its log-det must stay finite (default:
      a linspace over [-large_input, large_input]).
    has_weights: whether the layer owns trainable weights (a weightless layer
      must own none).
    library_layer: whether `make_layer` returns layers of the library (or a
      test holder of library layers, whose parts are then checked) that must
      survive a Keras config round trip; False for test-only holders of raw
      parameters.
    context_size: C > 0 for a conditional layer: every check builds
      `bijector(context=c)` with one context row per data row (`context`),
      and the context must change the map.
    dead_weights: paths of weights that are structurally unused (e.g. the
      fully masked input kernel of a univariate conditional MADE), exempt
      from the every-weight-gets-a-gradient check.
  """
  name: str
  make_layer: Callable
  event_size: int
  event_shape: tuple = None
  data_scale: float = 1.0
  large_input: float = 1e3
  round_trip_atol: float = 1e-6
  log_det_atol: float = 1e-6
  sample: Callable = None
  extreme_inputs: Callable = None
  has_weights: bool = True
  library_layer: bool = True
  context_size: int = 0
  dead_weights: tuple = ()

  @property
  def shape(self):
    """The event shape: `event_shape`, or `(event_size,)` for vectors."""
    return tuple(self.event_shape or (self.event_size,))


def context(case, num_rows, seed=7):
  """`[num_rows, C]` float64 contexts of a conditional case (None for C = 0)."""
  if not case.context_size:
    return None
  return np.random.default_rng(seed).normal(size=(num_rows, case.context_size))


def all_cases():
  """Every registered case, from every module of `tests/cases/`."""
  found = []
  for module_info in pkgutil.iter_modules(cases_package.__path__):
    module = importlib.import_module(f"{cases_package.__name__}.{module_info.name}")
    found.extend(module.CASES)
  return found
