"""Class labels of an image benchmark as one-hot contexts (`fit.py --conditional`)."""
import numpy as np

from train.datasets.tabular_data import SPLITS

__all__ = ["one_hot_contexts"]


def one_hot_contexts(labels, num_classes: int, sizes, source: str):
  """`{split: float32 [N_split, num_classes]}` one-hot rows of integer class labels.

  Args:
    labels: `(train, val, test)` 1-D integer labels, or None (no labels).
    num_classes: C, the number of classes (10 for MNIST and CIFAR-10).
    sizes: `(N_train, N_val, N_test)`, the splits' image counts.
    source: the file(s) the labels came from, for messages.

  Returns:
    The contexts, or None without labels.

  Raises:
    ValueError: labels that are not whole numbers in [0, C), or whose count
      differs from their split's images, naming `source`.
  """
  if labels is None:
    return None
  contexts = {}
  for split, values, size in zip(SPLITS, labels, sizes):
    values = np.asarray(values)
    if values.ndim != 1 or len(values) != size:
      raise ValueError(f"{source}: {split} has {size} images but labels of shape "
                       f"{list(values.shape)}.")
    if values.size and (not np.all(values == np.rint(values)) or values.min() < 0
                        or values.max() >= num_classes):
      raise ValueError(f"{source}: {split} labels must be whole numbers in "
                       f"0..{num_classes - 1}; found [{values.min()}, {values.max()}].")
    contexts[split] = np.eye(num_classes, dtype=np.float32)[values.astype(np.int64)]
  return contexts
