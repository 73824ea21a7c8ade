"""Reads gzip-compressed IDX files, the format of the original MNIST files.

An IDX file (yann.lecun.com/exdb/mnist) is a 4-byte magic number
`00 00 <type> <ndim>` (type 0x08 = unsigned byte), then `ndim` big-endian
uint32 sizes, then the values in C order.  MNIST's image files have magic
0x00000803 (unsigned bytes, 3 dimensions: images, rows, columns) and its
label files 0x00000801.
"""
import gzip
import struct
import zlib

import numpy as np

__all__ = ["UNSIGNED_BYTE", "IMAGES_MAGIC", "LABELS_MAGIC", "read_idx_gz"]

UNSIGNED_BYTE = 0x08
IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801
_MAGIC_BYTES = 4
_SIZE_BYTES = 4


def read_idx_gz(path: str, expected_magic: int) -> np.ndarray:
  """Reads a gzip-compressed unsigned-byte IDX file.

  Args:
    path: the `.gz` file.
    expected_magic: the magic number the file must start with, e.g.
      `IMAGES_MAGIC`; it fixes the element type (unsigned byte) and the
      number of dimensions.

  Returns:
    A uint8 array with the shape given by the file's header.

  Raises:
    ValueError: naming `path`, if the file is not gzip, is truncated, has
      another magic number, or holds more or fewer bytes than its header
      announces.
  """
  try:
    with gzip.open(path, "rb") as stream:
      content = stream.read()
  except (OSError, EOFError, zlib.error) as error:
    raise ValueError(
        f"{path}: not a readable gzip file ({type(error).__name__}: {error}); "
        f"the download is truncated or corrupted.") from error
  if len(content) < _MAGIC_BYTES:
    raise ValueError(f"{path}: {len(content)} bytes, too short for an IDX "
                     f"header.")
  (magic,) = struct.unpack(">I", content[:_MAGIC_BYTES])
  if magic != expected_magic:
    element_type = (expected_magic >> 8) & 0xFF
    expected_dims = expected_magic & 0xFF
    raise ValueError(f"{path}: IDX magic number 0x{magic:08X}; expected "
                     f"0x{expected_magic:08X} (type 0x{element_type:02X}, "
                     f"{expected_dims} dimensions).  Is this the right file?")
  num_dims = magic & 0xFF
  header_bytes = _MAGIC_BYTES + _SIZE_BYTES * num_dims
  if (magic >> 8) != UNSIGNED_BYTE or len(content) < header_bytes:
    raise ValueError(f"{path}: truncated or unsupported IDX header "
                     f"({len(content)} bytes).")
  shape = struct.unpack(f">{num_dims}I", content[_MAGIC_BYTES:header_bytes])
  expected = int(np.prod(shape, dtype=np.int64))
  received = len(content) - header_bytes
  if received != expected:
    raise ValueError(f"{path}: the IDX header announces shape {list(shape)} "
                     f"({expected} bytes of data) but the file holds "
                     f"{received}; it is truncated or corrupted.")
  return np.frombuffer(content, np.uint8, offset=header_bytes).reshape(shape)
