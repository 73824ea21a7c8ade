"""The SBI benchmark's simulators, reference posteriors and library path (no torch)."""
import csv
import math

import numpy as np

from bench import sbi
from bench.sbi_reference.report import format_table
from bench.sbi_reference.report import summarise
from bench.sbi_reference.tasks import get_task
from bench.sbi_reference.tasks import observations
from bench.sbi_reference.tasks import reference_samples
from bench.sbi_reference.tasks import simulate_dataset


def test_simulators_have_the_tasks_shapes_and_are_seeded():
  for name, (dim, x_dim) in {"gaussian_linear": (10, 10), "two_moons": (2, 2)}.items():
    task = get_task(name)
    theta, x = simulate_dataset(task, 7, seed=3)
    assert theta.shape == (7, dim) and x.shape == (7, x_dim)
    assert theta.dtype == x.dtype == np.float32
    np.testing.assert_array_equal(x, simulate_dataset(task, 7, seed=3)[1])
  theta, _ = simulate_dataset(get_task("two_moons"), 1000, seed=0)
  assert np.all(np.abs(theta) <= 1.0)


def test_gaussian_linear_reference_posterior_is_the_analytic_one():
  task = get_task("gaussian_linear")
  _, x_obs = observations(task, 2)
  samples = reference_samples(task, x_obs, 20000)
  assert samples.shape == (2, 20000, 10)
  np.testing.assert_allclose(samples.mean(axis=1), x_obs / 2, atol=0.01)
  np.testing.assert_allclose(samples.var(axis=1), 0.05, rtol=0.05)


def test_two_moons_reference_samples_resimulate_near_the_observation():
  task = get_task("two_moons")
  theta_true, x_obs = observations(task, 2)
  samples = reference_samples(task, x_obs, 5000)
  assert np.all(np.abs(samples) <= 1.0)
  rng = np.random.default_rng(0)
  for theta_o, x_o, draws in zip(theta_true, x_obs, samples):
    from_posterior = np.linalg.norm(task.simulator(rng, draws) - x_o, axis=1)
    from_truth = np.linalg.norm(
        task.simulator(rng, np.repeat(theta_o[None], 5000, axis=0)) - x_o, axis=1)
    from_prior = np.linalg.norm(task.simulator(rng, task.prior(rng, 5000)) - x_o, axis=1)
    # As close as theta_true's own simulations, far closer than the prior's.
    assert np.median(from_posterior) < 1.5 * np.median(from_truth)
    assert np.median(from_posterior) < 0.3 * np.median(from_prior)


def test_library_path_writes_a_finite_table_row(tmp_path):
  sbi.main(["--tasks", "two_moons", "--models", "maf", "--num-simulations", "500",
            "--epochs", "2", "--num-observations", "1", "--num-samples", "200",
            "--out", str(tmp_path)])
  with open(tmp_path / "results.csv") as handle:
    rows = list(csv.DictReader(handle))
  assert len(rows) == 1 and rows[0]["model"] == "maf" and not rows[0]["error"]
  for field in ("c2st", "log_q_true", "train_time_s", "sample_time_s"):
    assert math.isfinite(float(rows[0][field])), field
  assert 0.4 <= float(rows[0]["c2st"]) <= 1.0
  assert (tmp_path / "results.json").is_file() and (tmp_path / "progress.log").is_file()


def test_summary_leaves_failed_runs_out_of_the_means():
  def run(seed, c2st, error=None):
    record = dict(task="two_moons", model="maf", seed=seed, c2st=c2st, log_q_true=[1.0, 3.0],
                  train_time_s=2.0, sample_time_s=0.1, epochs_run=10, best_epoch=5)
    return dict(record, error=error) if error else record
  summary = summarise([run(0, [0.6, 0.8]), run(1, [math.nan] * 2, error="diverged")])
  row = summary[("two_moons", "maf")]
  assert (row["runs"], row["failed"]) == (2, 1)
  assert math.isclose(row["c2st"], 0.7) and math.isclose(row["log_q_true"], 2.0)
  assert "| two_moons | maf | 2 (1 failed) | 0.700 ± 0.200 |" in format_table(summary)
