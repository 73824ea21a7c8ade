"""Small image files in the exact on-disk formats the image loaders read.

  write_maf_mnist     `mnist/mnist.pkl.gz`: gzip pickle of (train, val, test),
                      each (float32 [N, 784] pixels k/256, int labels [N]);
  write_cifar_batches `<folder>/data_batch_1..5`, `test_batch`: pickled dicts
                      with uint8 planar "data" [N, 3072] and "labels";
  write_mnist_idx     `mnist/{train,t10k}-images-idx3-ubyte.gz` (IDX, magic
                      0x00000803) and the label files (0x00000801);
  write_mnist_npz     `mnist/mnist.npz` like Keras's cache file.

The archive's pickles were written by Python 2's cPickle (protocol 2):
byte strings are Python 2 `str` (BINSTRING opcodes) and numpy's module is
`numpy.core.multiarray`.  `python2_pickle_bytes` reproduces that, so the
tests read the same opcodes as the real files.  Images are made in NHWC
(`[N, H, W, C]` uint8); the planar CIFAR rows are derived here, so tests
compare the loaders' output with the original images, not with the files.
"""
import gzip
import io
import os
import pickle
import struct

import numpy as np

IDX_IMAGES_MAGIC = 0x00000803
IDX_LABELS_MAGIC = 0x00000801


def _path(root, relative: str) -> str:
  path = os.path.join(os.fspath(root), relative)
  os.makedirs(os.path.dirname(path), exist_ok=True)
  return path


class _Python2StylePickler(pickle._Pickler):
  """Protocol 2 with `bytes` written as Python 2 `str` (BINSTRING)."""

  dispatch = dict(pickle._Pickler.dispatch)

  def save_python2_str(self, obj):
    if len(obj) < 256:
      self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
    else:
      self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)
    self.memoize(obj)

  dispatch[bytes] = save_python2_str


def python2_pickle_bytes(obj) -> bytes:
  """`obj` pickled as Python 2's cPickle would (protocol 2, see module doc)."""
  stream = io.BytesIO()
  _Python2StylePickler(stream, protocol=2).dump(obj)
  # GLOBAL opcodes are "c<module>\n<name>\n": rename numpy 2's module path.
  return stream.getvalue().replace(b"cnumpy._core.", b"cnumpy.core.")


def random_images(rng: np.random.Generator, num: int, shape) -> np.ndarray:
  """`[num, *shape]` uint8 images using the full range 0..255."""
  images = rng.integers(0, 256, size=(num,) + tuple(shape), dtype=np.uint8)
  images.reshape(-1)[:2] = (0, 255)
  return images


def write_maf_mnist(root, splits, python2: bool = True,
                    pixel_divisor: float = 256.) -> str:
  """Writes `mnist/mnist.pkl.gz` from `{train, val, test}` uint8 [N, 28, 28].

  Pixels are stored as float32 level / `pixel_divisor` (256 in the archive).
  """
  content = tuple(
      ((splits[name].reshape(len(splits[name]), -1) / pixel_divisor
        ).astype(np.float32), np.arange(len(splits[name])) % 10)
      for name in ("train", "val", "test"))
  return write_gzip_pickle(root, "mnist/mnist.pkl.gz", content, python2)


def write_gzip_pickle(root, relative: str, obj, python2: bool = True) -> str:
  """Pickles `obj` (Python 2 style or protocol 5) into a gzip file."""
  data = (python2_pickle_bytes(obj) if python2
          else pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))
  path = _path(root, relative)
  with gzip.open(path, "wb") as stream:
    stream.write(data)
  return path


def nhwc_to_planar_rows(images: np.ndarray) -> np.ndarray:
  """`[N, H, W, C]` -> `[N, C*H*W]` rows: plane 0 (red), then 1, then 2."""
  return np.ascontiguousarray(images.transpose(0, 3, 1, 2)).reshape(
      len(images), -1)


def write_cifar_batches(root, folder: str, train_images, test_images,
                        python2: bool = True) -> list:
  """Writes `<folder>/data_batch_1..5` and `test_batch`.

  Args:
    train_images: uint8 `[N, 32, 32, 3]`, N divisible by 5, cut into five
      consecutive batches.
    test_images: uint8 `[M, 32, 32, 3]`.
    python2: Python 2 style (str keys as BINSTRING, like the archive);
      otherwise protocol 5 with bytes keys (as `encoding="bytes"` shows
      them).

  Returns:
    The six paths.
  """
  batches = np.split(train_images, 5) + [test_images]
  names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
  paths = []
  for name, images in zip(names, batches):
    batch = {b"batch_label": name.encode(), b"labels": [i % 10 for i in range(len(images))],
             b"data": nhwc_to_planar_rows(images),
             b"filenames": [f"{name}_{i}.png".encode()
                            for i in range(len(images))]}
    path = _path(root, f"{folder}/{name}")
    with open(path, "wb") as stream:
      stream.write(python2_pickle_bytes(batch) if python2
                   else pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL))
    paths.append(path)
  return paths


def idx_bytes(array: np.ndarray, magic: int) -> bytes:
  """An IDX file's content: magic, big-endian sizes, C-order uint8 data."""
  header = struct.pack(f">I{array.ndim}I", magic, *array.shape)
  return header + np.ascontiguousarray(array, np.uint8).tobytes()


def write_gzip(root, relative: str, content: bytes) -> str:
  """Writes `content` gzip-compressed to `root/relative`."""
  path = _path(root, relative)
  with gzip.open(path, "wb") as stream:
    stream.write(content)
  return path


def write_mnist_idx(root, train_images, test_images) -> tuple:
  """Writes MNIST's four IDX files (labels 0..9 cycling) under `mnist/`.

  Returns:
    The paths of the train and test image files.
  """
  paths = []
  for prefix, images in (("train", train_images), ("t10k", test_images)):
    paths.append(write_gzip(root, f"mnist/{prefix}-images-idx3-ubyte.gz",
                            idx_bytes(images, IDX_IMAGES_MAGIC)))
    labels = (np.arange(len(images)) % 10).astype(np.uint8)
    write_gzip(root, f"mnist/{prefix}-labels-idx1-ubyte.gz",
               idx_bytes(labels, IDX_LABELS_MAGIC))
  return tuple(paths)


def write_mnist_npz(root, train_images, test_images) -> str:
  """Writes `mnist/mnist.npz` with Keras's keys."""
  path = _path(root, "mnist/mnist.npz")
  np.savez(path, x_train=train_images, y_train=np.arange(len(train_images)) % 10,
           x_test=test_images, y_test=np.arange(len(test_images)) % 10)
  return path


class ShellCommandOnLoad:
  """Pickles to a call of `os.system(command)`: what a tampered file can do."""

  def __init__(self, command: str):
    self.command = command

  def __reduce__(self):
    return (os.system, (self.command,))
