"""Checks that refuse bad data before it reaches training.

Every failure raises `ValueError` naming the file the data came from, so a
corrupt or mismatched download never trains silently.
"""
import numpy as np


def load_npy(path: str) -> np.ndarray:
  """`np.load` of a `.npy` file (no pickles), with errors that name the file.

  Raises:
    ValueError: the file is truncated, corrupted or not a `.npy` array.
  """
  try:
    return np.load(path, allow_pickle=False)
  except (ValueError, EOFError, OSError) as error:
    if isinstance(error, FileNotFoundError):
      raise
    raise ValueError(f"{path}: not a readable .npy array ({type(error).__name__}: "
                     f"{error}); the file is truncated or corrupted.  Download it "
                     f"again.") from error


def check_finite_rows(values: np.ndarray, source: str, what: str = "") -> None:
  """Raises if any row of a `[N, D]` array holds NaN or an infinity.

  Args:
    values: `[N, D]` numeric array.
    source: the file the values came from (for the message).
    what: optional description of the stage, e.g. "after normalisation".

  Raises:
    ValueError: naming `source` and the number of bad rows.
  """
  if np.issubdtype(values.dtype, np.integer) or values.dtype == np.bool_:
    return  # Always finite; skips a full-size temporary on large images.
  bad_rows = int(np.count_nonzero(~np.isfinite(values).all(axis=1)))
  if bad_rows:
    stage = f" {what}" if what else ""
    raise ValueError(
        f"{source}: {bad_rows} of {values.shape[0]} rows contain NaN or "
        f"infinite values{stage}.")


def check_num_columns(values: np.ndarray, expected: int, source: str,
                      description: str) -> None:
  """Raises unless a `[N, D]` array has exactly `expected` columns.

  Args:
    values: the array read from `source`.
    expected: the number of columns of the reference file.
    source: the file the values came from.
    description: what the columns are, for the message.

  Raises:
    ValueError: the array is not 2-D or has the wrong number of columns.
  """
  if values.ndim != 2 or values.shape[1] != expected:
    raise ValueError(
        f"{source}: expected a 2-D array with {expected} columns "
        f"({description}), got shape {values.shape}.")


def check_not_empty(splits: dict, source: str) -> None:
  """Raises if any split of `{name: [N, D] array}` has no rows (or no columns).

  Args:
    splits: split name to array.
    source: the file(s) the splits were made from.

  Raises:
    ValueError: naming the empty split(s) and every split's row count.
  """
  empty = [name for name, values in splits.items() if values.size == 0]
  if empty:
    counts = ", ".join(f"{name}={values.shape}"
                       for name, values in splits.items())
    raise ValueError(
        f"{source}: split(s) {', '.join(empty)} would be empty ({counts}); "
        f"the file holds too few rows or columns.")
