"""CIFAR-10 as the MAF reference prepares it: 32x32x3, 256 levels, alpha 0.05.

Layouts accepted under the data directory, first complete one wins:
  1. `cifar10/data_batch_1` .. `data_batch_5`, `cifar10/test_batch` (the MAF
     archive; preferred);
  2. `cifar-10-batches-py/` with the same six files (the "python version"
     from www.cs.toronto.edu/~kriz/cifar.html, as unpacked from
     cifar-10-python.tar.gz; also what Keras caches).
Each batch is a pickled dict whose "data" is uint8 `[10000, 3072]`, a row
being the red, then the green, then the blue 32x32 plane, each row-major.
The files are read with a restricted unpickler (`safe_pickle`).

The reference (`gpapamak/maf:datasets/cifar10.py::CIFAR10`, used by
ldu-flow with `flip=True`), step by step:
  1. concatenate the five training batches in order (50,000 rows);
  2. train = the first int(0.9 N) = 45,000 rows, val = the last 5,000,
     test = `test_batch` (10,000);
  3. (dequantise (x + U) / 256 and apply logit(0.05 + 0.9 v): the model's
     job here);
  4. train only: append the horizontal mirror image of every training
     image after all originals -> 90,000 training rows.
Rows are converted from planes to NHWC before anything else, so the flip
reverses the W axis; the result equals the reference's per-plane flip.
Difference to keep in mind: the reference flips *after* adding its fixed
noise, so a mirrored copy carries the mirrored noise of its original.
"""
import os

import numpy as np

from train.datasets import checks
from train.datasets import image_layout
from train.datasets import safe_pickle
from train.datasets.class_labels import one_hot_contexts
from train.datasets.image_data import ImageData

__all__ = ["load_cifar10", "planes_to_nhwc", "append_horizontal_flips",
           "IMAGE_SHAPE", "NUM_LEVELS", "ALPHA"]

IMAGE_SHAPE = (32, 32, 3)
NUM_LEVELS = 256
ALPHA = 0.05
NUM_CLASSES = 10
PIXELS = 3072
TRAIN_FRACTION = 0.9
BATCH_FILES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)
LAYOUTS = tuple(
    image_layout.FileLayout(description,
                            tuple(f"{folder}/{name}" for name in BATCH_FILES))
    for folder, description in (
        ("cifar10", "the MAF archive's cifar10/ folder (preferred)"),
        ("cifar-10-batches-py", "the CIFAR-10 python version")))


def how_to_get(root: str) -> str:
  """The missing-file message's instructions for CIFAR-10."""
  return (f"{image_layout.archive_instructions(root)}  Or download the "
          f"CIFAR-10 python version (https://www.cs.toronto.edu/~kriz/"
          f"cifar-10-python.tar.gz) and unpack it into {root}, which creates "
          f"cifar-10-batches-py/ (Keras caches the same folder under "
          f"~/.keras/datasets/).")


def read_batch(path: str):
  """Reads one CIFAR-10 batch's planar rows and class labels.

  Returns:
    `(rows, labels)`: uint8 `[N, 3072]` rows (R plane | G plane | B plane),
    and the `[N]` class labels (None if the batch has no "labels").

  Raises:
    ValueError: naming `path`, if the file is not a readable or safe
      pickle, not a dict with "data", or "data" is not `[N, 3072]` pixels
      in 0..255.
  """
  with open(path, "rb") as stream:
    batch = safe_pickle.restricted_load(stream, path)
  if isinstance(batch, dict):
    batch = {key.decode("latin1") if isinstance(key, bytes) else key: value
             for key, value in batch.items()}
  if not isinstance(batch, dict) or "data" not in batch:
    found = (sorted(map(str, batch)) if isinstance(batch, dict)
             else type(batch).__name__)
    raise ValueError(f"{path}: expected a pickled CIFAR-10 batch, a dict with "
                     f"'data' (and 'labels'); found {found}.")
  data = batch["data"]
  if not isinstance(data, np.ndarray) or not np.issubdtype(data.dtype,
                                                           np.integer):
    raise ValueError(f"{path}: 'data' must be an integer numpy array of "
                     f"pixels; got {type(data).__name__} "
                     f"{getattr(data, 'dtype', '')}.")
  checks.check_num_columns(data, PIXELS, path,
                           "3 colour planes of 32x32 pixels")
  if data.size and (data.min() < 0 or data.max() > NUM_LEVELS - 1):
    raise ValueError(f"{path}: pixels must lie in 0..255; found "
                     f"[{data.min()}, {data.max()}].")
  labels = batch.get("labels")
  return data.astype(np.uint8, copy=False), None if labels is None else np.asarray(labels)


def planes_to_nhwc(rows: np.ndarray) -> np.ndarray:
  """`[N, 3*H*W]` planar rows (R | G | B) -> `[N, H*W*3]` NHWC rows."""
  height, width, channels = IMAGE_SHAPE
  return np.ascontiguousarray(
      rows.reshape(-1, channels, height, width).transpose(0, 2, 3, 1)
  ).reshape(rows.shape[0], -1)


def append_horizontal_flips(rows: np.ndarray, image_shape) -> np.ndarray:
  """`[N, D]` NHWC rows -> `[2N, D]`: the rows, then their mirror images.

  Row N + i is image i with its columns reversed (W axis), as in the
  reference's `_flip_augmentation`.
  """
  images = rows.reshape((rows.shape[0],) + tuple(image_shape))
  flipped = images[:, :, ::-1, :].reshape(rows.shape)
  return np.concatenate([rows, flipped], axis=0)


def load_cifar10(data_dir=None, flip_train: bool = True) -> ImageData:
  """Loads CIFAR-10's train/val/test pixel levels (see module docstring).

  Args:
    data_dir: directory holding `cifar10/` or `cifar-10-batches-py/`; None
      for `$TFP_LDU_DATA_DIR` or `~/.tfp_ldu/data`.
    flip_train: append the horizontal flips of the training images, as the
      reference does (`load_dataset` always does).

  Returns:
    `ImageData` named "cifar10": float32 NHWC rows of levels 0..255,
    `image_shape=(32, 32, 3)`, `num_levels=256`, `alpha=0.05`.  On the real
    files the splits hold 90,000 (45,000 with `flip_train=False`) / 5,000 /
    10,000 images.  With the batches' "labels": one-hot class `contexts`
    for `--conditional` (a mirrored image keeps its class).

  Raises:
    FileNotFoundError: no layout is complete (the message lists them and
      how to get the data).
    ValueError: a batch is garbled, truncated, unsafe, has the wrong shape
      or pixel range, or a split would be empty.
  """
  _, paths = image_layout.find_layout(data_dir, "CIFAR-10", LAYOUTS, how_to_get)
  *train_paths, test_path = paths
  batches = [read_batch(path) for path in train_paths]
  train_rows = np.concatenate([rows for rows, _ in batches])
  test_rows, test_labels = read_batch(test_path)
  cut = int(TRAIN_FRACTION * train_rows.shape[0])
  train = planes_to_nhwc(train_rows[:cut])
  val = planes_to_nhwc(train_rows[cut:])
  test = planes_to_nhwc(test_rows)
  source = f"the CIFAR-10 batches in {os.path.dirname(test_path)}"
  checks.check_not_empty({"train": train, "val": val, "test": test}, source)
  labels = None
  if test_labels is not None and all(batch_labels is not None for _, batch_labels in batches):
    train_labels = np.concatenate([batch_labels for _, batch_labels in batches])
    labels = (train_labels[:cut], train_labels[cut:], test_labels)
  if flip_train:
    train = append_horizontal_flips(train, IMAGE_SHAPE)
    if labels is not None:  # A mirror image keeps its class.
      labels = (np.concatenate([labels[0], labels[0]]), *labels[1:])
  contexts = one_hot_contexts(labels, NUM_CLASSES, (len(train), len(val), len(test)), source)
  return ImageData.from_splits(
      "cifar10", train, val, test, source=source,
      image_shape=IMAGE_SHAPE, num_levels=NUM_LEVELS, alpha=ALPHA, contexts=contexts,
      context_description="one-hot CIFAR-10 class" if contexts else "")
