"""`load_dataset`: one entry point for tabular benchmarks, toys and images."""
from train.datasets import toy2d
from train.datasets.bsds300 import load_bsds300
from train.datasets.cifar10 import load_cifar10
from train.datasets.digits import load_digits
from train.datasets.gas import load_gas
from train.datasets.hepmass import load_hepmass
from train.datasets.miniboone import load_miniboone
from train.datasets.mnist import load_mnist
from train.datasets.power import load_power
from train.datasets.tabular_data import TabularData

TABULAR_LOADERS = {
    "power": load_power,
    "gas": load_gas,
    "hepmass": load_hepmass,
    "miniboone": load_miniboone,
    "bsds300": load_bsds300,
}
IMAGE_LOADERS = {
    "digits": load_digits,
    "mnist": load_mnist,
    "cifar10": load_cifar10,
}
TABULAR_NAMES = tuple(TABULAR_LOADERS)
TOY_NAMES = tuple(toy2d.TOY_SAMPLERS) + tuple(toy2d.CONDITIONAL_TOY_SAMPLERS)
IMAGE_NAMES = tuple(IMAGE_LOADERS)
# Every dataset `load_dataset`, `train/fit.py` and `train/hyperparameters.py` know.
DATASET_NAMES = TABULAR_NAMES + TOY_NAMES + IMAGE_NAMES
# The kinds of a user's own data (`train/fit.py --data FILE`), in the place of a
# data set's name where the table's row and the defaults are chosen.
USER_TABLE = "table"
USER_IMAGES = "image_folder"
# The data sets made or shipped with the code, which read no `data_dir`.
BUILT_IN_NAMES = TOY_NAMES + ("digits",)


def load_dataset(name: str, data_dir=None, seed: int = 0,
                 split_sizes=toy2d.DEFAULT_SPLIT_SIZES) -> TabularData:
  """Loads a dataset's train/val/test splits by (case-insensitive) name.

  Tabular benchmarks ("power", "gas", "hepmass", "miniboone", "bsds300") are
  read from the MAF archive's files under `data_dir` and preprocessed
  exactly as in the reference MAF code; their splits are fixed by that code,
  so `seed` and `split_sizes` do not apply (POWER's shuffle always uses the
  reference's RandomState(42)).  Toy sets ("moons", "8gaussians",
  "checkerboard", "rings", "spirals") are generated from `seed` with
  `split_sizes` rows and ignore `data_dir`.  Image sets ("digits", "mnist",
  "cifar10") return `ImageData`: flat NHWC rows of integer pixel levels plus
  `image_shape`, `num_levels` and the reference's logit `alpha`; their
  splits are fixed (`seed` and `split_sizes` do not apply), "digits" ships
  with scikit-learn and ignores `data_dir`.

  Args:
    name: dataset name, any case.
    data_dir: directory holding the unpacked MAF archive (or the raw image
      files, see `train.datasets.mnist` / `cifar10`); None for
      `$TFP_LDU_DATA_DIR` or `~/.tfp_ldu/data`.
    seed: generator seed of the toy sets.
    split_sizes: `(n_train, n_val, n_test)` of the toy sets.

  Returns:
    `TabularData` with float32 `[N_split, D]` splits (`ImageData`, a
    subclass, for the image sets).

  Raises:
    KeyError: unknown name.
    FileNotFoundError: a data file is missing (the message says where it
      was looked for and how to get it).
    ValueError: a file is garbled, truncated or unsafe to unpickle, holds
      NaN/infinite values, the wrong columns, or too few rows for three
      non-empty splits.
  """
  key = name.lower()
  if key in TABULAR_LOADERS:
    return TABULAR_LOADERS[key](data_dir)
  if key in IMAGE_LOADERS:
    return IMAGE_LOADERS[key](data_dir)
  if key in TOY_NAMES:
    return toy2d.load_toy(key, seed=seed, split_sizes=split_sizes)
  raise KeyError(f"Unknown dataset {name!r}; choose one of "
                 f"{', '.join(DATASET_NAMES)}.")
