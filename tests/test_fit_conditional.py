"""`train/fit.py --conditional`: p(x | c) on the built-in data sets of pairs, end to end."""
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from train import fit
from train import reconstruct

TINY = ["--num-blocks", "2", "--num-d-scales", "1", "--num-mixtures", "2",
        "--hidden-units", "32", "--batch-size", "128", "--num-samples", "200",
        "--eval-batch-size", "1000", "--verbose", "0"]


def is_png(path):
  with open(path, "rb") as stream:
    return stream.read(8) == b"\x89PNG\r\n\x1a\n"


@pytest.mark.e2e
def test_rotating_moons_conditional_beats_the_marginal_and_exports(tmp_path):
  """The same LDU flow with and without the context: the context must pay (> 0.15 nats,
  about 7 standard errors, after 300 steps; 0.26 measured)."""
  flags = TINY + ["--dataset", "rotating_moons", "--steps", "300"]
  conditional = fit.main(flags + ["--conditional", "--out", str(tmp_path / "conditional")])
  marginal = fit.main(flags + ["--out", str(tmp_path / "marginal")])
  assert conditional["conditional"] and "conditional" not in marginal
  assert conditional["config"]["context_shape"] == [1]
  assert conditional["solver_num_unconverged"] == 0
  assert conditional["test_log_likelihood"] > marginal["test_log_likelihood"] + 0.15, (
      conditional["test_log_likelihood"], marginal["test_log_likelihood"])
  assert is_png(tmp_path / "conditional" / "samples.png")
  exported = tf.saved_model.load(str(tmp_path / "conditional" / "saved_model"))
  points = np.zeros([4, 2], np.float32)
  log_prob = exported.log_prob(points, np.float32([[-0.9], [-0.3], [0.3], [0.9]])).numpy()
  assert np.all(np.isfinite(log_prob)) and np.ptp(log_prob) > 1e-3
  with open(tmp_path / "conditional" / "config.json") as stream:
    assert json.load(stream)["conditional"] is True
  # train/reconstruct.py rebuilds p(x | c) and inverts each test row under its context.
  summary = reconstruct.main([str(tmp_path / "conditional"), "--max-iterations", "6",
                              "--num-images", "32"])
  assert summary["conditional"] and summary["num_images"] == 32
  assert summary["mse_mean"][-1] < 1e-8 and summary["num_unconverged"][-1] == 0


@pytest.mark.e2e
def test_class_conditional_digits_with_maf(tmp_path):
  out = str(tmp_path / "digits")
  metrics = fit.main(["--dataset", "digits", "--conditional", "--model", "maf",
                      "--num-blocks", "2", "--hidden-units", "64", "--steps", "60",
                      "--num-samples", "50", "--verbose", "0", "--out", out])
  assert metrics["conditional"] and "one-hot" in metrics["context_description"]
  assert np.isfinite(metrics["test_bits_per_dim"])
  assert metrics["test_log_likelihood"] > metrics["initial_test_log_likelihood"]
  assert is_png(os.path.join(out, "samples.png"))
  exported = tf.saved_model.load(os.path.join(out, "saved_model"))
  samples = exported.sample_with_seed(3, [0, 1], np.eye(10, dtype=np.float32)).numpy()
  assert samples.shape == (3, 10, 8, 8, 1) and np.all(np.isfinite(samples))


@pytest.mark.parametrize("flags, message", [
    (["--dataset", "moons"], "--dataset moons has no contexts; data sets of pairs"),
])
def test_conditional_mistakes_end_with_one_line(flags, message, tmp_path, capsys):
  with pytest.raises(SystemExit) as stopped:
    fit.main(flags + ["--conditional", "--steps", "1", "--out", str(tmp_path / "run")])
  assert stopped.value.code == 2
  assert message in capsys.readouterr().err
