"""BSDS300: 8x8 natural-image patches, 63 dimensions.

The archive's `BSDS300/BSDS300.hdf5` holds the MAF authors' final splits as
the datasets "train", "validation" and "test" (each patch's last pixel is
dropped, as it is minus the sum of the others).  The reference
(`datasets/bsds300.py`) uses them as stored, without normalisation.
Sizes on the real file: 1,000,000 / 50,000 / 250,000 rows.
"""
import h5py
import numpy as np

from train.datasets import checks
from train.datasets import layout
from train.datasets.tabular_data import TabularData

FILE = "BSDS300/BSDS300.hdf5"
COLUMNS = 63
HDF5_SPLITS = {"train": "train", "val": "validation", "test": "test"}


def load_bsds300(data_dir=None) -> TabularData:
  """Loads BSDS300's stored splits.

  Args:
    data_dir: directory holding `BSDS300/BSDS300.hdf5`; None for the default.

  Returns:
    `TabularData` with `[N_split, 63]` float32 splits.

  Raises:
    ValueError: a split is missing, has the wrong shape, or NaN/inf rows.
  """
  path = layout.dataset_file(data_dir, FILE)
  arrays = {}
  with h5py.File(path, "r") as hdf5:
    missing = [key for key in HDF5_SPLITS.values() if key not in hdf5]
    if missing:
      raise ValueError(f"{path}: missing HDF5 dataset(s) {missing}; "
                       f"expected {list(HDF5_SPLITS.values())}, found "
                       f"{list(hdf5.keys())}.")
    for split, key in HDF5_SPLITS.items():
      values = np.asarray(hdf5[key][:])
      source = f"{path}[{key!r}]"
      checks.check_num_columns(values, COLUMNS, source,
                               "8x8 patch pixels without the last")
      checks.check_finite_rows(values, source)
      arrays[split] = values
  return TabularData.from_splits("bsds300", source=path, **arrays)
