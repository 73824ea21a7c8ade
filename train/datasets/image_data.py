"""`ImageData`: image splits as flat NHWC rows of discrete pixel levels.

An image dataset is a `TabularData` (so every tabular code path keeps
working on it: `[N, D]` float32 splits, `n_dims`) with three more fields
that say how to model it:

  image_shape  (H, W, C); a row is the image flattened in NHWC order, so
               pixel (h, w, c) is column (h * W + w) * C + c;
  num_levels   L: every value is an integer 0 .. L-1 stored as float32
               (256 for 8-bit images, 17 for scikit-learn's digits);
  alpha        the reference's logit constant (MAF: MNIST 1e-6, CIFAR-10
               0.05).

The values are the *discrete* pixel levels, not dequantised.  A model on
[0, 1)^D dequantises v = (x + u) / L with u ~ U[0, 1)^D and (as MAF and
ldu-flow do) maps y = logit(alpha + (1 - 2 alpha) v); its bits/dim is then
`tfp_ldu.bits_per_dim.bits_per_dim(log p(v), D, L)`.
"""
import dataclasses
from typing import Tuple

import numpy as np

from train.datasets.tabular_data import SPLITS
from train.datasets.tabular_data import TabularData

__all__ = ["ImageData"]

# Rows checked at a time for integer values, to bound temporary memory.
_CHECK_CHUNK_ROWS = 4096


def _non_integer_count(values: np.ndarray) -> int:
  """How many entries of `values` are not whole numbers (chunked over rows)."""
  count = 0
  for start in range(0, values.shape[0], _CHECK_CHUNK_ROWS):
    chunk = values[start:start + _CHECK_CHUNK_ROWS]
    count += int(np.count_nonzero(chunk != np.rint(chunk)))
  return count


@dataclasses.dataclass(frozen=True, eq=False)
class ImageData(TabularData):
  """Three float32 splits of `[N, H*W*C]` NHWC pixel-level rows plus metadata.

  Attributes:
    name, train, val, test: as in `TabularData`; every value is an integer
      in `[0, num_levels - 1]` stored as float32.
    image_shape: `(H, W, C)`, with `H * W * C == n_dims`.
    num_levels: L >= 2, the number of intensity levels per channel.
    alpha: the logit constant of the reference preprocessing, in [0, 0.5).
  """
  image_shape: Tuple[int, int, int]
  num_levels: int
  alpha: float

  def __post_init__(self):
    super().__post_init__()
    shape = tuple(self.image_shape)
    if (len(shape) != 3 or not all(isinstance(size, (int, np.integer))
                                   and size >= 1 for size in shape)
        or int(np.prod(shape)) != self.n_dims):
      raise ValueError(f"{self.name}: image_shape must be three positive ints "
                       f"(H, W, C) with H*W*C = D = {self.n_dims}; got "
                       f"{self.image_shape!r}.")
    object.__setattr__(self, "image_shape", tuple(int(size) for size in shape))
    if (not isinstance(self.num_levels, (int, np.integer))
        or self.num_levels < 2):
      raise ValueError(f"{self.name}: num_levels must be an int >= 2; got "
                       f"{self.num_levels!r}.")
    object.__setattr__(self, "num_levels", int(self.num_levels))
    if not 0. <= float(self.alpha) < 0.5:
      raise ValueError(f"{self.name}: alpha must lie in [0, 0.5); got "
                       f"{self.alpha!r}.")
    object.__setattr__(self, "alpha", float(self.alpha))
    for split in SPLITS:
      self._check_levels(split, getattr(self, split))

  def _check_levels(self, split: str, values: np.ndarray) -> None:
    """Raises unless `values` are whole numbers in [0, num_levels - 1]."""
    if values.size == 0:
      return
    low, high = float(values.min()), float(values.max())
    if low < 0 or high > self.num_levels - 1:
      raise ValueError(f"{self.name}: {split} values must be pixel levels in "
                       f"[0, {self.num_levels - 1}]; found range [{low:g}, "
                       f"{high:g}].")
    non_integer = _non_integer_count(values)
    if non_integer:
      raise ValueError(f"{self.name}: {split} holds {non_integer} non-integer "
                       f"value(s); expected discrete pixel levels 0.."
                       f"{self.num_levels - 1} (dequantisation is the model's "
                       f"job).")

  def to_images(self, rows) -> np.ndarray:
    """`[N, D]` flat rows -> `[N, H, W, C]` images (a view when possible)."""
    rows = np.asarray(rows)
    if rows.ndim != 2 or rows.shape[1] != self.n_dims:
      raise ValueError(f"{self.name}: expected rows of shape "
                       f"[N, {self.n_dims}]; got {rows.shape}.")
    return rows.reshape((rows.shape[0],) + self.image_shape)
