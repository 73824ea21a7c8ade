"""GAS: chemical gas-sensor array under dynamic mixtures (UCI), 8 dimensions.

Preprocessing of the reference MAF code (`datasets/gas.py`), step by step:
  1. read the pandas DataFrame pickled in `gas/ethylene_CO.pickle`;
  2. drop the columns "Meth", "Eth" and "Time";
  3. repeatedly compute the Pearson correlation matrix C and, per column,
     the number of columns (itself included) with C > 0.98; while some
     column has more than one, drop the first such column *by label*;
  4. standardise with the mean and std (pandas, ddof=1) of *all* rows;
  5. split off the last 10% as test and the last 10% of the rest as
     validation, without shuffling.
Sizes on the real file: 852,174 / 94,685 / 105,206 rows.

The archive's pickle was written in 2017 by an old pandas.  It is read by a
restricted unpickler (`train.datasets.safe_pickle.restricted_frame_load`)
that rebuilds only a plain DataFrame and refuses any other global, so a
tampered file cannot run code; pandas' compatibility renames of older
classes still apply.  If the installed pandas can no longer read the file,
the error says how to re-save it once with an older pandas.
"""
import numpy as np
import pandas as pd

from train.datasets import checks
from train.datasets import layout
from train.datasets import safe_pickle
from train.datasets import splits
from train.datasets.tabular_data import TabularData

FILE = "gas/ethylene_CO.pickle"
DROPPED_COLUMNS = ("Meth", "Eth", "Time")
CORRELATION_THRESHOLD = 0.98


def read_gas_pickle(path: str) -> pd.DataFrame:
  """Unpickles the GAS DataFrame without running code, explaining failures.

  Args:
    path: the pickle file.

  Returns:
    The DataFrame as stored.

  Raises:
    ValueError: the file refers to anything but a plain DataFrame's parts
      (e.g. a code-running payload: refused before it is imported), or is not
      a readable DataFrame pickle.
  """
  with open(path, "rb") as stream:
    try:
      frame = safe_pickle.restricted_frame_load(stream, path)
    except ValueError as error:
      if isinstance(error.__cause__, safe_pickle.UnsafePickleError):
        raise
      raise ValueError(
          f"{error}  pandas {pd.__version__} could not unpickle the GAS DataFrame.  "
          f"The MAF archive's file was written by an old pandas; re-save it once "
          f"from an environment with pandas 1.x (`pd.read_pickle(p).to_pickle(p)`, "
          f"on a file you trust), whose pickles current pandas reads.") from error
  if not isinstance(frame, pd.DataFrame):
    raise ValueError(f"{path}: expected a pickled pandas DataFrame, got "
                     f"{type(frame).__name__}.")
  return frame


def count_high_correlations(frame: pd.DataFrame) -> np.ndarray:
  """Per column, how many columns (itself included) correlate above 0.98.

  Returns:
    `[num_columns]` integer counts, in column order.
  """
  return (frame.corr() > CORRELATION_THRESHOLD).sum(axis=1).to_numpy()


def drop_correlated_columns(frame: pd.DataFrame) -> pd.DataFrame:
  """The reference's greedy removal of highly correlated columns.

  While some column correlates above 0.98 with another, drops the first such
  column by label (so every column sharing that label goes), recomputing
  the correlations after each drop.
  """
  counts = count_high_correlations(frame)
  while np.any(counts > 1):
    label = frame.columns[np.flatnonzero(counts > 1)[0]]
    frame = frame.drop(columns=label)
    counts = count_high_correlations(frame)
  return frame


def load_gas(data_dir=None) -> TabularData:
  """Loads GAS with the reference preprocessing (see module docstring).

  Args:
    data_dir: directory holding `gas/ethylene_CO.pickle`; None for default.

  Returns:
    `TabularData` with `[N_split, D]` float32 splits (D = 8 on the real file).

  Raises:
    ValueError: the pickle lacks "Meth"/"Eth"/"Time", has non-numeric sensor
      columns, NaN/infinite rows, or too few rows for three splits.
  """
  path = layout.dataset_file(data_dir, FILE)
  frame = read_gas_pickle(path)
  missing = [name for name in DROPPED_COLUMNS if name not in frame.columns]
  if missing:
    raise ValueError(
        f"{path}: the GAS DataFrame lacks the column(s) {missing}; expected "
        f"'Time', 'Meth', 'Eth' and the sensor columns, got "
        f"{list(frame.columns)}.")
  sensors = frame.drop(columns=list(DROPPED_COLUMNS))
  non_numeric = [str(name) for name, dtype in sensors.dtypes.items()
                 if not pd.api.types.is_numeric_dtype(dtype)]
  if sensors.shape[1] == 0 or non_numeric:
    raise ValueError(
        f"{path}: expected numeric sensor columns besides Time/Meth/Eth; got "
        f"{sensors.shape[1]} column(s), non-numeric: {non_numeric}.")
  checks.check_finite_rows(sensors.to_numpy(), path)
  sensors = drop_correlated_columns(sensors)
  standardized = (sensors - sensors.mean()) / sensors.std()
  train, val, test = splits.train_val_test_split(standardized.to_numpy())
  return TabularData.from_splits("gas", train, val, test, source=path)
