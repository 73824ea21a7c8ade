"""`digits`: scikit-learn's 8x8 handwritten digits, shipped with the package.

`sklearn.datasets.load_digits()` reads 1,797 images of 8x8 pixels with 17
intensity levels, the integers 0..16 (UCI "Optical Recognition of
Handwritten Digits"), from a file inside the scikit-learn package: no
download.  It is the image set for tests and quick runs.

Splits: the images are shuffled once by a permutation from
`np.random.RandomState(SPLIT_SEED)` (a constant, so every run sees the same
test set), then split by the MAF rule used for the tabular sets: the last
int(0.1 N) rows are the test set, the last int(0.1 N') of the remaining N'
the validation set: 1,457 / 161 / 179 images.

Metadata: `image_shape=(8, 8, 1)`, `num_levels=17` (so bits/dim uses
log2(17), not 8, and dequantisation is (x + u) / 17) and `alpha=0.05`.
No reference defines alpha for this set; 0.05 (the MAF/RealNVP CIFAR-10
value) keeps logit values within +-2.95, which suits the small models this
set is used with.
"""
import numpy as np

from train.datasets import splits
from train.datasets.image_data import ImageData

__all__ = ["load_digits", "IMAGE_SHAPE", "NUM_LEVELS", "ALPHA", "SPLIT_SEED"]

IMAGE_SHAPE = (8, 8, 1)
NUM_LEVELS = 17
ALPHA = 0.05
# Part of the dataset's definition, not a per-run choice.
SPLIT_SEED = 42


def load_digits(data_dir=None) -> ImageData:
  """Loads the digits' fixed train/val/test splits (see module docstring).

  Args:
    data_dir: ignored (the data ships with scikit-learn); accepted so every
      image loader has the same signature.

  Returns:
    `ImageData` named "digits": float32 `[N_split, 64]` levels 0..16,
    1,457 / 161 / 179 rows, with the one-hot classes `[N_split, 10]` as
    contexts (`--conditional`: class-conditional models).

  Raises:
    ImportError: scikit-learn is not installed (the message says how to
      install it).
  """
  del data_dir
  try:
    from sklearn import datasets as sklearn_datasets
  except ImportError as error:
    raise ImportError("The 'digits' dataset needs scikit-learn: pip install "
                      "scikit-learn.") from error
  digits = sklearn_datasets.load_digits()
  rows = digits.images.reshape(digits.images.shape[0], -1)  # [N, 64] floats 0..16
  order = np.random.RandomState(SPLIT_SEED).permutation(rows.shape[0])
  train, val, test = splits.train_val_test_split(rows[order])
  labels = splits.train_val_test_split(np.eye(10)[digits.target[order]])
  return ImageData.from_splits(
      "digits", train, val, test,
      source="sklearn.datasets.load_digits()",
      image_shape=IMAGE_SHAPE, num_levels=NUM_LEVELS, alpha=ALPHA,
      contexts=dict(zip(("train", "val", "test"), labels)),
      context_description="one-hot digit class (10)")
