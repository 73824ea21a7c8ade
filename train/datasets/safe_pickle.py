"""Unpickling that can only rebuild numpy arrays and plain Python values.

The MAF archive's `mnist/mnist.pkl.gz` and the CIFAR-10 batches are pickles.
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

__all__ = ["UnsafePickleError", "RestrictedUnpickler", "restricted_load"]

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
      raise UnsafePickleError(
          f"refusing to unpickle the global {module}.{name}: dataset pickles "
          f"may only hold numpy arrays, lists, dicts, tuples, str, bytes, int "
          f"and float.  The file is corrupted or is not the dataset file; do "
          f"not load it with plain pickle.") from None

  def persistent_load(self, pid):
    raise UnsafePickleError("refusing a persistent id: dataset pickles have "
                            "none.")


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
  try:
    return RestrictedUnpickler(stream, encoding="latin1").load()
  except UnsafePickleError as error:
    raise ValueError(f"{source}: {error}") from error
  except MemoryError:
    raise
  except Exception as error:  # Garbled pickles fail in many ways.
    raise ValueError(
        f"{source}: not a readable pickle ({type(error).__name__}: {error}); "
        f"the file is truncated or corrupted.  Download it again.") from error
