"""`load_dataset`: one entry point for the tabular benchmarks and toy sets."""
from train.datasets import toy2d
from train.datasets.bsds300 import load_bsds300
from train.datasets.gas import load_gas
from train.datasets.hepmass import load_hepmass
from train.datasets.miniboone import load_miniboone
from train.datasets.power import load_power
from train.datasets.tabular_data import TabularData

TABULAR_LOADERS = {
    "power": load_power,
    "gas": load_gas,
    "hepmass": load_hepmass,
    "miniboone": load_miniboone,
    "bsds300": load_bsds300,
}
TABULAR_NAMES = tuple(TABULAR_LOADERS)
TOY_NAMES = tuple(toy2d.TOY_SAMPLERS)
DATASET_NAMES = TABULAR_NAMES + TOY_NAMES


def load_dataset(name: str, data_dir=None, seed: int = 0,
                 split_sizes=toy2d.DEFAULT_SPLIT_SIZES) -> TabularData:
  """Loads a dataset's train/val/test splits by (case-insensitive) name.

  Tabular benchmarks ("power", "gas", "hepmass", "miniboone", "bsds300") are
  read from the MAF archive's files under `data_dir` and preprocessed
  exactly as in the reference MAF code; their splits are fixed by that code,
  so `seed` and `split_sizes` do not apply (POWER's shuffle always uses the
  reference's RandomState(42)).  Toy sets ("moons", "8gaussians",
  "checkerboard", "rings", "spirals") are generated from `seed` with
  `split_sizes` rows and ignore `data_dir`.

  Args:
    name: dataset name, any case.
    data_dir: directory holding the unpacked MAF archive; None for
      `$TFP_LDU_DATA_DIR` or `~/.tfp_ldu/data`.
    seed: generator seed of the toy sets.
    split_sizes: `(n_train, n_val, n_test)` of the toy sets.

  Returns:
    `TabularData` with float32 `[N_split, D]` splits.

  Raises:
    KeyError: unknown name.
    FileNotFoundError: a tabular file is missing (the message says where it
      was looked for and how to get the archive).
    ValueError: a file holds NaN/infinite values, the wrong columns, or too
      few rows for three non-empty splits.
  """
  key = name.lower()
  if key in TABULAR_LOADERS:
    return TABULAR_LOADERS[key](data_dir)
  if key in toy2d.TOY_SAMPLERS:
    return toy2d.load_toy(key, seed=seed, split_sizes=split_sizes)
  raise KeyError(f"Unknown dataset {name!r}; choose one of "
                 f"{', '.join(DATASET_NAMES)}.")
