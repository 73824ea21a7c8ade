"""`TabularData`: the train/validation/test splits of one density dataset."""
import dataclasses

import numpy as np

from train.datasets import checks

SPLITS = ("train", "val", "test")


@dataclasses.dataclass(frozen=True, eq=False)
class TabularData:
  """Three float32 splits of `[N, D]` samples with a common dimension `D`.

  Attributes:
    name: the dataset's lower-case name, e.g. "power" or "moons".
    train: `[N_train, D]` float32 training samples.
    val: `[N_val, D]` float32 validation samples.
    test: `[N_test, D]` float32 test samples.
  """
  name: str
  train: np.ndarray
  val: np.ndarray
  test: np.ndarray

  def __post_init__(self):
    n_dims = None
    for split in SPLITS:
      values = getattr(self, split)
      if not isinstance(values, np.ndarray) or values.dtype != np.float32:
        raise TypeError(f"{self.name}: {split} must be a float32 numpy array, "
                        f"got {type(values).__name__} "
                        f"{getattr(values, 'dtype', '')}.")
      if values.ndim != 2 or (n_dims is not None and values.shape[1] != n_dims):
        raise ValueError(f"{self.name}: {split} has shape {values.shape}; all "
                         f"splits must be [N, D] with one common D.")
      n_dims = values.shape[1]

  @property
  def n_dims(self) -> int:
    """The event dimension `D`."""
    return self.train.shape[1]

  @classmethod
  def from_splits(cls, name: str, train, val, test, source: str, **metadata):
    """Checks processed splits and casts them to float32.

    Args:
      name: the dataset's name.
      train, val, test: `[N_split, D]` arrays after preprocessing.
      source: the file(s) they came from, for error messages.
      **metadata: the extra fields of a subclass, e.g. `ImageData`'s
        `image_shape`, `num_levels` and `alpha`; none for `TabularData`.

    Returns:
      A `TabularData`.

    Raises:
      ValueError: a split is empty, or holds NaN/infinite values (e.g. after
        normalising a constant column), naming `source` and the row count.
    """
    splits = dict(zip(SPLITS, (np.asarray(train), np.asarray(val),
                               np.asarray(test))))
    checks.check_not_empty(splits, source)
    for split, values in splits.items():
      checks.check_finite_rows(values, source,
                               f"in the {split} split after preprocessing")
    return cls(name=name, **metadata,
               **{split: np.ascontiguousarray(values, np.float32)
                  for split, values in splits.items()})
