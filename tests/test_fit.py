"""End-to-end tests of `train/fit.py`: training, resume, NaN handling, the table.

Every run uses a tiny flow (2 blocks of 1 D-scale, K = 2, a 16-unit MADE)
for a few hundred steps at most, so the file runs in about a minute on two
CPU cores.  Data: the built-in moons toy and a small GAS pickle written in the
real format; no network.
"""
import json
import math
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests import make_maf_files as maf_files
from train import fit
from train.checkpointing import TrainingCheckpoint
from train.data_pipeline import epoch_schedule
from train.data_pipeline import training_dataset
from train.hyperparameters import EXPONENTIAL_DECAY_RATE
from train.hyperparameters import PAPER_TABLE
from train.training_loop import make_optimizer

TINY = ["--num-blocks", "2", "--num-d-scales", "1", "--num-mixtures", "2",
        "--hidden-units", "16", "--batch-size", "64", "--num-samples", "200",
        "--eval-batch-size", "500", "--verbose", "0"]


def read_json(path):
  with open(path) as stream:
    return json.load(stream)


def checkpoint_arrays(out):
  """The committed checkpoint state under `out` and {name: array} of its last file."""
  directory = os.path.join(out, "checkpoints")
  state = read_json(os.path.join(directory, "state.json"))
  with np.load(os.path.join(directory, state["last_file"])) as arrays:
    return state, {key: arrays[key] for key in arrays.files}


def assert_finite_metrics(metrics):
  for key in ("test_log_likelihood", "test_log_likelihood_2se", "val_log_likelihood",
              "initial_test_log_likelihood", "samples_per_second",
              "reconstruction_residual", "train_seconds"):
    assert math.isfinite(metrics[key]), key
  assert metrics["test_non_finite"] == 0
  assert metrics["solver_num_unconverged"] == 0
  assert metrics["solver_max_iterations"] >= 1


@pytest.mark.e2e
def test_toy_default_runs_end_to_end_with_xla(tmp_path):
  out = str(tmp_path / "moons")
  metrics = fit.main(TINY + ["--steps", "300", "--out", out])
  assert metrics == read_json(os.path.join(out, "metrics.json"))
  assert_finite_metrics(metrics)
  assert metrics["dataset"] == "moons" and metrics["model"] == "ldu"
  assert metrics["config"]["jit_compile"] is True
  assert metrics["steps"] == 300
  # Training helped: > 0.1 nats better than the (ActNorm-initialised) start.
  assert metrics["test_log_likelihood"] > metrics["initial_test_log_likelihood"] + 0.1
  assert metrics["reconstruction_residual"] < 1e-3
  for name in ("density.png", "samples.png"):
    with open(os.path.join(out, name), "rb") as stream:
      assert stream.read(8) == b"\x89PNG\r\n\x1a\n"
  assert os.path.isfile(os.path.join(out, "saved_model", "saved_model.pb"))
  assert os.listdir(os.path.join(out, "logs"))
  exported = tf.saved_model.load(os.path.join(out, "saved_model"))
  grid = np.zeros([3, 2], np.float32)
  assert np.all(np.isfinite(exported.log_prob(grid).numpy()))


@pytest.mark.e2e
def test_gas_pickle_runs_end_to_end(tmp_path):
  maf_files.write_gas(tmp_path / "data", maf_files.make_gas_frame(np.random.default_rng(0), 1500))
  out = str(tmp_path / "gas")
  metrics = fit.main(TINY + ["--dataset", "gas", "--data-dir", str(tmp_path / "data"),
                             "--steps", "40", "--no-jit", "--out", out])
  assert_finite_metrics(metrics)
  assert metrics["config"]["event_size"] == 8
  assert metrics["config"]["hyperparameters"]["lr_decay"] == "exponential"
  # D = 8: the corner plot and the marginals, not the 2-D density.
  assert [os.path.basename(path) for path in metrics["figures"]] == ["corner.png",
                                                                     "marginals.png"]
  assert not os.path.exists(os.path.join(out, "density.png"))
  assert os.path.isfile(os.path.join(out, "report.md"))
  assert os.path.isfile(os.path.join(out, "saved_model", "saved_model.pb"))


class SimulatedKill(Exception):
  """Raised by `KillAfterEpoch` in place of the process being killed."""


class KillAfterEpoch(keras.callbacks.Callback):
  """Aborts `fit` at the end of epoch `epoch` (1-based), after its checkpoint."""

  def __init__(self, epoch):
    super().__init__()
    self.epoch = epoch

  def on_epoch_end(self, epoch, logs=None):
    if epoch + 1 == self.epoch:
      raise SimulatedKill(f"killed after epoch {self.epoch}")


@pytest.mark.e2e
def test_resume_after_kill_ends_where_an_uninterrupted_run_ends(tmp_path):
  # Cosine decay, AdamW and dropout: the schedule, the optimizer moments and
  # the dropout RNG state must all survive the restart.
  flags = TINY + ["--epochs", "4", "--steps", "120", "--lr-decay", "cosine",
                  "--weight-decay", "1e-4", "--dropout", "0.1", "--no-jit"]
  straight = str(tmp_path / "straight")
  interrupted = str(tmp_path / "interrupted")
  expected = fit.main(flags + ["--out", straight])
  with pytest.raises(SimulatedKill):
    fit.main(flags + ["--out", interrupted], callbacks=[KillAfterEpoch(2)])
  state, _ = checkpoint_arrays(interrupted)
  assert (state["epoch"], state["step"]) == (2, 60)
  assert not os.path.exists(os.path.join(interrupted, "metrics.json"))

  resumed = fit.main(flags + ["--out", interrupted, "--resume"])
  assert resumed["steps"] == expected["steps"] == 120
  assert resumed["history"]["loss"] == pytest.approx(expected["history"]["loss"], rel=1e-5)
  for key in ("test_log_likelihood", "val_log_likelihood", "initial_test_log_likelihood"):
    assert resumed[key] == pytest.approx(expected[key], rel=1e-5, abs=1e-5), key
  _, want = checkpoint_arrays(straight)
  _, got = checkpoint_arrays(interrupted)
  assert want.keys() == got.keys()
  assert any(key.startswith("optimizer_") for key in want)
  for key in want:
    np.testing.assert_allclose(got[key], want[key], rtol=1e-5, atol=1e-6, err_msg=key)


@pytest.mark.e2e
def test_resume_refuses_a_different_configuration(tmp_path):
  out = str(tmp_path / "run")
  flags = TINY + ["--steps", "10", "--no-jit", "--num-samples", "20"]
  with pytest.raises(SimulatedKill):
    fit.main(flags + ["--out", out], callbacks=[KillAfterEpoch(1)])
  with pytest.raises(SystemExit, match=r"hyperparameters.learning_rate: 0.003 then, 0.1 "
                                       r"now.*Only a larger --steps/--epochs"):
    fit.main(flags + ["--out", out, "--resume", "--lr", "0.1"])


@pytest.mark.e2e
def test_resume_extends_a_finished_run_to_more_steps(tmp_path, capsys):
  out = str(tmp_path / "run")
  flags = TINY + ["--no-jit", "--num-samples", "20", "--out", out]
  first = fit.main(flags + ["--steps", "10"])
  assert first["steps"] == 10
  extended = fit.main(flags + ["--steps", "25", "--resume"])
  assert "extending the run from 10 to 30 steps (3 epochs of 10)" in capsys.readouterr().out
  assert extended["steps"] == 30 and extended["resumed"]
  assert len(extended["history"]["loss"]) > len(first["history"]["loss"])
  with pytest.raises(SystemExit, match=r"hyperparameters.steps: 25 then, 5 now"):
    fit.main(flags + ["--steps", "5", "--resume"])


class PoisonWeightsAtEpoch(keras.callbacks.Callback):
  """Sets one weight to NaN when epoch `epoch` (1-based) begins."""

  def __init__(self, epoch):
    super().__init__()
    self.epoch = epoch

  def on_epoch_begin(self, epoch, logs=None):
    if epoch + 1 == self.epoch:
      variable = self.model.trainable_variables[0]
      variable.assign(np.full(variable.shape, np.nan, variable.dtype))


@pytest.mark.e2e
def test_nan_loss_stops_with_message_and_keeps_last_good_checkpoint(tmp_path):
  out = str(tmp_path / "nan")
  flags = TINY + ["--epochs", "3", "--steps", "60", "--no-jit", "--out", out]
  with pytest.raises(SystemExit) as stopped:
    fit.main(flags, callbacks=[PoisonWeightsAtEpoch(2)])
  message = str(stopped.value.code)
  assert "NaN" in message and "step 21 " in message and "epoch 1, step 20" in message
  state, arrays = checkpoint_arrays(out)
  assert (state["epoch"], state["step"]) == (1, 20)
  assert all(np.all(np.isfinite(value)) for value in arrays.values())
  assert not os.path.exists(os.path.join(out, "metrics.json"))


def test_checkpoint_keeps_best_and_last_and_stops_after_patience(tmp_path):
  model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
  model.compile(keras.optimizers.Adam())
  model.optimizer.build(model.trainable_variables)
  checkpoint = TrainingCheckpoint(tmp_path / "checkpoints", patience=2)
  checkpoint.set_model(model)
  model.stop_training = False
  for epoch, val_loss in enumerate([3.0, 2.0, 2.5, math.nan, 2.6]):
    checkpoint.on_epoch_begin(epoch)
    model.layers[0].kernel.assign(np.full((2, 1), epoch, np.float32))
    checkpoint.on_epoch_end(epoch, {"loss": 1.0 if epoch != 3 else math.nan,
                                    "val_loss": val_loss})
  # Epoch 4 (NaN loss) was not saved; epochs 3 and 5 did not improve on 2.
  assert model.stop_training
  state = checkpoint.state
  assert (state["epoch"], state["best_epoch"], state["wait"]) == (5, 2, 2)
  assert state["stopped_early"] and state["history"]["val_loss"] == [3.0, 2.0, 2.5, 2.6]
  assert sorted(os.listdir(checkpoint.directory)) == [
      "best-000002.npz", "epoch-000005.npz", "state.json"]
  restored = TrainingCheckpoint(checkpoint.directory, patience=2)
  assert restored.restore(model) == state
  np.testing.assert_array_equal(model.layers[0].kernel.numpy(), 4.0)
  restored.restore_best(model)
  np.testing.assert_array_equal(model.layers[0].kernel.numpy(), 1.0)


def test_gas_defaults_are_the_papers_row_and_flags_override():
  args = fit.parse_args(["--dataset", "gas"])
  row = fit.resolve_hyperparameters(args)
  assert row == PAPER_TABLE["gas"]
  assert (row.num_blocks, row.num_d_scales, row.num_mixtures, row.hidden_units) == (
      12, 4, 4, (256, 256))
  assert (row.steps, row.batch_size, row.learning_rate) == (2_000_000, 128, 1e-3)
  assert (row.lr_decay, row.weight_decay, row.dropout) == ("exponential", 1e-5, 0.0)
  assert args.out == os.path.join("runs", "gas-ldu")

  overridden = fit.resolve_hyperparameters(fit.parse_args(
      ["--dataset", "gas", "--lr", "3e-4", "--hidden-units", "64-64", "--num-blocks", "3"]))
  assert overridden == PAPER_TABLE["gas"].replace(learning_rate=3e-4, hidden_units=(64, 64),
                                                  num_blocks=3)

  # The paper's 2M steps over GAS's 852,174 training rows: 301 epochs of
  # <= one pass each, decaying the rate by 0.99 per epoch under AdamW.
  schedule = epoch_schedule(852_174, row.batch_size, steps=row.steps)
  assert schedule.epochs == 301 and schedule.steps_per_epoch <= 852_174 // 128
  assert 2_000_000 <= schedule.total_steps < 2_000_000 + schedule.epochs
  optimizer = make_optimizer(row, schedule)
  assert isinstance(optimizer, keras.optimizers.AdamW)
  assert optimizer.weight_decay == pytest.approx(1e-5)
  rate = optimizer._learning_rate
  assert float(rate(schedule.steps_per_epoch - 1)) == pytest.approx(1e-3)
  assert float(rate(3 * schedule.steps_per_epoch)) == pytest.approx(
      1e-3 * EXPONENTIAL_DECAY_RATE ** 3)


def test_toy_quick_preset_and_paper_preset():
  quick = fit.resolve_hyperparameters(fit.parse_args([]))
  paper = fit.resolve_hyperparameters(fit.parse_args(["--preset", "paper"]))
  assert paper == PAPER_TABLE["toy2d"] and paper.num_blocks == 16 and paper.steps == 50_000
  assert quick.num_blocks < paper.num_blocks and quick.steps < paper.steps
  assert fit.resolve_hyperparameters(fit.parse_args(["--dataset", "miniboone"])).dropout == 0.3


def test_data_order_is_a_function_of_seed_and_epoch():
  x = np.arange(50, dtype=np.float32)[:, None]
  whole = [b.numpy() for b in training_dataset(x, 8, 4, seed=3, first_epoch=0, end_epoch=3)]
  tail = [b.numpy() for b in training_dataset(x, 8, 4, seed=3, first_epoch=1, end_epoch=3)]
  other = [b.numpy() for b in training_dataset(x, 8, 4, seed=4, first_epoch=0, end_epoch=1)]
  assert len(whole) == 12 and all(b.shape == (8, 1) for b in whole)
  np.testing.assert_array_equal(np.stack(whole[4:]), np.stack(tail))
  assert not np.array_equal(np.stack(whole[:4]), np.stack(other))
  # Within an epoch no row repeats before all have been drawn.
  first_epoch = np.concatenate(whole[:4]).ravel()
  assert len(np.unique(first_epoch)) == len(first_epoch)


def test_xla_default_follows_the_specs_cpu_crossover():
  import models
  if tf.config.list_physical_devices("GPU"):
    pytest.skip("the CPU default")
  strategy = tf.distribute.get_strategy()
  gas, miniboone = (models.DataInfo("t", "gas", (d,)) for d in (8, 43))
  ldu, maf, nsf = (models.spec_for(name) for name in ("ldu", "maf", "nsf"))
  assert fit._use_xla(None, strategy, ldu.prefers_xla_on_cpu(gas)) is True
  assert fit._use_xla(None, strategy, ldu.prefers_xla_on_cpu(miniboone)) is False
  assert fit._use_xla(None, strategy, maf.prefers_xla_on_cpu(gas)) is False
  mnist = models.DataInfo("t", "mnist", (784,))
  assert fit._use_xla(None, strategy, maf.prefers_xla_on_cpu(mnist)) is True
  assert fit._use_xla(None, strategy, nsf.prefers_xla_on_cpu(miniboone)) is True
  assert fit._use_xla(True, strategy, False) is True  # --jit wins.
  assert fit._use_xla(False, strategy, True) is False
