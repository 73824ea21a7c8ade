"""Reading a user's own data: a table file, or a folder of images.

`python train/fit.py --data FILE` reads FILE with `read_table` (a folder with
`read_image_folder`; a data frame or array in memory with `read_frame`); a
later step splits the rows and builds the model.

Table formats, chosen by the file's extension (case-insensitive):

  .csv                comma-separated text.
  .tsv, .tab          tab-separated text.
  .txt                text separated by the first of ",", ";" or a tab found in
                      the first non-blank line, else by runs of whitespace.
  .parquet, .feather  Arrow files; need pyarrow (`pip install "tfp_ldu[parquet]"`).
  .npy                one 1-D (one column) or 2-D `[rows, columns]` numeric
                      array, or a 1-D structured array (one column per field).
  .npz                `FILE` when the archive holds one array, else `FILE:KEY`.
  .h5, .hdf5          `FILE:/path/to/dataset`; `FILE` alone when the file holds
                      exactly one dataset.  Arrays as for .npy.

Spec syntax: a spec naming an existing file is taken literally, even when it
holds a ":"; otherwise the part after the last ":" selects the array of an
.npz (`data.npz:train`) or the dataset of an HDF5 file (`data.h5:/group/x`).

Text files are read as UTF-8 (a byte-order mark, Windows line endings, quoted
fields and blank lines are fine; blank lines are skipped, so in a one-column
file an empty cell is no row).  The first non-blank line is the header
naming the columns, unless every cell of it is a number or empty (and one is
a number): then the file has no header, that line is data and the columns are
named "0", "1", ....  Arrays without field names (.npy, .npz, HDF5) also get
columns "0", "1", ....  Empty cells (and pandas' missing-value markers such as
"NA") are missing values, refused like NaN unless dropped.

Nothing is unpickled: object arrays in .npy/.npz files are refused.

Every bad input raises a one-line `ValueError` naming the file (a
`FileNotFoundError` for a missing file; `MissingDependencyError`, both an
`ImportError` and a `ValueError`, when pyarrow is missing).
"""
import codecs
import collections
import csv
import dataclasses
import io
import os
import warnings
import zipfile
import zlib
from typing import Optional

import h5py
import numpy as np
import pandas as pd
from PIL import Image

TABLE_EXTENSIONS = (".csv", ".tsv", ".tab", ".txt", ".parquet", ".feather",
                    ".npy", ".npz", ".h5", ".hdf5")
# For help texts and messages.
SUPPORTED_FORMATS = (".csv, .tsv/.tab, .txt, .parquet, .feather, .npy, .npz[:KEY], "
                     ".h5/.hdf5[:/PATH]")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
MIN_ROWS = 3  # One each for the train, validation and test splits.
SPLIT_VALUES = {"train": "train", "val": "val", "validation": "val",
                "test": "test"}
_MAX_LISTED = 10
_KEYED_FORMATS = (".npz", ".h5", ".hdf5")
_TEXT_DELIMITERS = {".csv": ",", ".tsv": "\t", ".tab": "\t"}
_WHITESPACE = r"\s+"
_NOT_WHITESPACE = np.ones(256, bool)
_NOT_WHITESPACE[list(b" \t\n\r\v\f")] = False


class MissingDependencyError(ImportError, ValueError):
  """A format's optional library is missing (also a `ValueError`, so one
  `except ValueError` catches every bad-input error of this module)."""


@dataclasses.dataclass(frozen=True, eq=False)
class UserTable:
  """The rows of a user's table file, as float64 arrays.

  Attributes:
    source: the file, with ":KEY" (npz) or ":/path" (HDF5) when an array in
      it was read, for messages.
    x: float64 `[N, D]` modelled columns.
    columns: the `D` names of `x`'s columns.
    context: float64 `[N, C]` context columns, or None.
    context_columns: the `C` names of `context`'s columns (empty without).
    split: `[N]` str array of "train", "val" or "test" read from the split
      column, or None.
    line_numbers: `[N]` int64, where each kept row is in the file: the 1-based
      file line (counting the header line) for text files; the 0-based row
      index for .npy, .npz, HDF5, Parquet and Feather.
    dropped_lines: line numbers (as `line_numbers`) of the rows dropped for
      NaN, infinite or missing values by `drop_nonfinite=True`; empty
      otherwise.
  """
  source: str
  x: np.ndarray
  columns: tuple
  context: Optional[np.ndarray]
  context_columns: tuple
  split: Optional[np.ndarray]
  line_numbers: np.ndarray
  dropped_lines: tuple


@dataclasses.dataclass(frozen=True, eq=False)
class UserImages:
  """The images of a folder, as `keras.utils.image_dataset_from_directory` finds them.

  Attributes:
    source: the folder.
    images: uint8 `[N, H, W, C]`; C = 1 (grayscale) or 3 (RGB).
    files: the `N` image files, as paths relative to `source` with "/"
      separators, sorted by class, then by name.
    labels: `[N]` int64 class indices (into `class_names`) when the folder
      holds one subfolder per class, else None.
    class_names: sorted names of the class subfolders (empty without).
  """
  source: str
  images: np.ndarray
  files: tuple
  labels: Optional[np.ndarray]
  class_names: tuple


@dataclasses.dataclass(frozen=True)
class _Selection:
  """Resolved column names: modelled, context, and the split column (or None)."""
  modelled: tuple
  context: tuple
  split: Optional[str]


@dataclasses.dataclass(frozen=True)
class _Columns:
  """A reader's result: selected columns by name, before any checks.

  `values[name]` is a `[N]` array or `pandas.Series` (any dtype); `unit` says
  what `line_numbers` count ("line" or "row"); `missing` is the word for a
  missing cell in messages ("" where a format has none).
  """
  source: str
  selection: _Selection
  values: dict
  line_numbers: np.ndarray
  unit: str
  missing: str


def read_table(spec: str, columns=None, context_columns=None, split_column=None,
               drop_nonfinite=False) -> UserTable:
  """Reads a table file into float64 arrays, refusing bad input.

  Args:
    spec: the file, `FILE:KEY` for an array of an .npz archive, or
      `FILE:/path` for a dataset of an HDF5 file (see the module docstring).
    columns: the modelled columns, as a list of names or 0-based indices
      given as strings (names win); None for every column that is neither a
      context column nor the split column.
    context_columns: the columns to condition on (names or indices), or None.
    split_column: a column of "train", "val" (or "validation") and "test"
      (any case) assigning each row to a split, or None.
    drop_nonfinite: drop rows with NaN, infinite or missing values in the
      modelled or context columns (listed in `dropped_lines`) instead of
      raising.

  Returns:
    A `UserTable` with at least `MIN_ROWS` rows.

  Raises:
    FileNotFoundError: no such file.
    ValueError: one line naming the file, for a folder or an unknown
      extension; an empty, truncated or corrupted file; a table without data
      rows or with fewer than `MIN_ROWS`; repeated column names; an unknown
      column, a column both modelled and context, or none left to model; a
      non-numeric or constant column; NaN, infinite or missing values
      (unless dropped); a bad split value; a missing npz key or HDF5 path; an
      array that is not 1-D or 2-D; a pickled object array.
    MissingDependencyError: a Parquet or Feather file without pyarrow.
  """
  path, key = _split_spec(spec)
  extension = _check_file(path)
  if key is not None and extension not in _KEYED_FORMATS:
    raise ValueError(f"{spec}: a ':KEY' suffix selects an array of an .npz or a "
                     f"dataset of an .h5/.hdf5 file; {extension} files take none.")
  requested = dict(columns=_as_list(columns),
                   context_columns=_as_list(context_columns),
                   split_column=split_column)

  def select(source, names):
    return _select_columns(source, names, **requested)

  if extension in _ARRAY_READERS:
    source, array = _ARRAY_READERS[extension](path, key)
    table = _array_columns(source, array, select)
  elif extension in (".parquet", ".feather"):
    table = _read_arrow_file(path, extension, select)
  else:
    table = _read_text_file(path, extension, select)
  return _checked_table(table, drop_nonfinite)


def read_frame(frame, source: str = "table", columns=None, context_columns=None,
               split_column=None, drop_nonfinite=False) -> UserTable:
  """`read_table` for data in memory: a data frame or a 1-D/2-D array.

  Args:
    frame: a pandas `DataFrame` (columns named by `str`) or an array (see
      `as_frame`).
    source: what to call the data in messages and in `UserTable.source`.
    columns, context_columns, split_column, drop_nonfinite: as `read_table`.

  Returns:
    A `UserTable`; `line_numbers` are 0-based row positions.

  Raises:
    ValueError: as `read_table`, naming `source`.
  """
  requested = dict(columns=_as_list(columns),
                   context_columns=_as_list(context_columns),
                   split_column=split_column)
  table = _frame_columns(source, as_frame(frame, source),
                         lambda source, names: _select_columns(source, names,
                                                               **requested))
  return _checked_table(table, drop_nonfinite)


def as_frame(table, source: str = "table") -> pd.DataFrame:
  """A data frame as is, or an array as a frame with columns "0", "1", ....

  Args:
    table: a pandas `DataFrame`, or anything `np.asarray` makes a 1-D (one
      column) or 2-D `[N, D]` array of.
    source: what to call the data in messages.

  Raises:
    ValueError: an array that is not 1-D or 2-D.
  """
  if isinstance(table, pd.DataFrame):
    return table
  array = _two_dimensional(source, np.asarray(table))
  return pd.DataFrame(array, columns=[str(i) for i in range(array.shape[1])],
                      copy=False)


def integer_columns(values: np.ndarray) -> np.ndarray:
  """Which columns hold only whole numbers (candidates for dequantisation).

  Args:
    values: `[N, D]` array.

  Returns:
    `[D]` bool: True where every value of the column is a finite whole number.
  """
  values = np.asarray(values)
  if values.ndim != 2:
    raise ValueError(f"integer_columns takes an [N, D] array; got shape "
                     f"{values.shape}.")
  if not np.issubdtype(values.dtype, np.floating):
    return np.ones(values.shape[1], bool)
  return np.all(np.isfinite(values) & (values == np.round(values)), axis=0)


def read_image_folder(path: str) -> UserImages:
  """Reads a folder of same-sized 8-bit images, optionally one subfolder per class.

  Image files are those ending in .png, .jpg, .jpeg, .bmp or .gif (any case;
  a GIF gives its first frame); other files, hidden files and folders (names
  starting with ".") and subfolders without images are ignored.  Images lie
  either directly in `path` (no labels) or directly in its subfolders, one
  per class (labels index the sorted subfolder names), not both.

  Modes: grayscale ("L"; bilevel "1" becomes "L") gives C = 1; RGB gives
  C = 3, as do palette ("P"), "RGBX", "CMYK" and "YCbCr" images.  An alpha
  channel ("LA", "RGBA", a palette with transparency) is dropped when fully
  opaque.  All images must end up with one size and one channel count.

  Args:
    path: the folder.

  Returns:
    A `UserImages` with at least `MIN_ROWS` images.

  Raises:
    FileNotFoundError: no such folder.
    ValueError: one line naming the folder or the file, for a path that is
      not a folder; no images; images both at the top level and in
      subfolders; an unreadable image; transparent pixels; an image that is
      not 8-bit (16-bit, 32-bit integer or float); images of different sizes
      or mixing grayscale and RGB; fewer than `MIN_ROWS` images.
  """
  if not os.path.exists(path):
    raise FileNotFoundError(f"{path}: no such folder.")
  if not os.path.isdir(path):
    raise ValueError(f"{path}: not a folder; read_image_folder reads a folder of "
                     f"image files (read_table reads a table file).")
  files, labels, class_names = _image_files(path)
  images = []
  for file in files:
    image = _read_image(os.path.join(path, file))
    if images:
      _check_same_kind(path, files[0], images[0], file, image)
    images.append(image)
  if len(images) < MIN_ROWS:
    raise ValueError(f"{path}: only {len(images)} image(s); need at least "
                     f"{MIN_ROWS} (one each for the train, val and test splits).")
  return UserImages(source=path, images=np.stack(images), files=tuple(files),
                    labels=labels, class_names=class_names)


# ---------------------------------------------------------------- the spec

def _split_spec(spec: str):
  """`(path, key or None)`: the spec if it is a file, else split at its last ":"."""
  spec = os.fspath(spec)
  if os.path.exists(spec) or ":" not in spec:
    return spec, None
  path, key = spec.rsplit(":", 1)
  if not os.path.isfile(path):
    raise FileNotFoundError(f"{spec}: no such file.")
  return path, key or None


def _check_file(path: str) -> str:
  """The lower-case extension of an existing, non-empty file of a supported format."""
  if not os.path.exists(path):
    raise FileNotFoundError(f"{path}: no such file.")
  if os.path.isdir(path):
    raise ValueError(f"{path}: is a folder; read_table reads one table file "
                     f"(read_image_folder reads a folder of images).")
  extension = os.path.splitext(path)[1].lower()
  if extension not in TABLE_EXTENSIONS:
    kind = f"unknown file type '{extension}'" if extension else "no file extension"
    raise ValueError(f"{path}: {kind}; supported: {SUPPORTED_FORMATS}.")
  if os.path.getsize(path) == 0:
    raise ValueError(f"{path}: the file is empty (0 bytes).")
  return extension


def _as_list(items):
  """A list of column specs as strings (a lone string is one column), or None."""
  if items is None:
    return None
  if isinstance(items, (str, int)):
    items = [items]
  return [str(item).strip() for item in items]


# ---------------------------------------------------------------- columns

def _listing(items, limit=_MAX_LISTED) -> str:
  """`"a", "b", ... and N more`."""
  items = list(items)
  shown = ", ".join(f'"{item}"' for item in items[:limit])
  return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _numbers_listing(unit: str, numbers: np.ndarray) -> str:
  """`line 3`, `lines 3, 7` or `rows 1, 2, ..., 10 and N more`."""
  shown = ", ".join(str(int(number)) for number in numbers[:_MAX_LISTED])
  more = len(numbers) - _MAX_LISTED
  return (f"{unit}{'s' if len(numbers) > 1 else ''} {shown}"
          + (f" and {more} more" if more > 0 else ""))


def _select_columns(source, names, columns, context_columns, split_column):
  """Resolves the requested columns against a file's column `names`.

  Raises:
    ValueError: repeated names in the file, an unknown or repeated column,
      overlapping roles, or no column left to model.
  """
  repeated = sorted(name for name, count in collections.Counter(names).items()
                    if count > 1)
  if repeated:
    raise ValueError(f"{source}: the column name(s) {_listing(repeated)} occur more "
                     f"than once; give every column its own name.")

  def resolve(item, flag):
    if item in names:
      return item
    if item.isdecimal() and int(item) < len(names):
      return names[int(item)]
    raise ValueError(f'{source}: no column "{item}" (from {flag}); the columns are '
                     f"{_listing(names, 30)} (or 0-based indices 0..{len(names) - 1}).")

  def resolve_all(items, flag):
    resolved = tuple(resolve(item, flag) for item in items or ())
    twice = sorted(name for name, count in collections.Counter(resolved).items()
                   if count > 1)
    if twice:
      raise ValueError(f"{source}: {flag} lists column(s) {_listing(twice)} twice.")
    return resolved

  split = None if split_column is None else resolve(str(split_column).strip(),
                                                    "--split-column")
  context = resolve_all(context_columns, "--context-columns")
  if columns is None:
    modelled = tuple(name for name in names
                     if name not in context and name != split)
  else:
    modelled = resolve_all(columns, "--columns")
  both = [name for name in modelled if name in context]
  if both:
    raise ValueError(f"{source}: column(s) {_listing(both)} are both modelled "
                     f"(--columns) and context (--context-columns).")
  if split is not None and (split in modelled or split in context):
    raise ValueError(f'{source}: the split column "{split}" cannot also be a '
                     f"modelled or context column.")
  if not modelled:
    raise ValueError(f"{source}: no column left to model (the columns are "
                     f"{_listing(names, 30)}).")
  return _Selection(modelled=modelled, context=context, split=split)


def _as_float(table: _Columns, name: str, flag: str) -> np.ndarray:
  """A column as float64 (missing values NaN); raises naming its first bad cell.

  `flag` is the option that chose the column, for the hint.
  """
  series = pd.Series(table.values[name], copy=False)
  dtype = series.dtype
  if pd.api.types.is_complex_dtype(dtype):
    raise ValueError(f'{table.source}: column "{name}" holds complex numbers '
                     f"({dtype}); only real numbers can be modelled.")
  if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
    return series.to_numpy(dtype=np.float64, na_value=np.nan)
  if (pd.api.types.is_datetime64_any_dtype(dtype)
      or pd.api.types.is_timedelta64_dtype(dtype)):
    raise ValueError(f'{table.source}: column "{name}" holds dates or times '
                     f"({dtype}), not numbers; convert them first.")
  if isinstance(dtype, pd.CategoricalDtype):
    series = series.astype(object)
  numbers = pd.to_numeric(series, errors="coerce").to_numpy(
      dtype=np.float64, na_value=np.nan)
  bad = np.isnan(numbers) & series.notna().to_numpy()
  if bad.any():
    row = int(np.argmax(bad))
    raise ValueError(f'{table.source}: column "{name}" is not numeric: '
                     f"{table.unit} {table.line_numbers[row]} holds "
                     f"{series.iloc[row]!r}; choose the columns with {flag}.")
  return numbers


def _split_labels(table: _Columns, name: str) -> np.ndarray:
  """The split column as a `[N]` str array of "train"/"val"/"test"."""
  series = pd.Series(table.values[name], copy=False)
  labels = series.astype(str).str.strip().str.lower().map(SPLIT_VALUES)
  bad = (labels.isna() | series.isna()).to_numpy()
  if bad.any():
    row = int(np.argmax(bad))
    where = f"{table.unit} {table.line_numbers[row]}"
    held = "is empty" if pd.isna(series.iloc[row]) else f"holds {series.iloc[row]!r}"
    raise ValueError(f'{table.source}: split column "{name}" must hold train, val '
                     f"(or validation) or test: {where} {held}.")
  return labels.to_numpy(dtype=str)


def _checked_table(table: _Columns, drop_nonfinite: bool) -> UserTable:
  """Converts and checks a reader's columns (see `read_table`)."""
  selection, source = table.selection, table.source
  n_rows = len(table.line_numbers)

  def stack(names, flag):
    if not names:
      return None
    values = np.empty((n_rows, len(names)), np.float64)
    for i, name in enumerate(names):
      values[:, i] = _as_float(table, name, flag)
    return values

  x = stack(selection.modelled, "--columns")
  context = stack(selection.context, "--context-columns")
  split = None if selection.split is None else _split_labels(table, selection.split)
  line_numbers = np.asarray(table.line_numbers, np.int64)
  finite = np.isfinite(x).all(axis=1)
  if context is not None:
    finite &= np.isfinite(context).all(axis=1)
  dropped = ()
  if not finite.all():
    bad_lines = line_numbers[~finite]
    if not drop_nonfinite:
      values = (f"NaN, infinite or {table.missing}" if table.missing
                else "NaN or infinite")
      count = len(bad_lines)
      raise ValueError(
          f"{source}: {count} row{'s hold' if count > 1 else ' holds'} {values} "
          f"values ({_numbers_listing(table.unit, bad_lines)}); fix "
          f"{'them' if count > 1 else 'it'} or pass --drop-nonfinite.")
    dropped = tuple(bad_lines.tolist())
    x, line_numbers = x[finite], line_numbers[finite]
    context = None if context is None else context[finite]
    split = None if split is None else split[finite]
  if len(x) < MIN_ROWS:
    after = (f" after dropping {len(dropped)} with NaN or infinite values"
             if dropped else "")
    raise ValueError(f"{source}: only {len(x)} row(s){after}; need at least "
                     f"{MIN_ROWS} (one each for the train, val and test splits).")
  _check_not_constant(source, x, selection.modelled, "--columns")
  if context is not None:
    _check_not_constant(source, context, selection.context, "--context-columns")
  return UserTable(source=source, x=x, columns=selection.modelled,
                   context=context, context_columns=selection.context,
                   split=split, line_numbers=line_numbers,
                   dropped_lines=dropped)


def _check_not_constant(source, values, names, flag):
  constant = np.flatnonzero(values.min(axis=0) == values.max(axis=0))
  if constant.size:
    listed = _listing(names[i] for i in constant)
    one = constant.size == 1
    raise ValueError(
        f"{source}: column{'' if one else 's'} {listed} {'is' if one else 'are'} "
        f"constant over all {len(values)} rows (e.g. {values[0, constant[0]]:g}): "
        f"nothing to model or standardise; leave {'it' if one else 'them'} out "
        f"of {flag}.")


def _one_line(error: Exception) -> str:
  return " ".join(str(error).split())


# ---------------------------------------------------------------- text files

def _read_text_file(path: str, extension: str, select) -> _Columns:
  """Reads a delimited text file (see the module docstring).

  The file is read once into memory; pandas parses those bytes.  Line numbers
  come from the positions of the non-blank lines (the lines pandas reads),
  or, when a quoted field spans lines, from the csv module.
  """
  with open(path, "rb") as stream:
    data = stream.read()
  starts, filled = _line_starts(data)
  if not filled.size:
    raise ValueError(f"{path}: holds only blank lines.")
  first = filled[0]
  end = starts[first + 1] if first + 1 < len(starts) else len(data)
  # splitlines also ends lines at a bare "\r" (pandas does).
  first_line = next(line for line in _decode(path, data[starts[first]:end]).splitlines()
                    if line.strip())
  delimiter = _TEXT_DELIMITERS.get(extension) or _sniff_delimiter(first_line)
  cells = [cell.strip() for cell in _split_line(first_line, delimiter)]
  has_header = not _all_numbers(cells)
  if has_header:
    unnamed = [i for i, name in enumerate(cells) if not name]
    if unnamed:
      raise ValueError(f"{path}: the header line (line {first + 1}) leaves column "
                       f"{unnamed[0]} (0-based) unnamed; name it, or delete it "
                       f"if it is a pandas index saved by to_csv.")
    names = cells
  else:
    names = [str(i) for i in range(len(cells))]
  selection = select(path, names)
  frame = _parse_text(path, data, delimiter, names, has_header, selection.split)
  line_numbers = filled[1:] + 1 if has_header else filled + 1
  if frame.empty:
    raise ValueError(f"{path}: has a header line but no data rows.")
  if len(line_numbers) != len(frame):
    line_numbers = _record_lines(data, delimiter, has_header, len(frame))
  needed = selection.modelled + selection.context + (
      () if selection.split is None else (selection.split,))
  return _Columns(source=path, selection=selection,
                  values={name: frame[name] for name in needed},
                  line_numbers=line_numbers, unit="line", missing="empty")


def _line_starts(data: bytes):
  """`(starts, filled)`: each line's first byte offset, and the 0-based indices
  of the lines holding more than whitespace (a UTF-8 byte-order mark aside)."""
  buffer = np.frombuffer(data, np.uint8)
  starts = np.concatenate([[0], np.flatnonzero(buffer == ord("\n")) + 1])
  if starts[-1] == len(buffer):  # A final newline ends the last line.
    starts = starts[:-1]
  content = _NOT_WHITESPACE[buffer]
  if data.startswith(codecs.BOM_UTF8):
    content[:len(codecs.BOM_UTF8)] = False
  return starts, np.flatnonzero(np.logical_or.reduceat(content, starts))


def _decode(path: str, line: bytes) -> str:
  try:
    return line.decode("utf-8-sig")
  except UnicodeDecodeError as error:
    raise _not_utf8(path, error) from None


def _not_utf8(path: str, error: UnicodeDecodeError) -> ValueError:
  return ValueError(f"{path}: not UTF-8 text (byte {error.object[error.start]:#04x}); "
                    f"save the file as UTF-8.")


def _sniff_delimiter(line: str) -> str:
  """For .txt: the first of ",", ";", tab in the first line, else whitespace."""
  for delimiter in (",", ";", "\t"):
    if delimiter in line:
      return delimiter
  return _WHITESPACE


def _split_line(line: str, delimiter: str) -> list:
  """The cells of one line (quotes honoured)."""
  if delimiter == _WHITESPACE:
    cells = next(csv.reader([line.replace("\t", " ")], delimiter=" ",
                            skipinitialspace=True))
    return [cell for cell in cells if cell]
  return next(csv.reader([line], delimiter=delimiter))


def _all_numbers(cells) -> bool:
  """Whether a first line is data: every cell a number or empty, one a number."""
  def number(cell):
    try:
      float(cell)
      return True
    except ValueError:
      return False
  return any(cells) and all(number(cell) for cell in cells if cell)


def _parse_text(path, data, delimiter, names, has_header, split_column):
  """pandas' parse of the whole file into a frame with columns `names`."""
  with warnings.catch_warnings():
    # pandas only warns when every row holds more fields than `names`.
    warnings.simplefilter("error", pd.errors.ParserWarning)
    warnings.simplefilter("ignore", pd.errors.DtypeWarning)
    try:
      return pd.read_csv(
          io.BytesIO(data), sep=delimiter, header=0 if has_header else None,
          names=names, index_col=False, encoding="utf-8",
          dtype=None if split_column is None else {split_column: str})
    except pd.errors.ParserWarning:
      first = "the header line" if has_header else "the first line"
      raise ValueError(f"{path}: the rows hold more fields than {first} "
                       f"({len(names)}).") from None
    except pd.errors.ParserError as error:
      raise ValueError(f"{path}: cannot parse the file ({_one_line(error)}).") from None
    except UnicodeDecodeError as error:
      raise _not_utf8(path, error) from None


def _record_lines(data, delimiter, has_header, n_rows) -> np.ndarray:
  """1-based first lines of the data records, by the csv module.

  Only used when the records do not map one to one onto non-blank lines: a
  quoted field spanning lines, or lines ending in a bare carriage return.
  """
  text = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline=None)
  reader = csv.reader(text, delimiter=" " if delimiter == _WHITESPACE else delimiter)
  lines, end = [], 0
  try:
    for row in reader:
      if any(cell.strip() for cell in row):
        lines.append(end + 1)
      end = reader.line_num
  except csv.Error:
    lines = []
  lines = lines[1:] if has_header else lines
  if len(lines) != n_rows:  # The csv module split differently: count records.
    first = lines[0] if lines else 1
    lines = range(first, first + n_rows)
  return np.array(lines, np.int64)


# ---------------------------------------------------------------- Arrow files

def _read_arrow_file(path: str, extension: str, select) -> _Columns:
  """Reads a Parquet or Feather file through pandas and pyarrow."""
  kind = "Parquet" if extension == ".parquet" else "Feather"
  try:
    import pyarrow  # pylint: disable=import-outside-toplevel
  except ImportError:
    raise MissingDependencyError(f'{path}: reading {kind} needs pyarrow; pip install '
                                 f'"tfp_ldu[parquet]"') from None
  read = pd.read_parquet if extension == ".parquet" else pd.read_feather
  try:
    frame = read(path)
  except (OSError, ValueError, pyarrow.ArrowException) as error:
    raise ValueError(f"{path}: not a readable {kind} file ({_one_line(error)}); the "
                     f"file is truncated or corrupted.") from None
  return _frame_columns(path, frame, select)


def _frame_columns(source: str, frame: pd.DataFrame, select) -> _Columns:
  """The columns of a data frame (named by `str`), rows counted from 0."""
  names = [str(name) for name in frame.columns]
  selection = select(source, names)
  needed = set(selection.modelled + selection.context + (selection.split,))
  return _Columns(source=source, selection=selection,
                  values={name: frame.iloc[:, i] for i, name in enumerate(names)
                          if name in needed},
                  line_numbers=np.arange(len(frame)), unit="row", missing="missing")


# ---------------------------------------------------------------- arrays

def _read_npy_file(path: str, key) -> tuple:
  del key  # Refused for .npy before.
  with open(path, "rb") as stream:
    return path, _read_npy(stream, path)


def _read_npy(stream, source: str) -> np.ndarray:
  """One `.npy` array from a seekable binary stream, refusing object arrays."""
  try:
    version = np.lib.format.read_magic(stream)
    read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                   else np.lib.format.read_array_header_2_0)
    dtype = read_header(stream)[2]
    if not dtype.hasobject:
      stream.seek(0)
      return np.lib.format.read_array(stream, allow_pickle=False)
  except (ValueError, EOFError, OSError, zlib.error, zipfile.BadZipFile) as error:
    raise ValueError(f"{source}: not a readable .npy array ({type(error).__name__}: "
                     f"{_one_line(error)}); the file is truncated or "
                     f"corrupted.") from None
  raise ValueError(f"{source}: holds Python objects (dtype {dtype}); reading them "
                   f"would unpickle, which can run code; save a numeric array.")


def _read_npz_file(path: str, key) -> tuple:
  """`(source, array)`: the array `key` (or the only one) of an .npz archive."""
  try:
    with zipfile.ZipFile(path) as archive:
      keys = [name[:-len(".npy")] for name in archive.namelist()
              if name.endswith(".npy")]
      if key is None:
        if len(keys) != 1:
          held = f"{len(keys)} arrays ({_listing(keys)})" if keys else "no arrays"
          raise ValueError(f"{path}: holds {held}; name one as {path}:KEY.")
        key = keys[0]
      elif key not in keys:
        raise ValueError(f'{path}: no array "{key}"; the arrays are {_listing(keys)}.')
      source = f"{path}:{key}"
      with archive.open(key + ".npy") as stream:
        return source, _read_npy(stream, source)
  except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as error:
    raise ValueError(f"{path}: not a readable .npz archive ({_one_line(error)}); the "
                     f"file is truncated or corrupted.") from None


def _read_hdf5_file(path: str, key) -> tuple:
  """`(source, array)`: the dataset at `key` (or the only one) of an HDF5 file."""
  try:
    file = h5py.File(path, "r")
  except OSError as error:
    raise ValueError(f"{path}: not a readable HDF5 file ({_one_line(error)}); the "
                     f"file is truncated or corrupted.") from None
  with file:
    datasets = []
    file.visititems(lambda name, node: datasets.append("/" + name)
                    if isinstance(node, h5py.Dataset) else None)
    if not key:
      if len(datasets) != 1:
        held = (f"{len(datasets)} datasets ({_listing(datasets)})" if datasets
                else "no datasets")
        raise ValueError(f"{path}: holds {held}; name one as {path}:/PATH.")
      key = datasets[0]
    node = file.get(key)
    if not isinstance(node, h5py.Dataset):
      what = (f'no dataset "{key}"' if node is None else
              f'"{key}" is a {type(node).__name__.lower()}, not a dataset')
      raise ValueError(f"{path}: {what}; the datasets are "
                       f"{_listing(datasets) or 'none'}.")
    source = f"{path}:{node.name}"
    try:
      return source, node[()]
    except (OSError, ValueError, TypeError) as error:
      raise ValueError(f"{source}: cannot read the dataset ({_one_line(error)}); the "
                       f"file is truncated or corrupted.") from None


_ARRAY_READERS = {".npy": _read_npy_file, ".npz": _read_npz_file,
                  ".h5": _read_hdf5_file, ".hdf5": _read_hdf5_file}


def _array_columns(source: str, array: np.ndarray, select) -> _Columns:
  """The columns of a 1-D or 2-D array, or of a 1-D structured array's fields."""
  if array.dtype.names:
    if array.ndim != 1:
      raise ValueError(f"{source}: a {array.ndim}-D structured array; a table is a "
                       f"1-D one (one column per field).")
    names = list(array.dtype.names)
    selection = select(source, names)
    columns = {name: array[name] for name in names}
    nested = [name for name, values in columns.items() if values.ndim != 1]
    if nested:
      raise ValueError(f"{source}: field(s) {_listing(nested)} hold arrays per row; "
                       f"a table has one number per field and row.")
  else:
    if array.dtype.kind not in "biuf":
      raise ValueError(f"{source}: holds {array.dtype} values, not real numbers.")
    array = _two_dimensional(source, array)
    names = [str(i) for i in range(array.shape[1])]
    selection = select(source, names)
    columns = {name: array[:, i] for i, name in enumerate(names)}
  return _Columns(source=source, selection=selection, values=columns,
                  line_numbers=np.arange(len(array)), unit="row", missing="")


def _two_dimensional(source: str, array: np.ndarray) -> np.ndarray:
  """A 2-D array as is, a 1-D one as one column; raises for other ranks."""
  if array.ndim == 1:
    return array[:, None]
  if array.ndim != 2:
    raise ValueError(f"{source}: a {array.ndim}-D array of shape {array.shape}; a "
                     f"table is 1-D (one column) or 2-D [rows, columns].")
  return array


# ---------------------------------------------------------------- images

def _image_files(path: str) -> tuple:
  """`(files, labels or None, class_names)` of a folder (see read_image_folder)."""
  top = _images_in(path)
  classes = []
  for name in sorted(os.listdir(path)):
    folder = os.path.join(path, name)
    if not name.startswith(".") and os.path.isdir(folder):
      files = _images_in(folder)
      if files:
        classes.append((name, files))
  if top and classes:
    name, files = classes[0]
    raise ValueError(f"{path}: images both at the top level ({top[0]}) and in "
                     f"subfolders ({name}/{files[0]}); keep them either directly "
                     f"in the folder or in one subfolder per class.")
  if top:
    return top, None, ()
  if not classes:
    raise ValueError(f"{path}: no image files ({', '.join(IMAGE_EXTENSIONS)}) in the "
                     f"folder or in class subfolders.")
  files = [f"{name}/{file}" for name, names in classes for file in names]
  labels = np.repeat(np.arange(len(classes), dtype=np.int64),
                     [len(names) for _, names in classes])
  return files, labels, tuple(name for name, _ in classes)


def _images_in(folder: str) -> list:
  """Sorted names of the (non-hidden) image files directly in `folder`."""
  return [name for name in sorted(os.listdir(folder))
          if not name.startswith(".")
          and os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS
          and os.path.isfile(os.path.join(folder, name))]


def _read_image(file: str) -> np.ndarray:
  """An image file as uint8 `[H, W, C]`, C = 1 or 3."""
  try:
    with Image.open(file) as image:
      image.load()
      return _eight_bit_array(file, image)
  except (OSError, SyntaxError, Image.DecompressionBombError) as error:
    raise ValueError(f"{file}: not a readable image ({type(error).__name__}: "
                     f"{_one_line(error)}).") from None


_NOT_EIGHT_BIT = {"I": "32-bit integer", "F": "32-bit floating-point"}


def _eight_bit_array(file: str, image: Image.Image) -> np.ndarray:
  """Grayscale or RGB pixels of an opened image (see read_image_folder's modes)."""
  if image.mode in ("P", "PA"):
    transparent = image.mode == "PA" or "transparency" in image.info
    image = image.convert("RGBA" if transparent else "RGB")
  mode = image.mode
  if mode in ("LA", "RGBA", "RGBa"):
    if np.asarray(image.getchannel("A")).min() < 255:
      raise ValueError(f"{file}: has transparent pixels (alpha below 255); flatten "
                       f"it onto a background first.")
    image = image.convert("L" if mode == "LA" else "RGB")
  elif mode == "1":
    image = image.convert("L")
  elif mode in ("RGBX", "CMYK", "YCbCr"):
    image = image.convert("RGB")
  elif mode.startswith("I;16") or mode in _NOT_EIGHT_BIT:
    depth = _NOT_EIGHT_BIT.get(mode, "16-bit")
    raise ValueError(f'{file}: a {depth} image (mode "{mode}"); only 8-bit grayscale '
                     f"or RGB images are supported.")
  elif mode not in ("L", "RGB"):
    raise ValueError(f'{file}: unsupported image mode "{mode}"; save it as 8-bit '
                     f"grayscale or RGB.")
  pixels = np.asarray(image, np.uint8)
  return pixels[..., None] if pixels.ndim == 2 else pixels


def _check_same_kind(folder, first_file, first, file, pixels):
  """Raises unless two images have one size and one channel count."""
  if pixels.shape[:2] != first.shape[:2]:
    raise ValueError(
        f"{folder}: images differ in size: {first_file} is "
        f"{first.shape[1]}x{first.shape[0]} but {file} is "
        f"{pixels.shape[1]}x{pixels.shape[0]} (width x height); resize them to "
        f"one size.")
  if pixels.shape[2] != first.shape[2]:
    kind = {1: "grayscale", 3: "RGB"}
    raise ValueError(
        f"{folder}: grayscale and RGB images are mixed: {first_file} is "
        f"{kind[first.shape[2]]} but {file} is {kind[pixels.shape[2]]}; convert "
        f"them to one kind.")
