"""Tests of `train.datasets`: the MAF benchmarks' preprocessing, errors,
`download`, and the 2-D toy sets.

Files in each real format are written small under `tmp_path`
(`tests/make_maf_files.py`); expected split sizes and values are derived
here from the reference rules (test = last int(0.1 N) rows, validation =
last int(0.1 N') of the rest), not from the loaders' code.  No network.
"""
import os
import tarfile

import numpy as np
import pytest

from tests import make_maf_files as maf_files
from train import datasets
from train.datasets import __main__ as datasets_main
from train.datasets import layout
from train.datasets import maf_archive


def assert_standardized(values, ddof, atol=2e-5):
  """Columns of `values` have mean ~0 and std ~1."""
  np.testing.assert_allclose(values.mean(axis=0), 0., atol=atol)
  np.testing.assert_allclose(values.std(axis=0, ddof=ddof), 1., atol=atol)


def assert_split_sizes(data, sizes, n_dims):
  assert [split.shape for split in (data.train, data.val, data.test)] == [
      (size, n_dims) for size in sizes]
  assert data.n_dims == n_dims
  for split in (data.train, data.val, data.test):
    assert split.dtype == np.float32


# ----------------------------------------------------------------- POWER ---


def reference_power(raw):
  """The published POWER recipe, step by step, on a copy of `[N, 8]` rows."""
  data = raw.copy()
  rng = np.random.RandomState(42)
  rng.shuffle(data)
  n = data.shape[0]
  data = np.delete(np.delete(data, 3, axis=1), 1, axis=1)
  voltage = 0.01 * rng.rand(n, 1)
  active_power = 0.001 * rng.rand(n, 1)
  meters = rng.rand(n, 3)
  data = data + np.hstack((active_power, voltage, meters, np.zeros((n, 1))))
  return data


def test_power_matches_reference_recipe(tmp_path):
  raw = maf_files.make_power_rows(np.random.default_rng(1), 1000)
  maf_files.write_power(tmp_path, raw)
  data = datasets.load_dataset("POWER", data_dir=tmp_path)
  # 1000 rows: 100 test, then 90 of the remaining 900 for validation.
  assert_split_sizes(data, (810, 90, 100), 6)
  noisy = reference_power(raw)
  fit = noisy[:900]
  expected = (noisy - fit.mean(0)) / fit.std(0)
  np.testing.assert_allclose(
      np.vstack((data.train, data.val, data.test)), expected, atol=1e-5)
  assert_standardized(np.vstack((data.train, data.val)), ddof=0)


# ------------------------------------------------------------- MINIBOONE ---


def test_miniboone_splits_in_file_order(tmp_path):
  raw = np.random.default_rng(2).gamma(2., 3., size=(500, 43))
  maf_files.write_miniboone(tmp_path, raw)
  data = datasets.load_dataset("miniboone", data_dir=tmp_path)
  assert_split_sizes(data, (405, 45, 50), 43)
  fit = raw[:450]
  expected = (raw - fit.mean(0)) / fit.std(0)
  np.testing.assert_allclose(data.train, expected[:405], atol=1e-5)
  np.testing.assert_allclose(data.val, expected[405:450], atol=1e-5)
  np.testing.assert_allclose(data.test, expected[450:], atol=1e-5)
  assert_standardized(np.vstack((data.train, data.val)), ddof=0)


# ------------------------------------------------------------------- GAS ---


def test_gas_drops_correlated_sensors_and_standardizes(tmp_path):
  frame = maf_files.make_gas_frame(np.random.default_rng(3), 600)
  maf_files.write_gas(tmp_path, frame)
  data = datasets.load_dataset("gas", data_dir=tmp_path)
  # 600 rows: 60 test, then 54 of the remaining 540 for validation.
  assert_split_sizes(data, (486, 54, 60), 8)
  kept = frame[maf_files.GAS_SENSORS[1::2]].to_numpy()
  expected = (kept - kept.mean(0)) / kept.std(0, ddof=1)
  everything = np.vstack((data.train, data.val, data.test))
  np.testing.assert_allclose(everything, expected, atol=1e-5)
  # The reference standardises over all rows (ddof=1), test included.
  assert_standardized(everything, ddof=1)


@pytest.mark.parametrize("name, relative", [("power", "power/data.npy"),
                                            ("miniboone", "miniboone/data.npy")])
def test_a_corrupted_npy_file_is_named(tmp_path, name, relative):
  path = tmp_path / relative
  path.parent.mkdir(parents=True)
  path.write_bytes(b"\x93NUMPY\x7a\x54garbage")
  with pytest.raises(ValueError, match="not a readable .npy array") as error:
    datasets.load_dataset(name, data_dir=tmp_path)
  assert str(path) in str(error.value)


def test_gas_requires_time_meth_eth(tmp_path):
  frame = maf_files.make_gas_frame(np.random.default_rng(4), 100)
  maf_files.write_gas(tmp_path, frame.drop(columns="Meth"))
  with pytest.raises(ValueError, match="Meth"):
    datasets.load_dataset("gas", data_dir=tmp_path)


def test_gas_unreadable_pickle_is_explained(tmp_path):
  path = tmp_path / "gas" / "ethylene_CO.pickle"
  path.parent.mkdir()
  path.write_bytes(b"not a pickle")
  with pytest.raises(ValueError, match="could not unpickle") as error:
    datasets.load_dataset("gas", data_dir=tmp_path)
  assert str(path) in str(error.value)


class _CreatesAFile:
  """A pickle payload: unpickling it with plain pickle would create `path`."""

  def __init__(self, path):
    self.path = str(path)

  def __reduce__(self):
    return (open, (self.path, "w"))


class _FrameWithPayload:
  """A DataFrame-looking pickle whose block manager carries the payload."""

  def __init__(self, path):
    self.path = path

  def __reduce__(self):
    import pandas as pd
    return (pd.DataFrame, (), {"_mgr": _CreatesAFile(self.path)})


@pytest.mark.parametrize("payload", [_CreatesAFile, _FrameWithPayload])
def test_gas_pickle_that_would_run_code_is_refused_before_it_runs(tmp_path, payload):
  import pickle
  marker = tmp_path / "PWNED"
  path = tmp_path / "gas" / "ethylene_CO.pickle"
  path.parent.mkdir()
  path.write_bytes(pickle.dumps(payload(marker), protocol=2))
  with pytest.raises(ValueError, match="refusing to unpickle the global") as error:
    datasets.load_dataset("gas", data_dir=tmp_path)
  assert str(path) in str(error.value)
  assert not marker.exists()


def test_gas_pickles_of_current_pandas_load_in_the_restricted_unpickler(tmp_path):
  """String, integer and range indexes and mixed column types all rebuild."""
  import pandas as pd
  frame = maf_files.make_gas_frame(np.random.default_rng(6), 50)
  frame["Count"] = np.arange(50)
  frame.index = pd.Index(np.arange(100, 150))
  maf_files.write_gas(tmp_path, frame)
  from train.datasets import gas
  loaded = gas.read_gas_pickle(str(tmp_path / "gas" / "ethylene_CO.pickle"))
  pd.testing.assert_frame_equal(loaded, frame)


# --------------------------------------------------------------- HEPMASS ---


def test_hepmass_signal_rows_header_quirk_and_discrete_features(tmp_path):
  rng = np.random.default_rng(5)
  train_path, test_path = maf_files.write_hepmass(
      tmp_path, maf_files.make_hepmass_rows(rng, 300, 100),
      maf_files.make_hepmass_rows(rng, 150, 50))
  data = datasets.load_dataset("hepmass", data_dir=tmp_path)
  # 300 signal train rows: the last 30 validate; 150 signal test rows;
  # 27 features minus the 6 whose smallest value repeats.
  assert_split_sizes(data, (270, 30, 150), 21)

  train = np.loadtxt(train_path, delimiter=",", skiprows=1)
  test = np.loadtxt(test_path, delimiter=",", skiprows=1)
  train, test = train[train[:, 0] == 1, 1:], test[test[:, 0] == 1, 1:]
  kept = [i for i in range(27) if i not in maf_files.HEPMASS_DISCRETE]
  assert maf_files.HEPMASS_REPEATED_MAX in kept
  mean, std = train.mean(0), train.std(0, ddof=1)
  expected_train = ((train - mean) / std)[:, kept]
  np.testing.assert_allclose(np.vstack((data.train, data.val)), expected_train,
                             atol=1e-5)
  np.testing.assert_allclose(data.test, ((test - mean) / std)[:, kept],
                             atol=1e-5)
  assert_standardized(np.vstack((data.train, data.val)), ddof=1)


def test_hepmass_wrong_column_counts(tmp_path):
  rng = np.random.default_rng(6)
  rows = maf_files.make_hepmass_rows(rng, 30, 10)
  maf_files.write_hepmass(tmp_path, rows[:, :20], rows)
  with pytest.raises(ValueError, match="expected 28 columns"):
    datasets.load_dataset("hepmass", data_dir=tmp_path)
  maf_files.write_hepmass(tmp_path, rows, rows, test_header_quirk=False)
  with pytest.raises(ValueError, match="1000_test.csv: expected 29 columns"):
    datasets.load_dataset("hepmass", data_dir=tmp_path)


# --------------------------------------------------------------- BSDS300 ---


def test_bsds300_uses_stored_splits(tmp_path):
  rng = np.random.default_rng(7)
  stored = {key: rng.normal(size=(num, 63)) for key, num in
            (("train", 50), ("validation", 10), ("test", 20))}
  maf_files.write_bsds300(tmp_path, stored)
  data = datasets.load_dataset("bsds300", data_dir=tmp_path)
  assert_split_sizes(data, (50, 10, 20), 63)
  np.testing.assert_array_equal(data.val,
                                stored["validation"].astype(np.float32))
  del stored["validation"]
  maf_files.write_bsds300(tmp_path, stored)
  with pytest.raises(ValueError, match="validation"):
    datasets.load_dataset("bsds300", data_dir=tmp_path)


# ---------------------------------------------------------- bad data -------


@pytest.mark.parametrize("name", datasets.TABULAR_NAMES)
def test_missing_file_names_path_and_source(tmp_path, name):
  with pytest.raises(FileNotFoundError) as error:
    datasets.load_dataset(name, data_dir=tmp_path)
  message = str(error.value)
  first_file = {"power": "power/data.npy", "gas": "gas/ethylene_CO.pickle",
                "hepmass": "hepmass/1000_train.csv",
                "miniboone": "miniboone/data.npy",
                "bsds300": "BSDS300/BSDS300.hdf5"}[name]
  assert str(tmp_path / first_file) in message
  for hint in ("1161203", "data.tar.gz", "--download",
               "hepmass/1000_test.csv"):
    assert hint in message


def test_nan_rows_are_counted(tmp_path):
  raw = maf_files.make_power_rows(np.random.default_rng(8), 300)
  raw[[4, 50, 51], 2] = np.nan
  raw[7, 0] = np.inf
  path = maf_files.write_power(tmp_path, raw)
  with pytest.raises(ValueError, match="4 of 300 rows") as error:
    datasets.load_dataset("power", data_dir=tmp_path)
  assert path in str(error.value)


def test_wrong_power_columns(tmp_path):
  maf_files.write_power(tmp_path, np.ones((100, 7)))
  with pytest.raises(ValueError, match="8 columns"):
    datasets.load_dataset("power", data_dir=tmp_path)


def test_too_few_rows_leave_an_empty_split(tmp_path):
  # int(0.1 * 9) == 0: the reference's data[-0:] would silently put every row
  # in the test set and none in train.
  rows = np.random.default_rng(9).normal(size=(9, 43))
  maf_files.write_miniboone(tmp_path, rows)
  with pytest.raises(ValueError, match="empty"):
    datasets.load_dataset("miniboone", data_dir=tmp_path)


def test_constant_column_cannot_normalise(tmp_path):
  raw = np.random.default_rng(10).normal(size=(100, 43))
  raw[:, 7] = 3.
  maf_files.write_miniboone(tmp_path, raw)
  with pytest.raises(ValueError, match="NaN or infinite"):
    datasets.load_dataset("miniboone", data_dir=tmp_path)


# -------------------------------------------------------------- download ---


@pytest.fixture
def maf_tarball(tmp_path):
  """`(source_dir, data.tar.gz)`: small benchmark files packed under data/."""
  source = tmp_path / "source"
  maf_files.write_archive_layout(source)
  tarball = tmp_path / "data.tar.gz"
  with tarfile.open(tarball, "w:gz") as archive:
    archive.add(source, arcname="data")
  return source, tarball


def test_download_unpacks_local_archive_into_layout(tmp_path, maf_tarball,
                                                    capsys):
  source, tarball = maf_tarball
  root = datasets.download(tmp_path / "dl", url=tarball.as_uri(),
                           md5=maf_archive.file_md5(str(tarball)).upper())
  assert root == str(tmp_path / "dl")
  assert "Downloading" in capsys.readouterr().err
  assert maf_archive.missing_files(root) == []
  assert not [name for name in os.listdir(root) if name.startswith(".download")]
  for name in datasets.TABULAR_NAMES:
    from_download = datasets.load_dataset(name, data_dir=root)
    from_source = datasets.load_dataset(name, data_dir=source)
    np.testing.assert_array_equal(from_download.test, from_source.test)
  # Present files are not fetched again.
  assert datasets.download(root, url=(tmp_path / "absent.tar.gz").as_uri(),
                           progress=False) == root


def test_download_command_line(tmp_path, maf_tarball, capsys):
  destination = tmp_path / "cli"
  datasets_main.main(["--data-dir", str(destination),
                      "--url", maf_tarball[1].as_uri(), "--md5", "none"])
  assert capsys.readouterr().out.strip() == str(destination)
  assert maf_archive.missing_files(str(destination)) == []


def test_download_rejects_members_escaping_the_directory(tmp_path, maf_tarball):
  source, tarball = maf_tarball
  evil = tmp_path / "evil.txt"
  evil.write_text("outside")
  with tarfile.open(tarball, "w:gz") as archive:
    archive.add(source, arcname="data")
    archive.add(evil, arcname="data/../../evil.txt")
  destination = tmp_path / "dl" / "inner"
  with pytest.raises(ValueError, match="evil.txt"):
    datasets.download(destination, url=tarball.as_uri(), progress=False, md5=None)
  assert os.listdir(destination) == []


def test_download_rejects_links(tmp_path):
  tarball = tmp_path / "data.tar.gz"
  link = tarfile.TarInfo("data/power/data.npy")
  link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
  with tarfile.open(tarball, "w:gz") as archive:
    archive.addfile(link)
  with pytest.raises(ValueError, match="only regular files"):
    datasets.download(tmp_path / "dl", url=tarball.as_uri(), progress=False, md5=None)


def test_download_rejects_non_gzip(tmp_path):
  not_gzip = tmp_path / "data.tar.gz"
  not_gzip.write_text("<html>rate limited</html>")
  with pytest.raises(ValueError, match="not a gzip file"):
    datasets.download(tmp_path / "dl", url=not_gzip.as_uri(), progress=False, md5=None)


def test_download_refuses_an_archive_with_another_checksum(tmp_path, maf_tarball):
  """The default checks Zenodo's published MD5: a tampered archive is not unpacked."""
  destination = tmp_path / "dl"
  with pytest.raises(ValueError, match="MD5 is [0-9a-f]{32}, not the published "
                     + layout.ARCHIVE_MD5):
    datasets.download(destination, url=maf_tarball[1].as_uri(), progress=False)
  assert os.listdir(destination) == []


# ------------------------------------------------------------------- toys ---


@pytest.mark.parametrize("name", datasets.TOY_NAMES)
def test_toy_sets_shapes_determinism_finiteness(name):
  sizes = (300, 40, 50)
  data = datasets.load_dataset(name.upper(), seed=3, split_sizes=sizes)
  assert data.name == name
  assert_split_sizes(data, sizes, 2)
  again = datasets.load_dataset(name, seed=3, split_sizes=sizes)
  other = datasets.load_dataset(name, seed=4, split_sizes=sizes)
  for split in ("train", "val", "test"):
    values = getattr(data, split)
    assert np.isfinite(values).all()
    np.testing.assert_array_equal(values, getattr(again, split))
    assert not np.array_equal(values, getattr(other, split))
  # FFJORD scale: spread over a few units, within a few units of the origin.
  assert 0.5 < data.train.std() < 3.
  assert np.abs(data.train).max() < 6.


def test_toy_default_sizes_and_argument_checks(tmp_path):
  data = datasets.load_dataset("moons", data_dir=tmp_path / "ignored")
  assert_split_sizes(data, (50_000, 5_000, 5_000), 2)
  with pytest.raises(ValueError, match="split_sizes"):
    datasets.load_dataset("moons", split_sizes=(10, 0, 10))
  with pytest.raises(KeyError, match="moons"):
    datasets.load_dataset("swissroll")
