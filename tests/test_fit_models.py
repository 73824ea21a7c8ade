"""`train/fit.py` trains every `--model` of the CLI end to end (tiny sizes, moons)."""
import math
import os

import pytest

import models
from train import fit

# Every test here runs train/fit.py end to end (see pytest.ini).
pytestmark = pytest.mark.e2e

SMALL = ["--steps", "20", "--batch-size", "64", "--num-samples", "100",
         "--eval-batch-size", "500", "--verbose", "0", "--no-jit"]
VECTOR_SPECS = [spec for spec in models.SPECS.values() if spec.vectors is not None]


def tiny_flags(spec):
  """The command line of the spec's tiny model (`FlowSpec.tiny`, `tiny_flag_values`)."""
  flags = []
  for option, value in spec.tiny.items():
    value = ",".join(map(str, value)) if isinstance(value, tuple) else str(value)
    flags += ["--" + option.replace("_", "-"), value]
  for flag in spec.flags:
    if flag.argument in spec.tiny_flag_values:
      value = spec.tiny_flag_values[flag.argument]
      action = flag.kwargs.get("action")
      flags += [flag.display] if action in ("store_true", "store_false") else [
          flag.display, str(value)]
  return flags


def test_every_family_with_a_vector_model_is_here():
  assert {spec.name for spec in VECTOR_SPECS} >= {"ldu", "maf", "flowpp", "residual", "naf",
                                                   "planar"}


def test_model_specific_flags_are_refused_elsewhere(tmp_path, capsys):
  for flags, message in ((["--model", "ldu", "--batch-norm"], "does not take --batch-norm"),
                         (["--model", "naf", "--base", "mog"],
                          "does not take --base (--base is a flag of --model maf)"),
                         (["--model", "maf", "--num-mixtures", "3"], "add --base mog")):
    with pytest.raises(SystemExit) as exited:
      fit.main([*flags, "--out", str(tmp_path)])
    assert exited.value.code == 2 and message in capsys.readouterr().err


# The LDU flow's runs are test_fit.py's (p(x) on the moons, the CLI's defaults)
# and test_fit_conditional.py's (p(x | c), against its marginal).
CONDITIONAL_SPECS = [spec for spec in VECTOR_SPECS if spec.name != "ldu"]


@pytest.mark.parametrize("spec", CONDITIONAL_SPECS, ids=lambda spec: spec.name)
def test_every_model_trains_samples_and_exports_conditionally(spec, tmp_path):
  """p(x | c) on the rotating moons through fit.py, each family's tiny model.

  One run per family covers the CLI's whole path (training, test
  log-likelihood, sampling and its reconstruction, export); the conditional
  path is the unconditional one plus the context, and every family's p(x)
  trains, samples and reloads in test_flow_registry.py.  That each family
  reads its context is test_conditional_flows.py's check.
  """
  metrics = fit.main(["--model", spec.name, *tiny_flags(spec), *SMALL,
                      "--dataset", "rotating_moons", "--conditional", "--out", str(tmp_path)])
  for key in ("test_log_likelihood", "initial_test_log_likelihood", "reconstruction_residual"):
    assert math.isfinite(metrics[key]), key
  assert metrics["conditional"] and metrics["config"]["context_shape"] == [1]
  assert metrics["test_log_likelihood"] > metrics["initial_test_log_likelihood"]
  assert metrics["solver_num_unconverged"] == 0
  assert metrics["reconstruction_residual"] < 1e-3
  assert os.path.exists(os.path.join(tmp_path, "saved_model", "saved_model.pb"))
