"""`train/fit.py` ends user mistakes with one clear line, never a traceback.

Bad flags, an unusable `--out` and a batch larger than the training set end
with an argparse error (exit status 2) before anything trains; a missing or
invalid data file with "<prog>: error: ..." (status 1); Ctrl-C with status
130 and the command that resumes the run, which is checked by running it.
Every case goes through `fit.main` except Ctrl-C, which signals a child
process.  Tiny runs on the moons toy or a small GAS pickle; no network.
"""
import json
import math
import os
import shlex
import signal
import shutil
import subprocess
import sys
import time
import types

import numpy as np
import pytest

from tests import make_maf_files as maf_files
from train import cli_checks
from train import datasets
from train import fit

FIT_SCRIPT = os.path.abspath(fit.__file__)
TINY = ["--num-blocks", "1", "--num-d-scales", "1", "--num-mixtures", "2",
        "--hidden-units", "8", "--batch-size", "64", "--num-samples", "50",
        "--eval-batch-size", "1000", "--no-jit", "--verbose", "0"]

# One out-of-range value for every flag that takes a number.
BAD_VALUES = {
    "--num-blocks": "0", "--num-d-scales": "0", "--num-mixtures": "0",
    "--hidden-units": "16,0", "--dropout": "1.5", "--steps": "0", "--epochs": "-3",
    "--batch-size": "0", "--lr": "-1", "--weight-decay": "-0.001", "--patience": "0",
    "--seed": "-1", "--eval-batch-size": "0", "--num-samples": "0", "--verbose": "3",
    "--filters": "0", "--num-residual-blocks": "-1", "--augment-dims": "0",
    "--importance-samples": "0", "--temperature": "0", "--levels": "0",
    "--num-bins": "0", "--spline-bound": "-1",
    # --data's checked types: fractions, column lists, bounds.
    "--val-fraction": "1", "--test-fraction": "0", "--columns": "a,,b",
    "--context-columns": "u,u", "--discrete-columns": ",", "--continuous-columns": " ",
    "--plot-columns": "a,", "--bounded-columns": "share:1:0",
}


def exit_of_main(capsys, flags):
  """Runs `fit.main(flags)`, which must exit: (exit code, stdout, stderr)."""
  with pytest.raises(SystemExit) as exited:
    fit.main(flags)
  captured = capsys.readouterr()
  return exited.value.code, captured.out, captured.err


def assert_usage_error(code, err, message):
  """Exit status 2 and argparse's last line "<prog>: error: <message>", no traceback."""
  assert code == 2
  assert "Traceback" not in err
  assert err.rstrip("\n").splitlines()[-1].endswith(f": error: {message}")


@pytest.mark.parametrize("flag, value, expected", [
    ("--lr", "-1", "a positive finite number"),
    ("--lr", "0", "a positive finite number"),
    ("--lr", "nan", "a positive finite number"),
    ("--dropout", "1.5", "a rate in [0, 1)"),
    ("--dropout", "1", "a rate in [0, 1)"),
    ("--weight-decay", "-0.001", "a finite number >= 0"),
    ("--seed", "-1", "an integer in [0, 4294967295]"),
    ("--seed", str(2 ** 32), "an integer in [0, 4294967295]"),
    ("--steps", "ten", "a positive integer"),
])
def test_out_of_range_flag_is_an_argparse_error(capsys, tmp_path, flag, value, expected):
  # The flag under test comes last, so it overrides TINY's; with a valid value
  # these flags would train for 2 steps and return.
  flags = TINY + ["--steps", "2", "--out", str(tmp_path / "run"), flag, value]
  code, _, err = exit_of_main(capsys, flags)
  assert_usage_error(code, err, f"argument {flag}: expected {expected}; got {value!r}")
  assert not os.path.exists(tmp_path / "run")


def test_every_numeric_flag_is_range_checked(capsys):
  parser = fit.build_parser("fit.py")
  checked = {action.option_strings[-1] for action in parser._actions
             if action.type is not None}
  assert checked == set(BAD_VALUES), "a numeric flag without a range check"
  for flag, value in BAD_VALUES.items():
    with pytest.raises(SystemExit) as exited:
      fit.parse_args([flag, value], parser)
    err = capsys.readouterr().err
    assert exited.value.code == 2, flag
    assert f"fit.py: error: argument {flag}: " in err and "Traceback" not in err, flag
  for flag, value in [("--dropout", "0"), ("--weight-decay", "0"), ("--seed", "0"),
                      ("--lr", "1e-4"), ("--hidden-units", "256-256")]:
    fit.parse_args([flag, value], parser)


def write_small_gas(data_dir, num_rows, poison_row=None):
  frame = maf_files.make_gas_frame(np.random.default_rng(0), num_rows)
  if poison_row is not None:
    frame.iloc[poison_row, 5] = np.nan
  maf_files.write_gas(data_dir, frame)


def test_batch_larger_than_the_training_set(capsys, tmp_path):
  out = tmp_path / "run"
  code, out_text, err = exit_of_main(
      capsys, TINY + ["--batch-size", "100000", "--steps", "2", "--out", str(out)])
  assert_usage_error(code, err, "--batch-size 100000 exceeds the 50000 training examples "
                                "of moons; pass --batch-size 128 (at most 50000).")
  assert "Initial test log-likelihood" not in out_text
  assert not os.path.exists(out / "config.json")

  # The table's batch (128 for GAS) does not fit a small file: a power of two does.
  write_small_gas(tmp_path / "data", 120)
  num_train = len(datasets.load_dataset("gas", data_dir=str(tmp_path / "data")).train)
  assert num_train < 128
  flags = [flag for flag in TINY if flag not in ("--batch-size", "64")]
  code, _, err = exit_of_main(capsys, flags + [
      "--dataset", "gas", "--data-dir", str(tmp_path / "data"), "--steps", "2",
      "--out", str(out)])
  suggestion = 2 ** int(math.log2(num_train))
  assert_usage_error(code, err, f"the default batch size 128 of gas exceeds the {num_train} "
                                f"training examples of gas; pass --batch-size {suggestion} "
                                f"(at most {num_train}).")


def test_out_that_is_not_a_writable_directory(capsys, tmp_path):
  existing_file = tmp_path / "file.txt"
  existing_file.write_text("not a directory")
  cases = [(str(existing_file), "is an existing file, not a directory"),
           (str(existing_file / "run"), "is not a writable directory (")]
  if os.path.isdir("/proc"):
    cases.append(("/proc/tfp-ldu-run", "is not a writable directory ("))
  for out, reason in cases:
    code, out_text, err = exit_of_main(capsys, TINY + ["--steps", "2", "--out", out])
    assert code == 2 and "Traceback" not in err, out
    assert f": error: --out {out} {reason}" in err.splitlines()[-1]
    assert "Initial test log-likelihood" not in out_text
  assert existing_file.read_text() == "not a directory"


def test_missing_or_invalid_data_file_is_one_error_line(capsys, tmp_path):
  # The missing-file message goes on to list the archive's layout and how to
  # download it; its first line says what is wrong.
  flags = TINY + ["--dataset", "gas", "--steps", "2", "--out", str(tmp_path / "run")]
  code, _, err = exit_of_main(capsys, flags + ["--data-dir", str(tmp_path / "missing")])
  assert ": error: Data file not found: " in code.splitlines()[0]
  assert "data.tar.gz" in code and "Traceback" not in err

  write_small_gas(tmp_path / "data", 300, poison_row=7)
  code, _, err = exit_of_main(capsys, flags + ["--data-dir", str(tmp_path / "data")])
  assert ": error: " in code and "ethylene_CO.pickle" in code
  assert "NaN or infinite" in code and "\n" not in code and "Traceback" not in err


def test_usage_line_names_the_command_that_ran(capsys, monkeypatch, tmp_path):
  bin_dir = tmp_path / "bin"
  bin_dir.mkdir()
  (bin_dir / "tfp-ldu-fit").write_text("#!/bin/sh\n")
  (bin_dir / "tfp-ldu-fit").chmod(0o755)
  monkeypatch.setenv("PATH", str(bin_dir))
  monkeypatch.setattr(sys, "argv", [str(bin_dir / "tfp-ldu-fit"), "--help"])
  with pytest.raises(SystemExit) as exited:
    fit.main()
  assert exited.value.code == 0
  assert capsys.readouterr().out.startswith("usage: tfp-ldu-fit [-h]")

  monkeypatch.setattr(sys, "argv", ["train/fit.py"])
  assert fit.build_parser().prog == shlex.join([sys.executable, "train/fit.py"])
  main_module = types.ModuleType("__main__")
  main_module.__spec__ = types.SimpleNamespace(name="train.fit")
  monkeypatch.setitem(sys.modules, "__main__", main_module)
  assert fit.build_parser().prog == shlex.join([sys.executable, "-m", "train.fit"])


def test_interruption_message_before_training_and_before_a_checkpoint():
  command = ["python", "train/fit.py"]
  flags = ["--out", "runs/my run"]
  assert cli_checks.interruption_message(command, flags, None, None, "c") == (
      "Interrupted before training started. Run again with: "
      "python train/fit.py --out 'runs/my run'")
  state = dict(epoch=0, step=0, last_file=None)
  assert cli_checks.interruption_message(command, flags, 7, state, "c") == (
      "Interrupted at step 7, before the first epoch ended, so no checkpoint was "
      "written. Run again with: python train/fit.py --out 'runs/my run'")
  state = dict(epoch=2, step=40, last_file="epoch-000002.npz")
  assert cli_checks.interruption_message(command, flags + ["--resume"], 47, state, "c") == (
      "Interrupted at step 47; the last checkpoint (epoch 2, step 40) is in c. Resume "
      "with: python train/fit.py --out 'runs/my run' --resume")


def start_child(words, log_prefix, env):
  """Starts `words` with stdout/stderr in `<log_prefix>.out/.err` and Ctrl-C enabled."""
  # A child inherits an ignored SIGINT (e.g. under `nohup`), and Python then
  # never raises KeyboardInterrupt: give the child the default disposition.
  # A child also inherits the signal mask of the thread that starts it: a
  # SIGINT blocked there would stay pending in the child forever.
  previous = signal.signal(signal.SIGINT, signal.default_int_handler)
  previous_mask = signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGINT])
  try:
    with open(f"{log_prefix}.out", "w") as stdout, open(f"{log_prefix}.err", "w") as stderr:
      return subprocess.Popen(words, stdout=stdout, stderr=stderr, env=env)
  finally:
    signal.pthread_sigmask(signal.SIG_SETMASK, previous_mask)
    signal.signal(signal.SIGINT, previous)


def wait_until(condition, child, what, timeout=120):
  """Polls `condition()` while `child` runs; fails if it exits or times out first."""
  deadline = time.monotonic() + timeout
  while not condition():
    assert child.poll() is None, f"the run exited (status {child.returncode}) before {what}"
    assert time.monotonic() < deadline, f"no {what} after {timeout} s"
    time.sleep(0.02)


@pytest.mark.e2e
def test_ctrl_c_prints_the_resume_command_which_resumes(tmp_path):
  out = tmp_path / "run"
  # 150 epochs of 20 steps: the run is still training when the signal arrives,
  # however fast the machine (with 3 epochs an idle machine had finished).
  total_steps = 3000
  flags = TINY + ["--steps", str(total_steps), "--epochs", "150", "--out", str(out)]
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", TF_ENABLE_ONEDNN_OPTS="0",
             PYTHONUNBUFFERED="1")
  state_file = out / "checkpoints" / "state.json"
  child = start_child([sys.executable, FIT_SCRIPT, *flags], tmp_path / "first", env)
  try:
    wait_until(state_file.exists, child, "the first checkpoint")
    child.send_signal(signal.SIGINT)  # Most of the 150 epochs are still to run.
    returncode = child.wait(timeout=60)
  finally:
    child.kill()
  err = (tmp_path / "first.err").read_text()
  assert returncode == 130, err
  assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
  lines = [line for line in err.splitlines() if line.startswith("Interrupted at step ")]
  assert len(lines) == 1, err
  head, command = lines[0].split(" Resume with: ")
  state = json.loads(state_file.read_text())
  assert head.endswith(f"the last checkpoint (epoch {state['epoch']}, step {state['step']}) "
                       f"is in {out / 'checkpoints'}.")
  assert 20 <= int(head.split()[3].rstrip(";,")) < total_steps
  words = shlex.split(command)
  assert words[1:] == [FIT_SCRIPT, *flags, "--resume"]
  assert not (out / "metrics.json").exists()

  # The printed command continues from that checkpoint (that the continued
  # run equals an uninterrupted one is tests/test_fit.py's resume test).
  resumed = start_child(words, tmp_path / "resumed", env)
  try:
    wait_until(lambda: "Resuming" in (tmp_path / "resumed.out").read_text(), resumed,
               "resume message")
  finally:
    resumed.kill()
    resumed.wait(timeout=60)
  assert (f"Resuming {out} after epoch {state['epoch']} (step {state['step']})."
          in (tmp_path / "resumed.out").read_text())


@pytest.mark.parametrize("flags, message", [
    (["--temperature", "0.5"], "--temperature sets the temperature of the image sample "
                               "grid; --dataset moons is not an image data set."),
    (["--dataset", "digits", "--data-dir", "somewhere"],
     "--data-dir: --dataset digits is built in and reads no files;"),
    (["--dataset", "8gaussians", "--download"],
     "--download: --dataset 8gaussians is built in and reads no files;"),
])
def test_flags_that_do_not_apply_to_the_dataset_are_refused(capsys, tmp_path, flags, message):
  code, _, err = exit_of_main(capsys, TINY + flags + ["--out", str(tmp_path / "run")])
  assert code == 2 and "Traceback" not in err
  assert message in err.splitlines()[-1]


def test_a_huge_step_budget_is_one_error_line(capsys, tmp_path):
  code, _, err = exit_of_main(capsys, TINY + ["--steps", "99999999999999",
                                              "--out", str(tmp_path / "run")])
  assert_usage_error(code, err, "the run would take 100,000,000,000,472 steps, more than "
                     "2,147,483,647; pass a smaller --steps or --epochs.")


@pytest.mark.e2e
def test_console_script_exits_0_with_one_log_line_per_epoch(tmp_path):
  """`tfp-ldu-fit` as installed (or its entry point, as the console wrapper calls it)
  exits 0 after a good run, and its redirected log holds no progress-bar codes."""
  script = shutil.which("tfp-ldu-fit")
  flags = [flag for flag in TINY if flag not in ("--verbose", "0")]
  flags += ["--steps", "30", "--epochs", "4", "--out", str(tmp_path / "run")]
  if script is not None:
    command = [script, *flags]
  else:  # Not installed as a script: what the console wrapper does.
    command = [sys.executable, "-c",
               "import sys; from importlib.metadata import entry_points; "
               "main = [e for e in entry_points(group='console_scripts') "
               "if e.name == 'tfp-ldu-fit'][0].load(); sys.exit(main())", *flags]
  environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
  result = subprocess.run(command, cwd=tmp_path, env=environment, capture_output=True,
                          text=True, timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]
  assert "test_log_likelihood" not in result.stderr  # No metrics dict dumped.
  assert "\x1b[" not in result.stdout and "\r" not in result.stdout
  epoch_lines = [line for line in result.stdout.splitlines() if "val_loss" in line]
  assert len(epoch_lines) == 4
  assert "--steps 30: running 32 steps, 4 epochs of 8" in result.stdout
  assert f"Outputs in {tmp_path / 'run'}." in result.stdout
