"""The split and normalisation rules of the reference MAF code.

The reference (github.com/gpapamak/maf, `datasets/*.py`) holds out the
*last* `int(0.1 * N)` rows as the test set, then the last `int(0.1 * N')`
of the remaining `N'` rows as the validation set, without shuffling (POWER
shuffles once beforehand).  `int(0.1 * N)` is kept literally: it is not
always equal to `N // 10` in floating point.
"""
import numpy as np


def tail_size(num_rows: int) -> int:
  """Rows held out from the end of `num_rows` rows: `int(0.1 * num_rows)`."""
  return int(0.1 * num_rows)


def split_off_tail(values: np.ndarray):
  """Splits `[N, D]` rows into `(head, tail)` with `tail_size(N)` tail rows.

  Unlike the reference's `values[-n:]`, which returns *all* rows when
  `n == 0`, a zero-size tail is returned empty, so `check_not_empty` can
  reject it.

  Returns:
    `(head [N - n, D], tail [n, D])`.
  """
  num_held_out = tail_size(values.shape[0])
  cut = values.shape[0] - num_held_out
  return values[:cut], values[cut:]


def train_val_test_split(values: np.ndarray):
  """Reference split: test = last 10%, then val = last 10% of the rest.

  Returns:
    `(train, val, test)` views of the `[N, D]` rows, in file order.
  """
  rest, test = split_off_tail(values)
  train, val = split_off_tail(rest)
  return train, val, test


def standardize_by_train_and_val(train, val, test):
  """Normalises all splits by the mean and std (ddof=0) of train + val.

  This is the POWER and MINIBOONE rule; the statistics are numpy's, as in
  the reference.

  Returns:
    `(train, val, test)`, each `(x - mean) / std`.
  """
  fit_rows = np.vstack((train, val))
  mean = fit_rows.mean(axis=0)
  std = fit_rows.std(axis=0)
  # A constant column gives NaN here; `TabularData.from_splits` reports it.
  with np.errstate(divide="ignore", invalid="ignore"):
    return tuple((split - mean) / std for split in (train, val, test))
