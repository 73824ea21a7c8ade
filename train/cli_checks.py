"""Command-line checks of `train/fit.py`: flag types, pre-run checks, the resume hint.

A user mistake on the command line ends the run with one sentence that
names the flag, the received value and what is expected, never a traceback:

* flag types for `argparse` (`type=`): `positive_int`, `positive_float`,
  `non_negative_float`, `dropout_rate` ([0, 1)), `random_seed`
  ([0, 2**32 - 1], what NumPy accepts) and `hidden_units` ("256,256");
* `output_directory_problem`: `--out` must be, or become, a writable
  directory; checked before any data is loaded;
* `batch_size_problem`: a batch cannot hold more rows than the training set;
  the message suggests a size that fits;
* `command_words`, `rerun_command` and `interruption_message`: after Ctrl-C,
  one line with the command that resumes the run (the user's flags plus
  `--resume`).
"""
import argparse
import math
import os
import shlex
import shutil
import sys
import tempfile

__all__ = ["positive_int", "positive_float", "non_negative_float", "dropout_rate",
           "random_seed", "hidden_units", "fraction", "column_names", "column_bounds", "output_directory_problem", "batch_size_problem",
           "command_words", "rerun_command", "interruption_message"]

# `numpy.random.seed`, called by `keras.utils.set_random_seed`, accepts [0, 2**32).
_SEED_LIMIT = 2 ** 32


def _checked(text, convert, accept, expected):
  """`convert(text)` if it parses and `accept`s, else an `ArgumentTypeError`."""
  try:
    value = convert(text)
  except ValueError:
    value = None
  if value is None or not accept(value):
    raise argparse.ArgumentTypeError(f"expected {expected}; got {text!r}")
  return value


def positive_int(text):
  """`text` as an integer >= 1 (steps, epochs, batch size, units, blocks, ...)."""
  return _checked(text, int, lambda value: value >= 1, "a positive integer")


def positive_float(text):
  """`text` as a finite number > 0 (the learning rate)."""
  return _checked(text, float, lambda value: math.isfinite(value) and value > 0,
                  "a positive finite number")


def non_negative_float(text):
  """`text` as a finite number >= 0 (the weight decay; 0 turns it off)."""
  return _checked(text, float, lambda value: math.isfinite(value) and value >= 0,
                  "a finite number >= 0")


def dropout_rate(text):
  """`text` as a rate in [0, 1): the fraction of hidden units dropped."""
  return _checked(text, float, lambda value: 0 <= value < 1, "a rate in [0, 1)")


def random_seed(text):
  """`text` as an integer in [0, 2**32 - 1]."""
  return _checked(text, int, lambda value: 0 <= value < _SEED_LIMIT,
                  f"an integer in [0, {_SEED_LIMIT - 1}]")


def hidden_units(text):
  """`text` like "256,256" or "256-256" as a tuple of positive layer sizes."""
  try:
    units = tuple(int(part) for part in text.replace("-", ",").split(",") if part)
  except ValueError:
    units = ()
  if not units or min(units) < 1:
    raise argparse.ArgumentTypeError(f"expected positive sizes like 256,256; got {text!r}")
  return units


def fraction(text):
  """`text` as a share in (0, 1) (the validation and test fractions)."""
  return _checked(text, float, lambda value: 0 < value < 1, "a fraction in (0, 1)")


def column_names(text):
  """`text` like "a,b,c" as a list of column names (or 0-based indices), none empty."""
  names = [part.strip() for part in text.split(",")]
  if not text.strip() or not all(names):
    raise argparse.ArgumentTypeError(f"expected column names like a,b,c; got {text!r}")
  duplicates = sorted({name for name in names if names.count(name) > 1})
  if duplicates:
    raise argparse.ArgumentTypeError(f"column(s) {', '.join(duplicates)} named twice in "
                                     f"{text!r}")
  return names


def column_bounds(text):
  """`text` like "share:0:1,amount:0:" as `{column: (low, high)}`; an empty side is unbounded."""
  bounds = {}
  for part in text.split(","):
    pieces = part.strip().split(":")
    try:
      if len(pieces) != 3 or not pieces[0] or pieces[1:] == ["", ""]:
        raise ValueError(part)
      low, high = (float(value) if value else None for value in pieces[1:])
    except ValueError:
      raise argparse.ArgumentTypeError(
          f"expected NAME:LOW:HIGH bounds like share:0:1 or amount:0: (an empty side is "
          f"unbounded); got {part.strip()!r}") from None
    if low is not None and high is not None and not low < high:
      raise argparse.ArgumentTypeError(f"{pieces[0]}: the lower bound {low:g} must lie "
                                       f"below the upper bound {high:g}")
    bounds[pieces[0]] = (low, high)
  return bounds


def output_directory_problem(path):
  """Creates `path` (and its parents) and writes a probe file in it.

  Returns:
    None if the run can write its outputs there, else a sentence saying why
    not (an existing regular file, a parent that is a file, no permission,
    a read-only or virtual file system such as /proc).
  """
  if os.path.exists(path) and not os.path.isdir(path):
    return (f"--out {path} is an existing file, not a directory; pass a directory "
            "(it is created if missing).")
  try:
    os.makedirs(path, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-"):
      pass
  except OSError as error:
    return f"--out {path} is not a writable directory ({error}); pass another --out."
  return None


def batch_size_problem(batch_size, num_train, dataset, from_flag, default_batch_size):
  """None if a batch of `batch_size` rows fits in `num_train` rows, else why not.

  Args:
    batch_size: the resolved batch size.
    num_train: rows in the training split.
    dataset: the `--dataset` name, for the message.
    from_flag: whether `--batch-size` set `batch_size` (else the table did).
    default_batch_size: the table's batch size for `dataset`, suggested if it fits.
  """
  if batch_size <= num_train:
    return None
  suggestion = (default_batch_size if default_batch_size <= num_train
                else 2 ** int(math.log2(num_train)))
  given = (f"--batch-size {batch_size}" if from_flag
           else f"the default batch size {batch_size} of {dataset}")
  return (f"{given} exceeds the {num_train} training examples of {dataset}; pass "
          f"--batch-size {suggestion} (at most {num_train}).")


def _on_path(path):
  """`path`'s file name if the shell finds a program of that name, else `path`."""
  name = os.path.basename(path)
  return name if name and shutil.which(name) else path


def command_words(module="train.fit"):
  """How the user started the program, as the words of a shell command.

  `python -m train.fit` when `module` is `__main__`; `python train/fit.py`
  (the path as typed) for a script; the console script's name
  (`tfp-ldu-fit`) otherwise.  The interpreter and the console script are
  named without their folder when the shell finds them on PATH.
  """
  spec = getattr(sys.modules.get("__main__"), "__spec__", None)
  python = _on_path(sys.executable)
  if spec is not None and spec.name == module:
    return [python, "-m", module]
  program = sys.argv[0] if sys.argv and sys.argv[0] else module
  if program.endswith(".py"):
    return [python, program]
  return [_on_path(program)]


def rerun_command(command, flags, resume):
  """The shell command `command flags`, with `--resume` appended if `resume`."""
  flags = list(flags)
  if resume and "--resume" not in flags:
    flags.append("--resume")
  return shlex.join([*command, *flags])


def interruption_message(command, flags, step, checkpoint_state, checkpoint_directory):
  """One line after Ctrl-C: where the run stopped and how to continue it.

  Args:
    command: `command_words()`.
    flags: the run's flags (`sys.argv[1:]`).
    step: the optimizer step reached, or None if training had not started.
    checkpoint_state: `TrainingCheckpoint.state` of the run (None if not
      started).
    checkpoint_directory: where the checkpoint files are.
  """
  if step is None:
    return ("Interrupted before training started. Run again with: "
            f"{rerun_command(command, flags, False)}")
  if checkpoint_state["last_file"] is None:
    return (f"Interrupted at step {step}, before the first epoch ended, so no checkpoint "
            f"was written. Run again with: {rerun_command(command, flags, False)}")
  return (f"Interrupted at step {step}; the last checkpoint (epoch "
          f"{checkpoint_state['epoch']}, step {checkpoint_state['step']}) is in "
          f"{checkpoint_directory}. Resume with: {rerun_command(command, flags, True)}")
