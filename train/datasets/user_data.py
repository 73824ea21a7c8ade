"""A user's own table or image folder as train/validation/test splits (`fit.py --data`).

`load_user_data(path, ...)` reads the file with `train.datasets.user_files`
(CSV/TSV, Parquet/Feather, `.npy`/`.npz`, HDF5, or a folder of images) and
returns:

* for a table, `TabularData` in the table's **own units**: the splits are the
  raw rows, `columns` their names, and `integer_columns` the whole-number
  columns that the model dequantises (u ~ U[0, 1) on each); the model then
  starts with the standardisation of the training split
  (`train.build.column_units`, `tfp_ldu.layers.Standardization`), so its
  `log_prob` and `sample`, and the exported SavedModel, speak those units;
* for an image folder, `ImageData` of 256 levels (8-bit grayscale or RGB),
  dequantised and logit-transformed like the image benchmarks; one subfolder
  per class gives one-hot class contexts.

Splits are a seeded shuffle into `val_fraction` and `test_fraction` of the
rows (at least one row each), or a `split_column` of train/val/test labels.
Every choice is reported in `notes`, one line each.
"""
import os
from typing import Optional, Sequence

import numpy as np

from train.datasets import user_files
from train.datasets.image_data import ImageData
from train.datasets.registry import USER_IMAGES
from train.datasets.registry import USER_TABLE
from train.datasets.tabular_data import SPLITS
from train.datasets.tabular_data import TabularData

__all__ = ["load_user_data", "user_data_name", "user_table_data", "split_indices", "IMAGE_LEVELS",
           "IMAGE_LOGIT_ALPHA"]

# 8-bit images, and the logit alpha of RealNVP, Glow and Flow++ for them.
IMAGE_LEVELS = 256
IMAGE_LOGIT_ALPHA = 0.05


def split_indices(num_rows: int, val_fraction: float, test_fraction: float, seed: int,
                  source: str = "the data"):
  """`{split: sorted row indices}` of a seeded shuffle; each split gets at least one row.

  Raises:
    ValueError: fractions outside [0, 1) or summing to 1 or more, or too few
      rows for three non-empty splits.
  """
  for name, fraction in (("val", val_fraction), ("test", test_fraction)):
    if not 0.0 < fraction < 1.0:
      raise ValueError(f"--{name}-fraction must lie in (0, 1); got {fraction}.")
  if val_fraction + test_fraction >= 1.0:
    raise ValueError(f"--val-fraction {val_fraction} and --test-fraction {test_fraction} "
                     f"leave no training rows.")
  num_val = max(1, int(round(val_fraction * num_rows)))
  num_test = max(1, int(round(test_fraction * num_rows)))
  if num_rows - num_val - num_test < 1:
    raise ValueError(f"{source}: {num_rows} rows are too few for a training, a validation "
                     f"and a test split.")
  order = np.random.default_rng(seed).permutation(num_rows)
  return {"test": np.sort(order[:num_test]),
          "val": np.sort(order[num_test:num_test + num_val]),
          "train": np.sort(order[num_test + num_val:])}


def _labelled_indices(labels, source):
  """`{split: row indices}` from a split column's train/val/test labels."""
  indices = {split: np.flatnonzero(labels == split) for split in SPLITS}
  empty = [split for split, rows in indices.items() if not len(rows)]
  if empty:
    raise ValueError(f"{source}: the split column has no {' or '.join(empty)} rows; "
                     f"label at least one row of each of train, val and test.")
  return indices


def _choose_integer_columns(table, discrete, continuous):
  """`[D]` bools: whole-number columns, with `--discrete-columns` / `--continuous-columns`."""
  detected = np.asarray(user_files.integer_columns(table.x), bool)
  chosen = detected.copy()
  names = list(table.columns)
  for wanted, value, flag in ((discrete, True, "--discrete-columns"),
                              (continuous, False, "--continuous-columns")):
    for name in wanted or ():
      if name not in names:
        raise ValueError(f"{flag}: {table.source} has no modelled column {name!r}; "
                         f"modelled columns: {', '.join(names)}.")
      chosen[names.index(name)] = value
  both = set(discrete or ()) & set(continuous or ())
  if both:
    raise ValueError(f"--discrete-columns and --continuous-columns both name "
                     f"{', '.join(sorted(both))}.")
  fractional = [name for name, flag, whole in zip(names, chosen, detected) if flag and not whole]
  if fractional:
    raise ValueError(f"--discrete-columns: {table.source}: column(s) "
                     f"{', '.join(fractional)} hold values that are not whole numbers.")
  return chosen


def _checked_bounds(table, integer, bounds):
  """`[D]` `(low, high)` of `bounds` (`{column: (low, high)}`), checked against the rows."""
  if not bounds:
    return ()
  names = list(table.columns)
  unknown = sorted(set(bounds) - set(names))
  if unknown:
    raise ValueError(f"--bounded-columns: {table.source} has no modelled column(s) "
                     f"{', '.join(unknown)}; modelled columns: {', '.join(names)}.")
  chosen = []
  for index, name in enumerate(names):
    low, high = bounds.get(name, (None, None))
    values = table.x[:, index]
    if (low is not None or high is not None) and integer[index]:
      raise ValueError(f"--bounded-columns: column {name} is dequantised as whole numbers; "
                       f"bound it together with --continuous-columns {name}, or leave "
                       f"its bounds out.")
    outside = np.zeros(len(values), bool)
    if low is not None:
      outside |= values <= low
    if high is not None:
      outside |= values >= high
    if outside.any():
      lines = ", ".join(str(line) for line in table.line_numbers[outside][:10])
      raise ValueError(
          f"--bounded-columns: {table.source}: {int(outside.sum())} value(s) of column "
          f"{name} lie on or beyond its bounds ({'-inf' if low is None else f'{low:g}'}, "
          f"{'inf' if high is None else f'{high:g}'}) (lines or rows {lines}); the bounds "
          f"are open: every value must lie strictly inside.")
    chosen.append((low, high))
  return tuple(chosen)


def user_table_data(table, name: str, val_fraction: float = 0.1,
                    test_fraction: float = 0.1, seed: int = 0,
                    discrete_columns: Optional[Sequence[str]] = None,
                    continuous_columns: Optional[Sequence[str]] = None,
                    bounds=None) -> TabularData:
  """`TabularData` in raw units from a `user_files.UserTable` (see the module docstring).

  Args:
    table: the rows read from the user's file (or data frame).
    name: the data's name for reports (e.g. the file's stem).
    val_fraction, test_fraction: shares of the rows held out (without a
      split column).
    seed: the shuffle of the split.
    discrete_columns, continuous_columns: names overriding the detection
      of whole-number columns.
    bounds: `{column: (low, high)}` open bounds (None for an open side) of
      columns the model maps to R by a logit or a log.
  """
  integer = _choose_integer_columns(table, discrete_columns, continuous_columns)
  checked_bounds = _checked_bounds(table, integer, bounds)
  if table.split is not None:
    indices = _labelled_indices(table.split, table.source)
    how = "from the split column"
  else:
    indices = split_indices(len(table.x), val_fraction, test_fraction, seed, table.source)
    how = f"a shuffle with seed {seed}"
  splits = {split: table.x[rows] for split, rows in indices.items()}
  notes = [f"{table.source}: {len(table.x):,} rows of {len(table.columns)} column(s) "
           f"({', '.join(table.columns)})."]
  if table.dropped_lines:
    shown = ", ".join(str(line) for line in table.dropped_lines[:10])
    more = (f" and {len(table.dropped_lines) - 10} more"
            if len(table.dropped_lines) > 10 else "")
    notes.append(f"--drop-nonfinite: dropped {len(table.dropped_lines)} row(s) holding NaN "
                 f"or infinite values (lines {shown}{more}).")
  notes.append(f"Splits ({how}): train {len(indices['train']):,}, val "
               f"{len(indices['val']):,}, test {len(indices['test']):,} rows.")
  whole = [column for column, flag in zip(table.columns, integer) if flag]
  notes.append(f"Integer-valued columns, dequantised (x + u, u ~ U[0, 1)): "
               f"{', '.join(whole)}." if whole else
               "No integer-valued columns: every column is modelled as continuous.")
  if checked_bounds:
    shown = [f"{column} in ({'-inf' if low is None else f'{low:g}'}, "
             f"{'inf' if high is None else f'{high:g}'})"
             for column, (low, high) in zip(table.columns, checked_bounds)
             if low is not None or high is not None]
    notes.append(f"Bounded columns, mapped to R by a logit or a log: {', '.join(shown)}.")
  notes.append("The model takes and returns rows in the table's units (its "
               "standardisation is part of the model, log-det counted).")
  metadata = {}
  if table.context is not None:
    metadata = dict(contexts={split: table.context[rows] for split, rows in indices.items()},
                    context_description=f"column(s) {', '.join(table.context_columns)}")
  return TabularData.from_splits(
      name, splits["train"], splits["val"], splits["test"], source=table.source,
      columns=tuple(table.columns), integer_columns=tuple(bool(flag) for flag in integer),
      notes=tuple(notes), bounds=checked_bounds, defaults_name=USER_TABLE, **metadata)


def _image_data(images, name, val_fraction, test_fraction, seed):
  """`ImageData` of 256 levels from a `user_files.UserImages` folder."""
  num, height, width, channels = images.images.shape
  indices = split_indices(num, val_fraction, test_fraction, seed, images.source)
  rows = images.images.reshape(num, -1)
  notes = [f"{images.source}: {num:,} images of {height}x{width}x{channels} "
           f"({'grayscale' if channels == 1 else 'RGB'}, {IMAGE_LEVELS} levels).",
           f"Splits (a shuffle with seed {seed}): train {len(indices['train']):,}, val "
           f"{len(indices['val']):,}, test {len(indices['test']):,} images."]
  metadata = {}
  if images.labels is not None:
    one_hot = np.eye(len(images.class_names), dtype=np.float32)[images.labels]
    metadata = dict(contexts={split: one_hot[index] for split, index in indices.items()},
                    context_description=(f"one-hot class of the subfolder "
                                         f"({', '.join(images.class_names)})"))
    notes.append(f"Classes (one subfolder each): {', '.join(images.class_names)}.")
  return ImageData.from_splits(
      name, *(rows[indices[split]] for split in SPLITS), source=images.source,
      image_shape=(height, width, channels), num_levels=IMAGE_LEVELS,
      alpha=IMAGE_LOGIT_ALPHA, notes=tuple(notes), defaults_name=USER_IMAGES, **metadata)


def user_data_name(path: str) -> str:
  """The data's name in reports: the file's (or folder's) stem, without `:/hdf5/path`."""
  if not os.path.exists(path) and ":" in path:
    path = path.rsplit(":", 1)[0]
  return os.path.splitext(os.path.basename(os.path.normpath(path)))[0] or "data"


def load_user_data(path, columns=None, context_columns=None, split_column=None,
                   val_fraction: float = 0.1, test_fraction: float = 0.1, seed: int = 0,
                   discrete_columns=None, continuous_columns=None,
                   drop_nonfinite: bool = False, name=None, bounds=None) -> TabularData:
  """Reads a user's table or image folder `path` into splits (see the module docstring).

  Args:
    path: a table file (`FILE`, `FILE:/hdf5/path`, `FILE:npz_key`), a folder
      of images, or a pandas `DataFrame` already in memory.
    columns, context_columns: lists of column names (or 0-based indices as
      strings) to model and to condition on; default: every other column.
    split_column: a column of train/val/test labels instead of a shuffle.
    val_fraction, test_fraction, seed: the shuffled split.
    discrete_columns, continuous_columns: override the detection of
      integer-valued columns.
    drop_nonfinite: drop (and report) rows with NaN or infinite values
      instead of refusing the file.
    name: the data's name in reports (default: the file's stem).
    bounds: `{column: (low, high)}` open bounds of columns to map to R.

  Raises:
    FileNotFoundError, ValueError: a missing, garbled or unsuitable file; the
      message names it and what is wrong.
  """
  table_options = dict(columns=columns, context_columns=context_columns,
                       split_column=split_column, drop_nonfinite=drop_nonfinite)
  if not isinstance(path, (str, os.PathLike)):  # A data frame.
    return user_table_data(user_files.read_frame(path, name or "table", **table_options),
                           name or "table", val_fraction, test_fraction, seed,
                           discrete_columns, continuous_columns, bounds)
  path = os.fspath(path)
  name = name or user_data_name(path)
  if os.path.isdir(path):
    table_flags = [flag for flag, value in (
        ("--columns", columns), ("--context-columns", context_columns),
        ("--split-column", split_column), ("--discrete-columns", discrete_columns),
        ("--continuous-columns", continuous_columns), ("--bounded-columns", bounds)) if value]
    if table_flags:
      raise ValueError(f"{', '.join(table_flags)}: {path} is a folder of images, not a "
                       f"table.")
    return _image_data(user_files.read_image_folder(path), name, val_fraction,
                       test_fraction, seed)
  table = user_files.read_table(path, **table_options)
  return user_table_data(table, name, val_fraction, test_fraction, seed,
                         discrete_columns, continuous_columns, bounds)
