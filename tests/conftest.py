"""Test set-up: quiet TensorFlow before it is imported, fixed seeds."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402


@pytest.fixture(autouse=True)
def _seed():
  np.random.seed(0)
  tf.random.set_seed(0)
  yield


@pytest.fixture(autouse=True)
def _plain_graph_by_default(request, monkeypatch):
  """`compile()` without `jit_compile` gives a plain graph here, as Keras's CPU default.

  The library's own default picks XLA on CPUs for NSF and small LDU flows
  (`FlowTraining.cpu_xla_event_sizes`), measured at real sizes; on the
  tests' tiny models XLA's compile time is all it adds (a 3-D conditional
  LDU fit: 13 s -> 38 s).  Tests of that default are marked
  `cpu_xla_default`; XLA training is tested by explicit `jit_compile=True`.
  """
  if request.node.get_closest_marker("cpu_xla_default") is None:
    from tfp_ldu.flows.training import FlowTraining  # pylint: disable=import-outside-toplevel
    monkeypatch.setattr(FlowTraining, "prefers_xla_on_cpu", lambda self: False)


# The two tiers.  `-m "not slow"` is the fast tier for everyday work; CI runs
# everything.  `slow` is every `e2e` test (train/fit.py runs, subprocesses,
# several workers) plus the in-process tests listed in tests/slow_tests.txt:
# those that took 2.5 s or more in a measured run (`python tests/slow_tests.py
# LOG` rewrites the list from a `--durations=0` log).
_SLOW_LIST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "slow_tests.txt")


def _listed_slow_tests():
  if not os.path.exists(_SLOW_LIST):
    return frozenset()
  with open(_SLOW_LIST) as stream:
    return frozenset(line.strip() for line in stream
                     if line.strip() and not line.startswith("#"))


def pytest_collection_modifyitems(config, items):
  del config
  listed = _listed_slow_tests()
  for item in items:
    if item.get_closest_marker("e2e") or item.nodeid in listed:
      item.add_marker(pytest.mark.slow)
