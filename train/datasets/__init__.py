"""Datasets for density estimation: MAF tabular benchmarks, 2-D toys, images.

  load_dataset(name, data_dir=None, seed=0, split_sizes=(50000, 5000, 5000))
      -> TabularData(name, train, val, test) with float32 [N, D] splits;
         ImageData (a TabularData) for the image sets, adding image_shape
         (H, W, C), num_levels and alpha; rows are NHWC-flattened integer
         pixel levels 0..num_levels-1.
  download(data_dir=None, url=DEFAULT_URL) fetches and unpacks the archive.

Tabular: "power", "gas", "hepmass", "miniboone", "bsds300" (preprocessed as
in Papamakarios et al. 2017).  Toys: "moons", "8gaussians", "checkerboard",
"rings", "spirals".  Images: "digits" (scikit-learn's 8x8 digits, offline),
"mnist", "cifar10" (as in the MAF archive and reference code).

A user's own data (`train/fit.py --data FILE`):

  load_user_data(path, columns=None, context_columns=None, ...)
      -> TabularData in the table's own units (its `columns`, and the
         `integer_columns` the model dequantises), or ImageData of 256 levels
         for a folder of images (see `train.datasets.user_data`).
"""
from train.datasets.maf_archive import download
from train.datasets.layout import DEFAULT_URL
from train.datasets.layout import default_data_dir
from train.datasets.image_data import ImageData
from train.datasets.registry import BUILT_IN_NAMES
from train.datasets.registry import DATASET_NAMES
from train.datasets.registry import IMAGE_NAMES
from train.datasets.registry import TABULAR_NAMES
from train.datasets.registry import TOY_NAMES
from train.datasets.registry import USER_IMAGES
from train.datasets.registry import USER_TABLE
from train.datasets.registry import load_dataset
from train.datasets.tabular_data import TabularData
from train.datasets.user_data import load_user_data
from train.datasets.user_data import user_data_name
from train.datasets.run_data import USER_DATA_FLAGS
from train.datasets.run_data import load_run_data
from train.datasets.run_data import user_data_options
