"""Small synthetic files in the exact formats of the MAF archive, for tests.

Each `write_*` function writes one benchmark's file(s) under a data folder
in the archive's layout (`power/data.npy`, `gas/ethylene_CO.pickle`, ...);
each `make_*` function builds contents with a known structure so that tests
can predict the reference preprocessing's result independently.
"""
import os

import h5py
import numpy as np
import pandas as pd

# Discrete HEPMASS-like features (jet count, b-tags): their smallest value
# repeats, so the reference drops them.
HEPMASS_DISCRETE = (5, 9, 13, 17, 21, 25)
# A feature whose *largest* value repeats but whose smallest is unique: the
# reference keeps it (it only counts the smallest value).
HEPMASS_REPEATED_MAX = 3
GAS_SENSORS = [f"sensor_{i}" for i in range(16)]


def _path(root, relative: str) -> str:
  path = os.path.join(os.fspath(root), relative)
  os.makedirs(os.path.dirname(path), exist_ok=True)
  return path


def make_power_rows(rng: np.random.Generator, num_rows: int) -> np.ndarray:
  """`[num_rows, 8]` rows like POWER's: 3 powers/voltage, 3 meters, time."""
  return np.column_stack([
      rng.gamma(2., 0.5, num_rows),            # global active power
      rng.gamma(1., 0.1, num_rows),            # global reactive power
      rng.normal(240., 3., num_rows),          # voltage
      rng.gamma(2., 2., num_rows),             # global intensity
      rng.integers(0, 3, (num_rows, 3)).astype(np.float64),  # sub-metering
      rng.integers(0, 1440, num_rows).astype(np.float64),    # minute of day
  ])


def write_power(root, rows: np.ndarray) -> str:
  """Writes `power/data.npy`."""
  path = _path(root, "power/data.npy")
  np.save(path, rows)
  return path


def write_miniboone(root, rows: np.ndarray) -> str:
  """Writes `miniboone/data.npy` (already-cleaned `[N, 43]` features)."""
  path = _path(root, "miniboone/data.npy")
  np.save(path, rows)
  return path


def make_gas_frame(rng: np.random.Generator, num_rows: int) -> pd.DataFrame:
  """A GAS-like DataFrame: Time, Meth, Eth and 16 sensors in 8 pairs.

  Sensors 2k and 2k+1 are near copies (correlation > 0.98); different pairs
  are independent.  The reference's greedy removal therefore drops every
  even-numbered sensor and keeps the 8 odd-numbered ones.
  """
  base = rng.normal(size=(num_rows, 8))
  sensors = np.empty((num_rows, 16))
  sensors[:, 0::2] = base
  sensors[:, 1::2] = base + 0.01 * rng.normal(size=(num_rows, 8))
  frame = pd.DataFrame(sensors, columns=GAS_SENSORS)
  frame.insert(0, "Time", np.arange(num_rows) * 0.01)
  frame.insert(1, "Meth", rng.uniform(0., 600., num_rows))
  frame.insert(2, "Eth", rng.uniform(0., 20., num_rows))
  return frame


def write_gas(root, frame: pd.DataFrame) -> str:
  """Pickles `frame` as `gas/ethylene_CO.pickle`."""
  path = _path(root, "gas/ethylene_CO.pickle")
  frame.to_pickle(path)
  return path


def make_hepmass_rows(rng: np.random.Generator, num_signal: int,
                      num_background: int) -> np.ndarray:
  """`[N, 28]` rows: label (signal first, then background), f0..f26."""
  num_rows = num_signal + num_background
  features = rng.normal(size=(num_rows, 27))
  for column in HEPMASS_DISCRETE:
    features[:, column] = rng.integers(0, 3, num_rows)
  features[: 2 * num_rows // 3 : 10, HEPMASS_REPEATED_MAX] = 10.
  labels = np.r_[np.ones(num_signal), np.zeros(num_background)]
  rows = np.column_stack([labels, features])
  return rows[rng.permutation(num_rows)]


def write_hepmass(root, train_rows: np.ndarray, test_rows: np.ndarray,
                  test_header_quirk: bool = True):
  """Writes `hepmass/1000_{train,test}.csv` like the UCI files.

  The header is `# label,f0,...,f26` (one name per column of the rows).
  With `test_header_quirk`, the test file's header names one more column
  ("mass") than its rows hold, the layout the reference compensates for by
  dropping the last column.
  """
  paths = []
  for name, rows, extra in (("1000_train.csv", train_rows, []),
                            ("1000_test.csv", test_rows,
                             ["mass"] if test_header_quirk else [])):
    path = _path(root, f"hepmass/{name}")
    header = ["# label"] + [f"f{i}" for i in range(rows.shape[1] - 1)]
    with open(path, "w") as stream:
      stream.write(",".join(header + extra) + "\n")
      np.savetxt(stream, rows, delimiter=",", fmt="%.9g")
    paths.append(path)
  return paths


def write_bsds300(root, splits: dict) -> str:
  """Writes `BSDS300/BSDS300.hdf5` with one dataset per `{key: [N, 63]}`."""
  path = _path(root, "BSDS300/BSDS300.hdf5")
  with h5py.File(path, "w") as hdf5:
    for key, values in splits.items():
      hdf5.create_dataset(key, data=values)
  return path


def write_archive_layout(root, seed: int = 0) -> None:
  """Writes small versions of all five benchmarks' files under `root`."""
  rng = np.random.default_rng(seed)
  write_power(root, make_power_rows(rng, 200))
  write_gas(root, make_gas_frame(rng, 200))
  write_hepmass(root, make_hepmass_rows(rng, 100, 20),
                make_hepmass_rows(rng, 50, 10))
  write_miniboone(root, rng.normal(size=(200, 43)))
  write_bsds300(root, {key: rng.normal(size=(num, 63)).astype(np.float32)
                       for key, num in (("train", 40), ("validation", 10),
                                        ("test", 20))})
