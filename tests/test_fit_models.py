"""`train/fit.py` trains every `--model` of the CLI end to end (tiny sizes, moons)."""
import math

import pytest

import models
from train import fit

# Every test here runs train/fit.py end to end (see pytest.ini).
pytestmark = pytest.mark.e2e

SMALL = ["--steps", "40", "--batch-size", "64", "--num-samples", "100",
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


@pytest.mark.parametrize("spec", VECTOR_SPECS, ids=lambda spec: spec.name)
def test_every_model_trains_samples_and_exports(spec, tmp_path):
  metrics = fit.main(["--model", spec.name, *tiny_flags(spec), *SMALL, "--out",
                      str(tmp_path)])
  for key in ("test_log_likelihood", "initial_test_log_likelihood", "reconstruction_residual"):
    assert math.isfinite(metrics[key]), key
  assert metrics["solver_num_unconverged"] == 0
  assert metrics["reconstruction_residual"] < 1e-3


def test_model_specific_flags_are_refused_elsewhere(tmp_path, capsys):
  for flags, message in ((["--model", "ldu", "--batch-norm"], "does not take --batch-norm"),
                         (["--model", "naf", "--base", "mog"],
                          "does not take --base (--base is a flag of --model maf)"),
                         (["--model", "maf", "--num-mixtures", "3"], "add --base mog")):
    with pytest.raises(SystemExit) as exited:
      fit.main([*flags, "--out", str(tmp_path)])
    assert exited.value.code == 2 and message in capsys.readouterr().err


# The LDU flow's conditional run is test_fit_conditional.py's, against its marginal.
CONDITIONAL_SPECS = [spec for spec in VECTOR_SPECS if spec.name != "ldu"]


@pytest.mark.parametrize("spec", CONDITIONAL_SPECS, ids=lambda spec: spec.name)
def test_every_model_trains_conditionally_through_fit_py(spec, tmp_path):
  # p(x | c) on the rotating moons, the CLI's conditional path for every family
  # (that each family reads its context is test_conditional_flows.py's check).
  small = SMALL[:SMALL.index("--steps")] + SMALL[SMALL.index("--steps") + 2:]
  metrics = fit.main(["--model", spec.name, *tiny_flags(spec), *small, "--steps", "20",
                      "--dataset", "rotating_moons", "--conditional", "--out", str(tmp_path)])
  assert metrics["test_log_likelihood"] > metrics["initial_test_log_likelihood"]
  assert metrics["reconstruction_residual"] < 1e-3
