"""MINIBOONE: particle-identification events (UCI), 43 dimensions.

The archive's `miniboone/data.npy` is already cleaned by the MAF authors
(outliers removed, features with repeated values dropped).  The reference
(`datasets/miniboone.py`) only splits it, without shuffling, into the last
10% as test and the last 10% of the rest as validation, then standardises
every split by the mean/std (ddof=0) of train + validation.
Sizes on the real file: 29,556 / 3,284 / 3,648 rows.
"""
import numpy as np

from train.datasets import checks
from train.datasets import layout
from train.datasets import splits
from train.datasets.tabular_data import TabularData

FILE = "miniboone/data.npy"
COLUMNS = 43


def load_miniboone(data_dir=None) -> TabularData:
  """Loads MINIBOONE with the reference preprocessing.

  Args:
    data_dir: directory holding `miniboone/data.npy`; None for the default.

  Returns:
    `TabularData` with `[N_split, 43]` float32 splits.
  """
  path = layout.dataset_file(data_dir, FILE)
  raw = checks.load_npy(path).astype(np.float64)
  checks.check_num_columns(
      raw, COLUMNS, path, "the 43 features of the MAF archive's MINIBOONE file")
  checks.check_finite_rows(raw, path)
  train, val, test = splits.train_val_test_split(raw)
  checks.check_not_empty({"train": train, "val": val, "test": test}, path)
  return TabularData.from_splits(
      "miniboone", *splits.standardize_by_train_and_val(train, val, test),
      source=path)
