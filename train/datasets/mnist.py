"""MNIST as the MAF archive stores it: 28x28x1 images, 256 levels, alpha 1e-6.

Layouts accepted under the data directory, first complete one wins:
  1. `mnist/mnist.pkl.gz` (the MAF archive; preferred): a gzip pickle of
     `(train, val, test)`, each `(x float32 [N, 784], labels [N])` with
     N = 50,000 / 10,000 / 10,000 and pixels stored as k/256, k = 0..255.
     The reference (`gpapamak/maf:datasets/mnist.py`, copied by ldu-flow)
     uses these three splits as stored, in this order.
  2. `mnist/train-images-idx3-ubyte.gz` and `mnist/t10k-images-idx3-ubyte.gz`
     (the original IDX files, integer pixels 0..255);
  3. `mnist/mnist.npz` (Keras's cache file: `x_train`, `x_test`, uint8
     `[N, 28, 28]`).
For 2 and 3 the pickle's split is rebuilt: the 60,000 official training
images give train = the first 50,000 and validation = the last 10,000 (in
general the last `N // 6` rows), the 10,000 test images are the test set.
(The pickle's first training image is the IDX file's first image / 256.)

Returned values are the integer levels k (float32); the reference's
dequantisation x + U/256, i.e. v = (k + u) / 256, and its logit
logit(alpha + (1 - 2 alpha) v) with alpha = 1e-6 are left to the model.
The reference draws that noise once, from RandomState(42) in the order
train, val, test; a model resampling it per batch is the usual alternative.
"""
import gzip
import os

import numpy as np

from train.datasets import checks
from train.datasets import idx_format
from train.datasets import image_layout
from train.datasets import safe_pickle
from train.datasets.class_labels import one_hot_contexts
from train.datasets.image_data import ImageData

__all__ = ["load_mnist", "IMAGE_SHAPE", "NUM_LEVELS", "ALPHA"]

IMAGE_SHAPE = (28, 28, 1)
NUM_LEVELS = 256
ALPHA = 1e-6
NUM_CLASSES = 10
PIXELS = 784
# Fraction of the official training images held out for validation:
# 10,000 of 60,000, the split of the MAF pickle.
VALIDATION_DIVISOR = 6
# Largest distance of a stored pixel * 256 from an integer level.
LEVEL_TOLERANCE = 1e-3

MAF_PICKLE = "mnist/mnist.pkl.gz"
IDX_TRAIN_IMAGES = "mnist/train-images-idx3-ubyte.gz"
IDX_TEST_IMAGES = "mnist/t10k-images-idx3-ubyte.gz"
KERAS_NPZ = "mnist/mnist.npz"
LAYOUTS = (
    image_layout.FileLayout("the MAF archive's pickle (preferred)",
                            (MAF_PICKLE,)),
    image_layout.FileLayout("the original MNIST IDX files",
                            (IDX_TRAIN_IMAGES, IDX_TEST_IMAGES)),
    image_layout.FileLayout("Keras's mnist.npz", (KERAS_NPZ,)),
)


def how_to_get(root: str) -> str:
  """The missing-file message's instructions for MNIST."""
  return (f"{image_layout.archive_instructions(root)}  Or copy the original "
          f"train-images-idx3-ubyte.gz and t10k-images-idx3-ubyte.gz, or "
          f"Keras's ~/.keras/datasets/mnist.npz (written by "
          f"keras.datasets.mnist.load_data()), into {root}/mnist/.")


def levels_from_unit_pixels(values: np.ndarray, source: str) -> np.ndarray:
  """Maps the pickle's k/256 pixels to the integer levels k (float32).

  Raises:
    ValueError: a value is not within `LEVEL_TOLERANCE` / 256 of some
      k/256, k = 0..255 (e.g. a k/255 copy of MNIST), naming `source`.
  """
  scaled = np.asarray(values, np.float32) * np.float32(NUM_LEVELS)
  levels = np.rint(scaled)
  off_grid = np.abs(scaled - levels) > LEVEL_TOLERANCE
  out_of_range = (levels < 0) | (levels > NUM_LEVELS - 1)
  bad = int(np.count_nonzero(off_grid | out_of_range))
  if bad:
    raise ValueError(
        f"{source}: {bad} pixel value(s) are not k/256 with k = 0..255 (the "
        f"MAF archive's encoding; values seen in [{values.min():g}, "
        f"{values.max():g}]).  This is not the archive's MNIST pickle.")
  return levels.astype(np.float32)


def read_maf_pickle(path: str):
  """Reads `mnist.pkl.gz`'s three splits as integer levels.

  Returns:
    `(train, val, test)`, float32 `[N_split, 784]` levels 0..255.

  Raises:
    ValueError: not a readable (or an unsafe) pickle, not three
      `(images, labels)` pairs, wrong columns, NaN/inf rows, or pixels
      that are not k/256.
  """
  with open(path, "rb") as raw, gzip.GzipFile(fileobj=raw) as stream:
    content = safe_pickle.restricted_load(stream, path)
  if not (isinstance(content, (tuple, list)) and len(content) == 3 and all(
      isinstance(split, (tuple, list)) and split
      and isinstance(split[0], np.ndarray) for split in content)):
    raise ValueError(
        f"{path}: expected a pickled (train, val, test) tuple of (images, "
        f"labels) pairs with numpy image arrays, as in the MAF archive; got "
        f"{type(content).__name__}.")
  splits, labels = [], []
  for name, (images, *rest) in zip(("train", "val", "test"), content):
    labels.append(np.asarray(rest[0]) if rest else None)
    source = f"{path} ({name} split)"
    if not np.issubdtype(images.dtype, np.number):
      raise ValueError(f"{source}: images have dtype {images.dtype}; expected "
                       f"floats.")
    checks.check_num_columns(images, PIXELS, source, "28x28 pixels")
    checks.check_finite_rows(images, source)
    splits.append(levels_from_unit_pixels(images, source))
  return (*splits, None if any(split is None for split in labels) else tuple(labels))


def check_images(images: np.ndarray, source: str) -> np.ndarray:
  """Checks uint8 `[N, 28, 28]` images and flattens them to `[N, 784]`."""
  if images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE[:2]:
    raise ValueError(f"{source}: expected images of shape [N, 28, 28], got "
                     f"{list(images.shape)}.")
  if images.dtype != np.uint8:
    raise ValueError(f"{source}: expected uint8 pixels, got {images.dtype}.")
  return images.reshape(images.shape[0], PIXELS)


def split_official_train(images: np.ndarray):
  """`[60000, 784]` official training rows -> (first 50,000, last 10,000).

  In general the last `N // 6` rows validate, so small files keep the ratio.
  """
  cut = images.shape[0] - images.shape[0] // VALIDATION_DIVISOR
  return images[:cut], images[cut:]


def read_idx_files(train_path: str, test_path: str):
  """Reads the IDX image files and rebuilds the pickle's three splits.

  Returns `(train, val, test, labels)`; the labels come from the label files
  next to the images (`*-labels-idx1-ubyte.gz`) when both exist, else None.
  """
  train = check_images(idx_format.read_idx_gz(train_path,
                                              idx_format.IMAGES_MAGIC),
                       train_path)
  test = check_images(idx_format.read_idx_gz(test_path,
                                             idx_format.IMAGES_MAGIC),
                      test_path)
  labels = None
  label_paths = [path.replace("-images-idx3-", "-labels-idx1-")
                 for path in (train_path, test_path)]
  if all(os.path.exists(path) for path in label_paths):  # Optional: for --conditional.
    train_labels, test_labels = (idx_format.read_idx_gz(path, idx_format.LABELS_MAGIC)
                                 for path in label_paths)
    labels = (*split_official_train(train_labels), test_labels)
  return (*split_official_train(train), test, labels)


def read_keras_npz(path: str):
  """Reads Keras's `mnist.npz` (no pickles allowed) into the three splits.

  Returns `(train, val, test, labels)`, the labels from `y_train` and
  `y_test` (None without them).
  """
  try:
    with np.load(path, allow_pickle=False) as archive:
      found = sorted(archive.files)
      arrays = {key: archive[key] for key in ("x_train", "x_test", "y_train", "y_test")
                if key in found}
  except Exception as error:  # Not a zip, truncated member, pickled arrays.
    raise ValueError(f"{path}: not a readable .npz file "
                     f"({type(error).__name__}: {error}).") from error
  if "x_train" not in arrays or "x_test" not in arrays:
    raise ValueError(f"{path}: expected the arrays x_train and x_test of "
                     f"Keras's mnist.npz; found {found}.")
  train, test = arrays["x_train"], arrays["x_test"]
  labels = None
  if "y_train" in arrays and "y_test" in arrays:
    labels = (*split_official_train(arrays["y_train"]), arrays["y_test"])
  return (*split_official_train(check_images(train, f"{path}[x_train]")),
          check_images(test, f"{path}[x_test]"), labels)


def load_mnist(data_dir=None) -> ImageData:
  """Loads MNIST's train/val/test pixel levels (see module docstring).

  Args:
    data_dir: directory holding `mnist/...` (any layout above); None for
      `$TFP_LDU_DATA_DIR` or `~/.tfp_ldu/data`.

  Returns:
    `ImageData` named "mnist": float32 `[N_split, 784]` levels 0..255,
    `image_shape=(28, 28, 1)`, `num_levels=256`, `alpha=1e-6`.  On the real
    files the splits hold 50,000 / 10,000 / 10,000 images.  With the class
    labels (the pickle's, the IDX label files', the npz's `y_*`): one-hot
    `contexts` for `--conditional`.

  Raises:
    FileNotFoundError: no layout is complete (the message lists them and
      how to get the data).
    ValueError: a file is garbled, truncated, unsafe, has the wrong shape,
      non-finite or off-grid pixels, or leaves a split empty.
  """
  chosen, paths = image_layout.find_layout(data_dir, "MNIST", LAYOUTS,
                                           how_to_get)
  if chosen is LAYOUTS[0]:
    train, val, test, labels = read_maf_pickle(*paths)
  elif chosen is LAYOUTS[1]:
    train, val, test, labels = read_idx_files(*paths)
  else:
    train, val, test, labels = read_keras_npz(*paths)
  source = " and ".join(paths)
  contexts = one_hot_contexts(labels, NUM_CLASSES, (len(train), len(val), len(test)), source)
  return ImageData.from_splits(
      "mnist", train, val, test, source=source,
      image_shape=IMAGE_SHAPE, num_levels=NUM_LEVELS, alpha=ALPHA, contexts=contexts,
      context_description="one-hot digit class" if contexts else "")
