"""`train/fit.py` trains every `--model` of the CLI end to end (tiny sizes, moons)."""
import math

import pytest

from train import fit
from train.model_registry import VECTOR_MODELS

# Every test here runs train/fit.py end to end (see pytest.ini).
pytestmark = pytest.mark.e2e

SMALL = ["--steps", "40", "--batch-size", "64", "--num-samples", "100",
         "--eval-batch-size", "500", "--verbose", "0", "--no-jit"]
FLAGS = {
    "ldu": ["--num-blocks", "1", "--num-d-scales", "1", "--hidden-units", "8"],
    "maf": ["--num-blocks", "2", "--hidden-units", "8", "--batch-norm", "--base", "mog",
            "--num-mixtures", "3"],
    "flowpp": ["--num-blocks", "2", "--num-mixtures", "2", "--hidden-units", "8"],
    "residual": ["--num-blocks", "1", "--hidden-units", "8"],
    "naf": ["--num-blocks", "2", "--num-mixtures", "3", "--hidden-units", "8"],
    "planar": ["--num-blocks", "4"],
}


@pytest.mark.parametrize("model", sorted(VECTOR_MODELS))
def test_every_model_trains_samples_and_exports(model, tmp_path):
  metrics = fit.main(["--model", model, *FLAGS[model], *SMALL, "--out", str(tmp_path)])
  for key in ("test_log_likelihood", "initial_test_log_likelihood", "reconstruction_residual"):
    assert math.isfinite(metrics[key]), key
  assert metrics["solver_num_unconverged"] == 0
  assert metrics["reconstruction_residual"] < 1e-3


def test_model_specific_flags_are_refused_elsewhere(tmp_path, capsys):
  for flags, message in ((["--model", "ldu", "--batch-norm"], "does not take --batch-norm"),
                         (["--model", "naf", "--base", "mog"], "does not take --base"),
                         (["--model", "maf", "--num-mixtures", "3"], "add --base mog")):
    with pytest.raises(SystemExit) as exited:
      fit.main([*flags, "--out", str(tmp_path)])
    assert exited.value.code == 2 and message in capsys.readouterr().err
