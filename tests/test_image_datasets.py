"""Tests of the image datasets: MNIST and CIFAR-10 in every accepted layout,
scikit-learn's digits, `ImageData`'s checks and the restricted unpickler.

Files are written small under `tmp_path` by `tests/make_image_files.py`
from NHWC uint8 images; expected splits are derived here from the
reference rules (MAF pickle: stored splits; IDX/npz: last N // 6 training
images validate; CIFAR-10: train = first int(0.9 N) rows, then their
mirror images), not from the loaders' code.  No network.
"""
import gzip
import io
import os
import pickle

import numpy as np
import pytest

from tests import make_image_files as image_files
from train import datasets
from train.datasets import cifar10
from train.datasets import safe_pickle


def flat(images):
  """`[N, H, W, C]` (or `[N, H, W]`) uint8 -> float32 `[N, D]` NHWC rows."""
  return images.reshape(len(images), -1).astype(np.float32)


def assert_image_data(data, name, sizes, image_shape, num_levels, alpha):
  assert isinstance(data, datasets.ImageData)
  assert isinstance(data, datasets.TabularData)
  assert data.name == name
  n_dims = int(np.prod(image_shape))
  assert [split.shape for split in (data.train, data.val, data.test)] == [
      (size, n_dims) for size in sizes]
  assert data.n_dims == n_dims
  assert data.image_shape == image_shape
  assert data.num_levels == num_levels
  assert data.alpha == alpha
  for split in (data.train, data.val, data.test):
    assert split.dtype == np.float32
    assert split.min() >= 0 and split.max() <= num_levels - 1
    np.testing.assert_array_equal(split, np.rint(split))


@pytest.fixture
def rng():
  return np.random.default_rng(0)


def mnist_splits(rng, sizes=(12, 4, 5)):
  return {name: image_files.random_images(rng, size, (28, 28))
          for name, size in zip(("train", "val", "test"), sizes)}


# ----------------------------------------------------------------- MNIST ---


def test_mnist_maf_pickle_keeps_stored_splits_as_levels(tmp_path, rng):
  splits = mnist_splits(rng)
  image_files.write_maf_mnist(tmp_path, splits)
  data = datasets.load_dataset("MNIST", data_dir=tmp_path)
  assert_image_data(data, "mnist", (12, 4, 5), (28, 28, 1), 256, 1e-6)
  for name in ("train", "val", "test"):
    np.testing.assert_array_equal(getattr(data, name), flat(splits[name]))
  assert data.train.max() == 255 and data.train.min() == 0
  np.testing.assert_array_equal(data.to_images(data.test)[..., 0],
                                splits["test"])


def test_mnist_pickle_written_by_python3_also_loads(tmp_path, rng):
  splits = mnist_splits(rng, (6, 2, 3))
  image_files.write_maf_mnist(tmp_path, splits, python2=False)
  data = datasets.load_dataset("mnist", data_dir=tmp_path)
  np.testing.assert_array_equal(data.val, flat(splits["val"]))


def test_mnist_pickle_with_other_pixel_scale_is_rejected(tmp_path, rng):
  path = image_files.write_maf_mnist(tmp_path, mnist_splits(rng),
                                     pixel_divisor=255.)
  with pytest.raises(ValueError, match="k/256") as error:
    datasets.load_dataset("mnist", data_dir=tmp_path)
  assert path in str(error.value)


def test_mnist_pickle_wrong_columns_nan_and_structure(tmp_path, rng):
  splits = mnist_splits(rng)
  content = [(splits[name].reshape(len(splits[name]), -1) / 256.,
              np.zeros(len(splits[name]))) for name in ("train", "val", "test")]
  bad_columns = list(content)
  bad_columns[1] = (content[1][0][:, :783], content[1][1])
  image_files.write_gzip_pickle(tmp_path, "mnist/mnist.pkl.gz",
                                tuple(bad_columns))
  with pytest.raises(ValueError,
                     match=r"784 columns \(28x28 pixels\), got shape \(4, 783\)"):
    datasets.load_dataset("mnist", data_dir=tmp_path)
  with_nan = [(images.copy(), labels) for images, labels in content]
  with_nan[2][0][[0, 3], 5] = np.nan
  image_files.write_gzip_pickle(tmp_path, "mnist/mnist.pkl.gz",
                                tuple(with_nan))
  with pytest.raises(ValueError, match="2 of 5 rows contain NaN"):
    datasets.load_dataset("mnist", data_dir=tmp_path)
  image_files.write_gzip_pickle(tmp_path, "mnist/mnist.pkl.gz",
                                {"train": content[0]})
  with pytest.raises(ValueError, match=r"\(train, val, test\)"):
    datasets.load_dataset("mnist", data_dir=tmp_path)


def test_mnist_truncated_and_garbled_pickles(tmp_path, rng):
  path = image_files.write_maf_mnist(tmp_path, mnist_splits(rng))
  with open(path, "rb") as stream:
    content = stream.read()
  with open(path, "wb") as stream:
    stream.write(content[:len(content) // 2])
  with pytest.raises(ValueError, match="truncated or corrupted") as error:
    datasets.load_dataset("mnist", data_dir=tmp_path)
  assert path in str(error.value)
  with open(path, "wb") as stream:
    stream.write(b"<html>404 not found</html>")
  with pytest.raises(ValueError, match="not a readable pickle"):
    datasets.load_dataset("mnist", data_dir=tmp_path)


def test_mnist_idx_files_rebuild_the_pickle_split(tmp_path, rng):
  train = image_files.random_images(rng, 18, (28, 28))
  test = image_files.random_images(rng, 5, (28, 28))
  image_files.write_mnist_idx(tmp_path, train, test)
  data = datasets.load_dataset("mnist", data_dir=tmp_path)
  # 18 official training images: the last 18 // 6 = 3 validate (60,000 ->
  # 50,000 / 10,000 on the real files).
  assert_image_data(data, "mnist", (15, 3, 5), (28, 28, 1), 256, 1e-6)
  np.testing.assert_array_equal(data.train, flat(train[:15]))
  np.testing.assert_array_equal(data.val, flat(train[15:]))
  np.testing.assert_array_equal(data.test, flat(test))


def test_mnist_keras_npz(tmp_path, rng):
  train = image_files.random_images(rng, 12, (28, 28))
  test = image_files.random_images(rng, 4, (28, 28))
  image_files.write_mnist_npz(tmp_path, train, test)
  data = datasets.load_dataset("mnist", data_dir=tmp_path)
  assert_image_data(data, "mnist", (10, 2, 4), (28, 28, 1), 256, 1e-6)
  np.testing.assert_array_equal(data.val, flat(train[10:]))


def test_mnist_prefers_the_maf_pickle(tmp_path, rng):
  splits = mnist_splits(rng)
  image_files.write_maf_mnist(tmp_path, splits)
  image_files.write_mnist_idx(tmp_path, image_files.random_images(rng, 12, (28, 28)),
                              image_files.random_images(rng, 5, (28, 28)))
  data = datasets.load_dataset("mnist", data_dir=tmp_path)
  np.testing.assert_array_equal(data.train, flat(splits["train"]))


def test_mnist_bad_idx_files(tmp_path, rng):
  train = image_files.random_images(rng, 12, (28, 28))
  test = image_files.random_images(rng, 4, (28, 28))
  train_path, _ = image_files.write_mnist_idx(tmp_path, train, test)
  # A label file where the images should be.
  image_files.write_gzip(tmp_path, "mnist/train-images-idx3-ubyte.gz",
                         image_files.idx_bytes(np.zeros(12, np.uint8),
                                               image_files.IDX_LABELS_MAGIC))
  with pytest.raises(ValueError, match="0x00000801; expected 0x00000803"):
    datasets.load_dataset("mnist", data_dir=tmp_path)
  # Header promises 12 images, the data stops after 11.5.
  content = image_files.idx_bytes(train, image_files.IDX_IMAGES_MAGIC)
  image_files.write_gzip(tmp_path, "mnist/train-images-idx3-ubyte.gz",
                         content[:-392])
  with pytest.raises(ValueError, match="truncated") as error:
    datasets.load_dataset("mnist", data_dir=tmp_path)
  assert train_path in str(error.value)
  # 27 rows per image.
  image_files.write_gzip(tmp_path, "mnist/train-images-idx3-ubyte.gz",
                         image_files.idx_bytes(train[:, :27],
                                               image_files.IDX_IMAGES_MAGIC))
  with pytest.raises(ValueError, match=r"\[N, 28, 28\], got \[12, 27, 28\]"):
    datasets.load_dataset("mnist", data_dir=tmp_path)
  # A gzip stream cut short.
  with open(train_path, "wb") as stream:
    stream.write(gzip.compress(content)[:200])
  with pytest.raises(ValueError, match="not a readable gzip file"):
    datasets.load_dataset("mnist", data_dir=tmp_path)


def test_mnist_too_few_idx_images_leave_validation_empty(tmp_path, rng):
  image_files.write_mnist_idx(tmp_path, image_files.random_images(rng, 5, (28, 28)),
                              image_files.random_images(rng, 3, (28, 28)))
  with pytest.raises(ValueError, match="empty"):
    datasets.load_dataset("mnist", data_dir=tmp_path)


def test_mnist_missing_files_explain_every_layout(tmp_path, rng):
  (tmp_path / "mnist").mkdir()
  image_files.write_gzip(tmp_path, "mnist/train-images-idx3-ubyte.gz",
                         image_files.idx_bytes(image_files.random_images(
                             rng, 6, (28, 28)), image_files.IDX_IMAGES_MAGIC))
  with pytest.raises(FileNotFoundError) as error:
    datasets.load_dataset("mnist", data_dir=tmp_path)
  message = str(error.value)
  assert str(tmp_path / "mnist" / "mnist.pkl.gz") in message
  assert "mnist/t10k-images-idx3-ubyte.gz   (missing)" in message
  assert "mnist/train-images-idx3-ubyte.gz\n" in message
  for hint in ("1161203", "data.tar.gz", "--force", "mnist.npz"):
    assert hint in message


# -------------------------------------------------------------- CIFAR-10 ---


def reference_flip_planar(rows):
  """The reference's `_flip_augmentation` on planar R|G|B rows."""
  pixels = rows.shape[1] // 3
  side = int(np.sqrt(pixels))
  planes = [rows[:, k * pixels:(k + 1) * pixels].reshape(-1, side, side)
            [:, :, ::-1].reshape(-1, pixels) for k in range(3)]
  return np.vstack([rows, np.hstack(planes)])


@pytest.mark.parametrize("folder,python2", [("cifar10", True),
                                            ("cifar-10-batches-py", False)])
def test_cifar10_split_flip_and_nhwc_order(tmp_path, rng, folder, python2):
  train = image_files.random_images(rng, 20, (32, 32, 3))
  test = image_files.random_images(rng, 6, (32, 32, 3))
  image_files.write_cifar_batches(tmp_path, folder, train, test, python2)
  data = datasets.load_dataset("cifar10", data_dir=tmp_path)
  # 20 rows: int(0.9 * 20) = 18 train (+ 18 mirror images), 2 validation.
  assert_image_data(data, "cifar10", (36, 2, 6), (32, 32, 3), 256, 0.05)
  np.testing.assert_array_equal(data.train[:18], flat(train[:18]))
  np.testing.assert_array_equal(data.train[18:], flat(train[:18, :, ::-1, :]))
  np.testing.assert_array_equal(data.val, flat(train[18:]))
  np.testing.assert_array_equal(data.test, flat(test))
  # Same images as the reference's planar flip, converted to NHWC.
  planar = reference_flip_planar(image_files.nhwc_to_planar_rows(train[:18]))
  nhwc = planar.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
  np.testing.assert_array_equal(data.to_images(data.train), nhwc)


def test_cifar10_without_flips_and_layout_preference(tmp_path, rng):
  train = image_files.random_images(rng, 10, (32, 32, 3))
  test = image_files.random_images(rng, 5, (32, 32, 3))
  image_files.write_cifar_batches(tmp_path, "cifar10", train, test)
  image_files.write_cifar_batches(tmp_path, "cifar-10-batches-py",
                                  255 - train, test)
  data = cifar10.load_cifar10(tmp_path, flip_train=False)
  assert_image_data(data, "cifar10", (9, 1, 5), (32, 32, 3), 256, 0.05)
  np.testing.assert_array_equal(data.train, flat(train[:9]))


def test_cifar10_bad_batches(tmp_path, rng):
  train = image_files.random_images(rng, 10, (32, 32, 3))
  test = image_files.random_images(rng, 2, (32, 32, 3))
  paths = image_files.write_cifar_batches(tmp_path, "cifar10", train, test)
  with open(paths[2], "wb") as stream:
    stream.write(image_files.python2_pickle_bytes(
        {b"data": np.zeros((2, 3071), np.uint8), b"labels": [0, 1]}))
  with pytest.raises(ValueError, match="3072 columns") as error:
    datasets.load_dataset("cifar10", data_dir=tmp_path)
  assert paths[2] in str(error.value)
  with open(paths[2], "wb") as stream:
    stream.write(image_files.python2_pickle_bytes({b"labels": [0, 1]}))
  with pytest.raises(ValueError, match=r"'data'.*found \['labels'\]"):
    datasets.load_dataset("cifar10", data_dir=tmp_path)
  image_files.write_cifar_batches(tmp_path, "cifar10", train, test)
  with open(paths[4], "rb") as stream:
    content = stream.read()
  with open(paths[4], "wb") as stream:
    stream.write(content[:-100])
  with pytest.raises(ValueError, match="truncated or corrupted") as error:
    datasets.load_dataset("cifar10", data_dir=tmp_path)
  assert paths[4] in str(error.value)


def test_cifar10_missing_batch(tmp_path, rng):
  paths = image_files.write_cifar_batches(
      tmp_path, "cifar-10-batches-py",
      image_files.random_images(rng, 10, (32, 32, 3)),
      image_files.random_images(rng, 2, (32, 32, 3)))
  os.remove(paths[2])
  with pytest.raises(FileNotFoundError) as error:
    datasets.load_dataset("cifar10", data_dir=tmp_path)
  message = str(error.value)
  assert str(tmp_path / "cifar10" / "data_batch_1") in message
  assert "cifar-10-batches-py/data_batch_3   (missing)" in message
  for hint in ("1161203", "cifar-10-python.tar.gz"):
    assert hint in message


# ------------------------------------------------------ restricted pickle ---


@pytest.mark.parametrize("dataset,relative", [
    ("mnist", "mnist/mnist.pkl.gz"), ("cifar10", "cifar10/data_batch_1")])
def test_malicious_pickles_are_refused(tmp_path, rng, dataset, relative):
  marker = tmp_path / "pwned"
  payload = image_files.ShellCommandOnLoad(f"touch {marker}")
  if dataset == "mnist":
    image_files.write_gzip_pickle(tmp_path, relative, payload)
  else:
    image_files.write_cifar_batches(
        tmp_path, "cifar10", image_files.random_images(rng, 5, (32, 32, 3)),
        image_files.random_images(rng, 1, (32, 32, 3)))
    with open(tmp_path / relative, "wb") as stream:
      pickle.dump({"data": payload}, stream, protocol=2)
  with pytest.raises(ValueError, match=r"refusing to unpickle the global "
                                       r"posix\.system") as error:
    datasets.load_dataset(dataset, data_dir=tmp_path)
  assert str(tmp_path / relative) in str(error.value)
  assert isinstance(error.value.__cause__, safe_pickle.UnsafePickleError)
  assert not marker.exists()


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_restricted_unpickler_rebuilds_plain_values(protocol):
  value = {"images": np.arange(12, dtype=np.float32).reshape(3, 4),
           "labels": np.array([1, 2, 3]), "list": [1, 2.5, "three", b"four",
                                                  b""],
           "tuple": (None, True), "scalar": np.float64(0.25)}
  loaded = safe_pickle.restricted_load(
      io.BytesIO(pickle.dumps(value, protocol=protocol)), "memory")
  assert loaded.keys() == value.keys()
  np.testing.assert_array_equal(loaded["images"], value["images"])
  assert loaded["images"].dtype == np.float32
  np.testing.assert_array_equal(loaded["labels"], value["labels"])
  assert loaded["list"] == value["list"]
  assert loaded["tuple"] == value["tuple"]
  assert loaded["scalar"] == 0.25


@pytest.mark.parametrize("value", [{1, 2}, eval, os.getcwd])
def test_restricted_unpickler_refuses_other_globals(value):
  with pytest.raises(ValueError, match="refusing to unpickle the global"):
    safe_pickle.restricted_load(io.BytesIO(pickle.dumps(value, protocol=2)),
                                "memory")


def test_restricted_bytes_reconstruction_only_takes_latin1():
  # `_codecs.encode(text, "rot13")` would be a bytes rebuild with another codec.
  evil = b"\x80\x02c_codecs\nencode\nX\x03\x00\x00\x00abcX\x05\x00\x00\x00rot13\x86R."
  with pytest.raises(ValueError, match="only _codecs.encode"):
    safe_pickle.restricted_load(io.BytesIO(evil), "memory")


# ---------------------------------------------------------------- digits ---


def test_digits_fixed_splits_and_seventeen_levels():
  from sklearn.datasets import load_digits
  data = datasets.load_dataset("digits")
  # 1,797 images: 179 test, then 161 of the remaining 1,618 validate.
  assert_image_data(data, "digits", (1457, 161, 179), (8, 8, 1), 17, 0.05)
  assert data.train.max() == 16
  everything = np.vstack((data.train, data.val, data.test))
  original = load_digits().data.astype(np.float32)
  # A permutation of all images: nothing lost or repeated ...
  np.testing.assert_array_equal(everything[np.lexsort(everything.T)],
                                original[np.lexsort(original.T)])
  # ... that is shuffled, and fixed: the run seed does not change it.
  assert not np.array_equal(everything, original)
  again = datasets.load_dataset("Digits", data_dir="/nonexistent", seed=5)
  for split in ("train", "val", "test"):
    np.testing.assert_array_equal(getattr(data, split), getattr(again, split))
  # NHWC with C = 1 is the image's row-major order.
  image = data.to_images(data.test[:1])[0, :, :, 0]
  row = np.flatnonzero((original == data.test[0]).all(axis=1))[0]
  np.testing.assert_array_equal(image, load_digits().images[row])


# ------------------------------------------------------------- ImageData ---


def test_image_data_checks_levels_and_shape():
  rows = np.tile(np.arange(6, dtype=np.float32), (4, 1))
  data = datasets.ImageData("toy", rows, rows, rows, image_shape=(1, 3, 2),
                            num_levels=6, alpha=0.)
  assert data.to_images(rows).shape == (4, 1, 3, 2)
  with pytest.raises(ValueError, match=r"\[0, 4\]; found range \[0, 5\]"):
    datasets.ImageData("toy", rows, rows, rows, (1, 3, 2), 5, 0.)
  half = rows.copy()
  half[2, 3] = 2.5
  with pytest.raises(ValueError, match="val holds 1 non-integer"):
    datasets.ImageData("toy", rows, half, rows, (1, 3, 2), 6, 0.)
  with pytest.raises(ValueError, match="H\\*W\\*C = D = 6"):
    datasets.ImageData("toy", rows, rows, rows, (2, 2, 2), 6, 0.)
  with pytest.raises(ValueError, match="alpha"):
    datasets.ImageData("toy", rows, rows, rows, (1, 3, 2), 6, 0.5)
  with pytest.raises(ValueError, match="num_levels"):
    datasets.ImageData("toy", rows, rows, rows, (1, 3, 2), 1, 0.)
  # Plain tabular data is unchanged.
  assert not isinstance(datasets.TabularData("t", rows, rows, rows),
                        datasets.ImageData)


def test_registry_names():
  assert datasets.IMAGE_NAMES == ("digits", "mnist", "cifar10")
  with pytest.raises(KeyError, match="bsds300, moons.*digits, mnist, cifar10"):
    datasets.load_dataset("svhn")


# ---- class labels as one-hot contexts (`fit.py --dataset mnist --conditional`) ----------
def classes(data, split):
  contexts = data.contexts[split]
  assert contexts.dtype == np.float32 and np.all(contexts.sum(axis=1) == 1)
  return contexts.argmax(axis=1)


def test_mnist_labels_become_one_hot_contexts_in_every_layout(tmp_path, rng):
  image_files.write_maf_mnist(tmp_path / "pickle", mnist_splits(rng))
  train = image_files.random_images(rng, 18, (28, 28))
  test = image_files.random_images(rng, 5, (28, 28))
  image_files.write_mnist_idx(tmp_path / "idx", train, test)
  image_files.write_mnist_npz(tmp_path / "npz", train, test)
  for layout in ("pickle", "idx", "npz"):
    data = datasets.load_dataset("mnist", data_dir=tmp_path / layout)
    assert data.conditional and data.context_shape == (10,), layout
    assert data.context_description == "one-hot digit class"
    np.testing.assert_array_equal(classes(data, "test"), np.arange(len(data.test)) % 10)
    if layout != "pickle":  # The official training labels, split like the images.
      np.testing.assert_array_equal(classes(data, "val"), np.arange(15, 18) % 10)
  os.remove(tmp_path / "idx" / "mnist" / "t10k-labels-idx1-ubyte.gz")
  assert not datasets.load_dataset("mnist", data_dir=tmp_path / "idx").conditional


def test_cifar10_labels_follow_their_images_through_the_flips(tmp_path, rng):
  train = image_files.random_images(rng, 20, (32, 32, 3))
  test = image_files.random_images(rng, 6, (32, 32, 3))
  image_files.write_cifar_batches(tmp_path, "cifar10", train, test)
  data = datasets.load_dataset("cifar10", data_dir=tmp_path)
  batch_labels = np.arange(20) % 4 % 10  # Five batches of 4: labels 0..3 in each.
  np.testing.assert_array_equal(classes(data, "train"), np.tile(batch_labels[:18], 2))
  np.testing.assert_array_equal(classes(data, "val"), batch_labels[18:])
  assert data.context_description == "one-hot CIFAR-10 class"


def test_labels_out_of_range_are_refused(tmp_path, rng):
  train = image_files.random_images(rng, 12, (28, 28))
  test = image_files.random_images(rng, 4, (28, 28))
  path = image_files.write_mnist_npz(tmp_path, train, test)
  np.savez(path, x_train=train, y_train=np.arange(12) + 5, x_test=test, y_test=np.zeros(4))
  with pytest.raises(ValueError, match="labels must be whole numbers in 0..9"):
    datasets.load_dataset("mnist", data_dir=tmp_path)
