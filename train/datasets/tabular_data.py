"""`TabularData`: the train/validation/test splits of one density dataset."""
import dataclasses
from typing import Dict, Optional, Tuple

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
    contexts: for a data set of pairs (x, c), `{split: [N_split, C]}` float32
      contexts, row by row with the split's samples (`--conditional` learns
      p(x | c)); None for plain samples.
    context_description: what the context is, for reports (e.g. "one-hot
      digit class").
    columns: the names of the D columns (a user's table), or `()`.
    integer_columns: for a user's table in raw units, `[D]` bools: the
      integer-valued columns the model dequantises; `()` for data the loader
      already preprocessed (the benchmarks, toys and images).
    notes: what the loader did, one line each (file, rows, splits, dropped
      rows, dequantised columns), for the run's log and report.
    bounds: for a user's table, `[D]` `(low, high)` bounds of the columns
      the model maps to R (logit or log, `tfp_ldu.layers.ColumnBounds`),
      None for an open side; `()` for none.
    defaults_name: the data set name whose defaults (the table's row, the
      quick preset) apply, e.g. "table" for a user's table; "" for `name`.
  """
  name: str
  train: np.ndarray
  val: np.ndarray
  test: np.ndarray
  contexts: Optional[Dict[str, np.ndarray]] = dataclasses.field(default=None, kw_only=True)
  context_description: str = dataclasses.field(default="", kw_only=True)
  columns: Tuple[str, ...] = dataclasses.field(default=(), kw_only=True)
  integer_columns: Tuple[bool, ...] = dataclasses.field(default=(), kw_only=True)
  notes: Tuple[str, ...] = dataclasses.field(default=(), kw_only=True)
  bounds: Tuple[Tuple[Optional[float], Optional[float]], ...] = dataclasses.field(
      default=(), kw_only=True)
  defaults_name: str = dataclasses.field(default="", kw_only=True)

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
    if self.contexts is not None:
      self._check_contexts()

  def _check_contexts(self):
    if set(self.contexts) != set(SPLITS):
      raise ValueError(f"{self.name}: contexts must have the splits {SPLITS}; got "
                       f"{sorted(self.contexts)}.")
    for split in SPLITS:
      context = self.contexts[split]
      if (not isinstance(context, np.ndarray) or context.dtype != np.float32
          or context.ndim != 2 or len(context) != len(getattr(self, split))):
        raise ValueError(f"{self.name}: the {split} contexts must be a float32 [N, C] "
                         f"array with one row per sample ({len(getattr(self, split))}); "
                         f"got {getattr(context, 'dtype', type(context).__name__)} "
                         f"{getattr(context, 'shape', '')}.")

  @property
  def raw_units(self) -> bool:
    """Whether the splits are in the table's own units (the model standardises them)."""
    return bool(self.integer_columns)

  @property
  def conditional(self) -> bool:
    """Whether the data are pairs (x, c) with contexts."""
    return self.contexts is not None

  @property
  def context_shape(self):
    """`(C,)` of the contexts, or `()` without."""
    return () if self.contexts is None else (self.contexts["train"].shape[1],)

  def inputs(self, split: str, conditional: bool = True):
    """A split as a model takes it: `[N, D]`, or `{"x": x, "context": c}` with contexts."""
    if not (conditional and self.conditional):
      return getattr(self, split)
    return {"x": getattr(self, split), "context": self.contexts[split]}

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
        `image_shape`, `num_levels` and `alpha`, and `contexts` (`{split:
        [N_split, C]}`, checked and cast like the splits) with
        `context_description` for a data set of pairs.

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
    if metadata.get("contexts") is not None:
      contexts = {split: np.asarray(metadata["contexts"][split]) for split in SPLITS}
      for split, values in contexts.items():
        checks.check_finite_rows(values, source, f"in the {split} split's contexts")
      metadata["contexts"] = {split: np.ascontiguousarray(values, np.float32)
                              for split, values in contexts.items()}
    return cls(name=name, **metadata,
               **{split: np.ascontiguousarray(values, np.float32)
                  for split, values in splits.items()})
