"""Unpickling that can only rebuild numpy arrays, plain DataFrames and plain values.

The MAF archive's `mnist/mnist.pkl.gz`, its `gas/ethylene_CO.pickle` (a pandas
DataFrame) and the CIFAR-10 batches are pickles.
`pickle.load` would run whatever a tampered file asks for (e.g.
`os.system`), so these files are read with `RestrictedUnpickler`, which
resolves only the globals needed to rebuild:

  numpy arrays   `numpy.core.multiarray._reconstruct` (the Python 2 name the
                 archive's files use) / `numpy._core.multiarray._reconstruct`
                 (numpy 2), `numpy.ndarray`, `numpy.dtype`, and
                 `numpy[._]core.numeric._frombuffer` (pickle protocol 5);
  numpy scalars  `numpy[._]core.multiarray.scalar`;
  bytes          `_codecs.encode(text, "latin1")` and `bytes()`, the form
                 protocol-2 pickles written by Python 3 use for bytes (only
                 that form is accepted);

lists, dicts, tuples, str, int, float, bool and None need no globals.  Any
other global is refused with `UnsafePickleError` before it is imported.
Python 2 strings are decoded as latin-1, the encoding the archive's files
need under Python 3.

`restricted_frame_load` reads a pickled pandas DataFrame the same way: it
goes through pandas' own compatibility unpickler (which renames the classes
of older pandas versions) but resolves, besides the globals above, only the
pandas names that rebuild a DataFrame of plain columns
(`_PANDAS_FRAME_GLOBALS`: the frame, its block manager and blocks, its
indexes and string arrays, and `slice`).
"""
import codecs
import pickle

import numpy as np

try:  # numpy >= 2
  from numpy._core import multiarray as _multiarray
  from numpy._core import numeric as _numeric
except ImportError:  # numpy 1.x
  from numpy.core import multiarray as _multiarray
  from numpy.core import numeric as _numeric

__all__ = ["UnsafePickleError", "RestrictedUnpickler", "restricted_load",
           "restricted_frame_load"]

_LATIN1 = codecs.lookup("latin1").name


class UnsafePickleError(pickle.UnpicklingError):
  """A pickle asked for a global outside `RestrictedUnpickler`'s allow-list."""


def _bytes_from_pickle(*args):
  """`bytes()` or `_codecs.encode(text, "latin1")`, and nothing else."""
  if not args:
    return b""
  if (len(args) == 2 and isinstance(args[0], str) and isinstance(args[1], str)
      and codecs.lookup(args[1]).name == _LATIN1):
    return args[0].encode("latin1")
  raise UnsafePickleError(
      f"refusing bytes reconstruction with arguments of types "
      f"{[type(arg).__name__ for arg in args]}: only _codecs.encode(str, "
      f"'latin1') and bytes() are allowed.")


_ALLOWED_GLOBALS = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): _bytes_from_pickle,
    ("builtins", "bytes"): _bytes_from_pickle,
    ("__builtin__", "bytes"): _bytes_from_pickle,
}
for _core in ("numpy.core", "numpy._core"):
  _ALLOWED_GLOBALS[(f"{_core}.multiarray", "_reconstruct")] = (
      _multiarray._reconstruct)
  _ALLOWED_GLOBALS[(f"{_core}.multiarray", "scalar")] = _multiarray.scalar
  _ALLOWED_GLOBALS[(f"{_core}.numeric", "_frombuffer")] = _numeric._frombuffer


def _refuse(module, name):
  return UnsafePickleError(
      f"refusing to unpickle the global {module}.{name}: dataset pickles "
      f"may only hold numpy arrays, plain pandas DataFrames, lists, dicts, tuples, "
      f"str, bytes, int and float.  The file is corrupted or is not the dataset "
      f"file; do not load it with plain pickle.")


class RestrictedUnpickler(pickle.Unpickler):
  """A `pickle.Unpickler` that resolves only the allow-listed globals.

  Raises:
    UnsafePickleError: on the first global not in the allow-list (nothing
      is imported or called for it).
  """

  def find_class(self, module, name):
    try:
      return _ALLOWED_GLOBALS[(module, name)]
    except KeyError:
      raise _refuse(module, name) from None

  def persistent_load(self, pid):
    raise UnsafePickleError("refusing a persistent id: dataset pickles have "
                            "none.")


def _load_with(unpickler_class, stream, source, what, remedy):
  """`unpickler_class(stream).load()`, its failures as `ValueError`s naming `source`.

  A pickle that cannot be read at all is "not a readable <what>", followed by
  `remedy`.
  """
  try:
    return unpickler_class(stream, encoding="latin1").load()
  except UnsafePickleError as error:
    raise ValueError(f"{source}: {error}") from error
  except MemoryError:
    raise
  except Exception as error:  # Garbled pickles fail in many ways.
    raise ValueError(f"{source}: not a readable {what} ({type(error).__name__}: {error}); "
                     f"the file is truncated or corrupted{remedy}") from error


def restricted_load(stream, source: str):
  """Unpickles one object from the binary `stream` with `RestrictedUnpickler`.

  Args:
    stream: an open binary file (e.g. from `open` or `gzip.open`).
    source: the file's path, for error messages.

  Returns:
    The unpickled object (Python 2 strings decoded as latin-1).

  Raises:
    ValueError: naming `source`, if the pickle refers to a disallowed global
      (`__cause__` is the `UnsafePickleError`) or cannot be read at all
      (truncated, not gzip, not a pickle).
  """
  return _load_with(RestrictedUnpickler, stream, source, "pickle", ".  Download it again.")


# (module, name) of the pandas objects a plain DataFrame pickle refers to,
# after pandas' renaming of older locations (`pickle_compat`).
_PANDAS_FRAME_GLOBALS = {
    ("pandas", "DataFrame"), ("pandas.core.frame", "DataFrame"),
    ("pandas.core.internals.managers", "BlockManager"),
    ("pandas.core.internals", "BlockManager"),
    ("pandas._libs.internals", "_unpickle_block"),
    ("pandas.core.indexes.base", "_new_Index"), ("pandas.core.indexes.base", "Index"),
    ("pandas", "Index"), ("pandas", "RangeIndex"),
    ("pandas.core.indexes.range", "RangeIndex"),
    ("pandas._libs.arrays", "__pyx_unpickle_NDArrayBacked"),
    ("pandas.arrays", "StringArray"), ("pandas.core.arrays.string_", "StringArray"),
    ("pandas", "StringDtype"), ("pandas.core.arrays.string_", "StringDtype"),
    ("builtins", "slice"), ("__builtin__", "slice"),
}


def _frame_unpickler_class():
  """A subclass of pandas' compatibility unpickler that resolves only allowed globals."""
  from pandas.compat import pickle_compat  # pylint: disable=import-outside-toplevel

  renamed = getattr(pickle_compat, "_class_locations_map", {})

  class RestrictedFrameUnpickler(pickle_compat.Unpickler):
    """`pickle_compat.Unpickler` limited to `_PANDAS_FRAME_GLOBALS` and numpy data."""

    persistent_load = RestrictedUnpickler.persistent_load

    def find_class(self, module, name):
      if (module, name) in _ALLOWED_GLOBALS:
        return _ALLOWED_GLOBALS[(module, name)]
      target = renamed.get((module, name), (module, name))
      if target not in _PANDAS_FRAME_GLOBALS:
        raise _refuse(module, name)
      return super().find_class(module, name)

  return RestrictedFrameUnpickler


def restricted_frame_load(stream, source: str):
  """Unpickles one pandas DataFrame (or plain data) without running foreign code.

  Args:
    stream: an open binary file.
    source: the file's path, for error messages.

  Returns:
    The unpickled object.

  Raises:
    ValueError: naming `source`, for a global outside the allow-list (nothing
      is imported or called for it; `__cause__` is the `UnsafePickleError`)
      or a pickle that cannot be read.
  """
  return _load_with(_frame_unpickler_class(), stream, source, "DataFrame pickle",
                    ", or was written by a pandas too old for the installed one.")
