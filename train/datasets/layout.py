"""Where the tabular benchmarks live on disk: the MAF archive's layout.

Papamakarios et al. (2017, "Masked Autoregressive Flow for Density
Estimation") published the preprocessed POWER, GAS, HEPMASS, MINIBOONE and
BSDS300 files as one archive (Zenodo record 1161203, `data.tar.gz`).  Every
loader reads its files relative to a data directory in which that archive
has been unpacked, e.g. `<data_dir>/power/data.npy`.
"""
import os

DEFAULT_URL = "https://zenodo.org/record/1161203/files/data.tar.gz"
# The MD5 checksum Zenodo publishes for that file (record 1161203).
ARCHIVE_MD5 = "9b9c9b0375315ad270eba4ce80c093ab"

# Environment variable that overrides the default data directory.
DATA_DIR_ENV = "TFP_LDU_DATA_DIR"

# Files each benchmark needs, relative to the data directory.
ARCHIVE_FILES = {
    "power": ("power/data.npy",),
    "gas": ("gas/ethylene_CO.pickle",),
    "hepmass": ("hepmass/1000_train.csv", "hepmass/1000_test.csv"),
    "miniboone": ("miniboone/data.npy",),
    "bsds300": ("BSDS300/BSDS300.hdf5",),
}


def default_data_dir() -> str:
  """Returns `$TFP_LDU_DATA_DIR` if set, else `~/.tfp_ldu/data`."""
  return os.path.expanduser(
      os.environ.get(DATA_DIR_ENV, os.path.join("~", ".tfp_ldu", "data")))


def resolve_data_dir(data_dir=None) -> str:
  """Returns the absolute data directory (`default_data_dir()` for None)."""
  return os.path.abspath(os.path.expanduser(
      default_data_dir() if data_dir is None else os.fspath(data_dir)))


def layout_description() -> str:
  """One line per expected file, for error messages."""
  return "\n".join(
      f"  {path}" for files in ARCHIVE_FILES.values() for path in files)


def dataset_file(data_dir, relative_path: str) -> str:
  """Returns the absolute path of an archive file, checking that it exists.

  Args:
    data_dir: the data directory, or None for `default_data_dir()`.
    relative_path: one of the paths in `ARCHIVE_FILES`.

  Returns:
    The absolute path of the file.

  Raises:
    FileNotFoundError: the file is missing; the message names the full path,
      the expected layout and how to get the archive.
  """
  root = resolve_data_dir(data_dir)
  path = os.path.join(root, relative_path)
  if not os.path.isfile(path):
    raise FileNotFoundError(
        f"Data file not found: {path}\n"
        f"The tabular benchmarks are read from the preprocessed archive of "
        f"Papamakarios et al. (2017, MAF), unpacked into {root} with this "
        f"layout:\n{layout_description()}\n"
        f"Get it from Zenodo record 1161203 (file data.tar.gz, {DEFAULT_URL}) "
        f"and unpack it there, or let tfp_ldu fetch it: pass --download to "
        f"the training command, run `python -m "
        f"train.datasets --data-dir {root}`, or call "
        f"`train.datasets.download({root!r})`.")
  return path
