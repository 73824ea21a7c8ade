"""HEPMASS: simulated particle-collision signal events (UCI), 21 dimensions.

Preprocessing of the reference MAF code (`datasets/hepmass.py`), step by step:
  1. read `hepmass/1000_train.csv` and `hepmass/1000_test.csv` with
     `pd.read_csv(..., index_col=False)`.  The train file has 28 columns:
     the label and the 27 features f0..f26 (the '1000' files have no mass
     feature: every signal event has mass 1000);
  2. keep the signal rows (first column == 1) and drop the label column;
  3. the header quirk: the test file has one column more than the train
     file (its header still names a trailing "mass" column); the reference
     drops the test file's last column, which leaves the train file's 27;
  4. standardise both files by the train file's mean and std (pandas,
     ddof=1), matched by column name;
  5. drop every feature whose *smallest* value occurs more than 5 times in
     the standardised train data (the reference takes the first entry of
     the value counts sorted by value, not the largest count); on the real
     files this removes 6 discrete features (jet count, b-tags, ...);
  6. hold out the last 10% of the train rows as validation.
Sizes on the real files: 315,123 / 35,013 / 174,987 rows.
"""
import numpy as np
import pandas as pd

from train.datasets import checks
from train.datasets import layout
from train.datasets import splits
from train.datasets.tabular_data import TabularData

TRAIN_FILE = "hepmass/1000_train.csv"
TEST_FILE = "hepmass/1000_test.csv"
TRAIN_COLUMNS = 28  # label, f0 .. f26
SIGNAL_LABEL = 1
MAX_MIN_VALUE_REPEATS = 5
QUIRK_NOTE = " and one trailing column the reference drops"


def read_signal_rows(path: str, is_test_file: bool) -> pd.DataFrame:
  """Reads one HEPMASS CSV and returns its signal rows, features only.

  Args:
    path: the CSV file.
    is_test_file: whether this is `1000_test.csv`, whose trailing extra
      column (the header quirk) is dropped as in the reference.

  Returns:
    The signal rows, `[N_signal, 27]` columns f0..f26.

  Raises:
    ValueError: wrong column count, or non-numeric feature columns.
  """
  frame = pd.read_csv(path, index_col=False)
  num_columns = TRAIN_COLUMNS + 1 if is_test_file else TRAIN_COLUMNS
  if frame.shape[1] != num_columns:
    raise ValueError(
        f"{path}: expected {num_columns} columns in the MAF archive's HEPMASS "
        f"layout (label, f0..f26{QUIRK_NOTE if is_test_file else ''}), got "
        f"{frame.shape[1]}: {list(frame.columns)}.")
  label = frame.columns[0]
  signal = frame[frame[label] == SIGNAL_LABEL].drop(columns=label)
  if is_test_file:
    signal = signal.drop(columns=signal.columns[-1])
  non_numeric = [str(name) for name, dtype in signal.dtypes.items()
                 if not pd.api.types.is_numeric_dtype(dtype)]
  if non_numeric:
    raise ValueError(f"{path}: non-numeric column(s) {non_numeric}.")
  if signal.shape[0] == 0:
    raise ValueError(f"{path}: no signal rows (label == {SIGNAL_LABEL}).")
  checks.check_finite_rows(signal.to_numpy(np.float64), path)
  return signal


def count_smallest_value(values: np.ndarray) -> np.ndarray:
  """Per column of `[N, D]` finite values, how often its minimum occurs.

  Equals the reference's `sorted(Counter(column).items())[0][1]`.

  Returns:
    `[D]` integer counts.
  """
  return np.count_nonzero(values == values.min(axis=0), axis=0)


def load_hepmass(data_dir=None) -> TabularData:
  """Loads HEPMASS with the reference preprocessing (see module docstring).

  Args:
    data_dir: directory holding `hepmass/1000_{train,test}.csv`; None for
      the default.

  Returns:
    `TabularData` with `[N_split, D]` float32 splits (D = 21 on the real files).

  Raises:
    ValueError: wrong column counts or names, NaN/infinite rows, no signal
      rows, or no feature left.
  """
  train_path = layout.dataset_file(data_dir, TRAIN_FILE)
  test_path = layout.dataset_file(data_dir, TEST_FILE)
  train = read_signal_rows(train_path, is_test_file=False)
  test = read_signal_rows(test_path, is_test_file=True)
  if list(test.columns) != list(train.columns):
    raise ValueError(
        f"{test_path}: after dropping its trailing column the test file's "
        f"columns {list(test.columns)} differ from {train_path}'s "
        f"{list(train.columns)}.")

  mean, std = train.mean(), train.std()
  train = ((train - mean) / std).to_numpy()
  test = ((test - mean) / std).to_numpy()
  checks.check_finite_rows(train, train_path, "after normalisation")
  keep = count_smallest_value(train) <= MAX_MIN_VALUE_REPEATS
  train, val = splits.split_off_tail(train[:, keep])
  return TabularData.from_splits("hepmass", train, val, test[:, keep],
                                 source=f"{train_path} and {test_path}")
