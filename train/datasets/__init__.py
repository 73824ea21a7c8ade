"""Datasets for density estimation: the MAF tabular benchmarks and 2-D toys.

  load_dataset(name, data_dir=None, seed=0, split_sizes=(50000, 5000, 5000))
      -> TabularData(name, train, val, test) with float32 [N, D] splits.
  download(data_dir=None, url=DEFAULT_URL) fetches and unpacks the archive.

Tabular: "power", "gas", "hepmass", "miniboone", "bsds300" (preprocessed as
in Papamakarios et al. 2017).  Toys: "moons", "8gaussians", "checkerboard",
"rings", "spirals".
"""
from train.datasets.maf_archive import download
from train.datasets.layout import DEFAULT_URL
from train.datasets.layout import default_data_dir
from train.datasets.registry import DATASET_NAMES
from train.datasets.registry import TABULAR_NAMES
from train.datasets.registry import TOY_NAMES
from train.datasets.registry import load_dataset
from train.datasets.tabular_data import TabularData
