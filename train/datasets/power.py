"""POWER: household electric power consumption (UCI), 6 dimensions.

Preprocessing of the reference MAF code (`datasets/power.py`), step by step:
  1. load `power/data.npy`, `[N, 8]`;
  2. shuffle the rows in place with `np.random.RandomState(42)`;
  3. delete column 3 (global intensity), then column 1 (global reactive
     power), leaving `[gap, voltage, sub_metering_1..3, time]`;
  4. draw, from the same generator and in this order, voltage noise
     `0.01 U[N, 1]`, global-active-power noise `0.001 U[N, 1]` and
     sub-metering noise `U[N, 3]`, and add them to their columns (time gets
     none) to dequantise the recorded values;
  5. split off the last 10% as test, then the last 10% of the rest as
     validation;
  6. standardise every split by the mean/std (ddof=0) of train + validation.
Sizes on the real file: 1,659,917 / 184,435 / 204,928 rows.
"""
import numpy as np

from train.datasets import checks
from train.datasets import layout
from train.datasets import splits
from train.datasets.tabular_data import TabularData

FILE = "power/data.npy"
RAW_COLUMNS = 8
# The generator seed is part of the benchmark's definition, not a choice.
SHUFFLE_SEED = 42


def dequantize(values: np.ndarray, rng: np.random.RandomState) -> np.ndarray:
  """Adds the reference's uniform noise to the 6 kept columns.

  Args:
    values: `[N, 6]` float64 rows `[gap, voltage, sm1, sm2, sm3, time]`.
    rng: the generator that shuffled the rows (its state matters).

  Returns:
    `[N, 6]` noisy rows.
  """
  num_rows = values.shape[0]
  voltage_noise = 0.01 * rng.rand(num_rows, 1)
  active_power_noise = 0.001 * rng.rand(num_rows, 1)
  sub_metering_noise = rng.rand(num_rows, 3)
  time_noise = np.zeros((num_rows, 1))
  return values + np.hstack(
      (active_power_noise, voltage_noise, sub_metering_noise, time_noise))


def load_power(data_dir=None) -> TabularData:
  """Loads POWER with the reference preprocessing (see module docstring).

  Args:
    data_dir: directory holding `power/data.npy`; None for the default.

  Returns:
    `TabularData` with `[N_split, 6]` float32 splits.
  """
  path = layout.dataset_file(data_dir, FILE)
  # float64 as in the reference, where adding float64 noise upcasts anyway.
  raw = checks.load_npy(path).astype(np.float64)
  checks.check_num_columns(raw, RAW_COLUMNS, path,
                           "the 8 columns of the MAF archive's POWER file")
  checks.check_finite_rows(raw, path)
  rng = np.random.RandomState(SHUFFLE_SEED)
  rng.shuffle(raw)
  kept = np.delete(np.delete(raw, 3, axis=1), 1, axis=1)
  noisy = dequantize(kept, rng)
  train, val, test = splits.train_val_test_split(noisy)
  checks.check_not_empty({"train": train, "val": val, "test": test}, path)
  return TabularData.from_splits(
      "power", *splits.standardize_by_train_and_val(train, val, test),
      source=path)
