"""Tests of `train.datasets.user_files`: a user's own table file or image folder.

Every file is written small under `tmp_path` by the test itself; no network.
Bad input must raise one line that names the file (and the line or value at
fault).
"""
import os
import sys

import h5py
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from train.datasets import user_files

TABLE = np.array([[1., 2., 0.5], [3., 5., 1.5], [4., 7., 2.5], [6., 1., 3.5]])


def write(path, content):
  """Writes text (UTF-8) or bytes to `path` and returns it as a str."""
  path = os.fspath(path)
  with open(path, "wb") as stream:
    stream.write(content.encode() if isinstance(content, str) else content)
  return path


def delimited(values, delimiter=",", header=("a", "b", "c"), newline="\n"):
  lines = ([delimiter.join(header)] if header else []) + [
      delimiter.join(f"{value:g}" for value in row) for row in values]
  return newline.join(lines) + newline


def save_image(folder, name, mode="L", size=(4, 4), color=0, **save_args):
  os.makedirs(folder, exist_ok=True)
  Image.new(mode, size, color).save(os.path.join(folder, name), **save_args)


def error_of(exception, pattern, call, *args, **kwargs):
  """The message of `exception` raised by `call`: one line matching `pattern`."""
  with pytest.raises(exception, match=pattern) as info:
    call(*args, **kwargs)
  message = str(info.value)
  assert "\n" not in message
  return message


# ---------------------------------------------------------------- tables

def test_csv_gives_float64_named_columns_and_file_lines(tmp_path):
  path = write(tmp_path / "data.csv", delimited(TABLE))
  table = user_files.read_table(path)
  assert table.source == path
  assert table.columns == ("a", "b", "c")
  assert table.x.dtype == np.float64 and table.x.shape == (4, 3)
  np.testing.assert_array_equal(table.x, TABLE)
  assert table.context is None and table.context_columns == ()
  assert table.split is None and table.dropped_lines == ()
  np.testing.assert_array_equal(table.line_numbers, [2, 3, 4, 5])


@pytest.mark.parametrize("name, content", [
    ("data.tsv", delimited(TABLE, "\t")),
    ("data.tab", delimited(TABLE, "\t")),
    ("data.txt", delimited(TABLE, "  ")),
    ("data.txt", delimited(TABLE, ",")),
    ("data.txt", delimited(TABLE, ";")),
    ("DATA.CSV", delimited(TABLE)),
])
def test_text_formats(tmp_path, name, content):
  table = user_files.read_table(write(tmp_path / name, content))
  assert table.columns == ("a", "b", "c")
  np.testing.assert_array_equal(table.x, TABLE)


def test_bom_crlf_blank_lines_and_quotes_just_work(tmp_path):
  content = ('\ufeff"a","b","c"\r\n\r\n1,2,0.5\r\n"3",5,1.5\r\n   \r\n'
             '4,7,2.5\r\n6,1,3.5\r\n\r\n\r\n')
  table = user_files.read_table(write(tmp_path / "data.csv", content))
  assert table.columns == ("a", "b", "c")
  np.testing.assert_array_equal(table.x, TABLE)
  np.testing.assert_array_equal(table.line_numbers, [3, 4, 6, 7])


def test_line_numbers_follow_quoted_fields_that_span_lines(tmp_path):
  content = 'a,note,b\n1,"two\nlines",2\n3,plain,5\n4,"x\n\ny",7\n6,z,1\n'
  table = user_files.read_table(write(tmp_path / "data.csv", content),
                                columns=["a", "b"])
  np.testing.assert_array_equal(table.x, TABLE[:, :2])
  np.testing.assert_array_equal(table.line_numbers, [2, 4, 5, 8])


def test_bare_carriage_returns_end_lines(tmp_path):
  table = user_files.read_table(write(tmp_path / "data.csv",
                                      delimited(TABLE, newline="\r")))
  np.testing.assert_array_equal(table.x, TABLE)
  np.testing.assert_array_equal(table.line_numbers, [2, 3, 4, 5])


def test_headerless_text_names_columns_by_index(tmp_path):
  path = write(tmp_path / "data.txt", "\n" + delimited(TABLE, " ", header=None))
  table = user_files.read_table(path, columns=["0", "2"])
  assert table.columns == ("0", "2")
  np.testing.assert_array_equal(table.x, TABLE[:, [0, 2]])
  np.testing.assert_array_equal(table.line_numbers, [2, 3, 4, 5])


def test_columns_by_name_or_index_with_context_and_split(tmp_path):
  content = ("a,b,c,part\n1,2,0.5,Train\n3,5,1.5,validation\n"
             "4,7,2.5, TEST\n6,1,3.5,val\n")
  path = write(tmp_path / "data.csv", content)
  table = user_files.read_table(path, columns=["2", "a"], context_columns=["b"],
                                split_column="part")
  assert table.columns == ("c", "a") and table.context_columns == ("b",)
  np.testing.assert_array_equal(table.x, TABLE[:, [2, 0]])
  np.testing.assert_array_equal(table.context, TABLE[:, [1]])
  assert table.context.dtype == np.float64
  assert table.split.tolist() == ["train", "val", "test", "val"]
  default = user_files.read_table(path, context_columns=["1"], split_column="3")
  assert default.columns == ("a", "c")


def test_drop_nonfinite_drops_and_reports_lines(tmp_path):
  content = "a,b,s\n1,2,train\n3,,val\n4,7,test\nnan,1,train\n5,inf,val\n6,1,test\n"
  table = user_files.read_table(write(tmp_path / "data.csv", content),
                                columns=["a"], context_columns=["b"],
                                split_column="s", drop_nonfinite=True)
  assert table.dropped_lines == (3, 5, 6)
  np.testing.assert_array_equal(table.line_numbers, [2, 4, 7])
  np.testing.assert_array_equal(table.x[:, 0], [1, 4, 6])
  np.testing.assert_array_equal(table.context[:, 0], [2, 7, 1])
  assert table.split.tolist() == ["train", "test", "test"]


def test_numpy_and_hdf5_arrays(tmp_path):
  npy = os.fspath(tmp_path / "data.npy")
  np.save(npy, TABLE.astype(np.float32))
  table = user_files.read_table(npy)
  assert table.columns == ("0", "1", "2") and table.x.dtype == np.float64
  np.testing.assert_array_equal(table.x, TABLE)
  np.testing.assert_array_equal(table.line_numbers, [0, 1, 2, 3])

  np.save(npy, np.arange(4, dtype=np.int16))
  assert user_files.read_table(npy).x.tolist() == [[0.], [1.], [2.], [3.]]

  npz = os.fspath(tmp_path / "data.npz")
  np.savez(npz, only=TABLE)
  table = user_files.read_table(npz, columns=["1"], context_columns=["0"])
  assert table.source == npz + ":only"
  np.testing.assert_array_equal(table.x, TABLE[:, [1]])
  np.savez(npz, x=TABLE, y=TABLE[:, :1])
  assert user_files.read_table(npz + ":x").source == npz + ":x"

  h5 = os.fspath(tmp_path / "data.h5")
  with h5py.File(h5, "w") as file:
    file["group/values"] = TABLE
  assert user_files.read_table(h5).source == h5 + ":/group/values"
  with h5py.File(h5, "a") as file:
    file["other"] = TABLE[:, 0]
  for spec in (h5 + ":/group/values", h5 + ":group/values"):
    np.testing.assert_array_equal(user_files.read_table(spec).x, TABLE)
  np.testing.assert_array_equal(user_files.read_table(h5 + ":/other").x, TABLE[:, :1])


def test_structured_array_fields_are_named_columns(tmp_path):
  records = np.array([(1, 2., b"w"), (3, 5., b"x"), (4, 7., b"y")],
                     dtype=[("count", np.int32), ("size", np.float64), ("id", "S1")])
  path = os.fspath(tmp_path / "records.npy")
  np.save(path, records)
  table = user_files.read_table(path, columns=["count", "size"])
  assert table.columns == ("count", "size")
  np.testing.assert_array_equal(table.x, TABLE[:3, :2])


def test_a_path_with_a_colon_is_taken_literally(tmp_path):
  path = write(tmp_path / "run:2.csv", delimited(TABLE))
  assert user_files.read_table(path).source == path


def test_read_frame_takes_a_data_frame_or_an_array():
  frame = pd.DataFrame(TABLE, columns=["a", "b", "c"]).assign(
      part=["train", "val", "test", "TEST"])
  table = user_files.read_frame(frame, "mine", context_columns=["c"],
                                split_column="part")
  assert table.source == "mine" and table.columns == ("a", "b")
  np.testing.assert_array_equal(table.x, TABLE[:, :2])
  np.testing.assert_array_equal(table.context, TABLE[:, 2:])
  assert table.split.tolist() == ["train", "val", "test", "test"]
  np.testing.assert_array_equal(table.line_numbers, [0, 1, 2, 3])
  table = user_files.read_frame(TABLE.astype(np.float32), columns=["2"])
  assert table.source == "table" and table.columns == ("2",)
  np.testing.assert_array_equal(table.x, TABLE[:, 2:])
  frame.loc[2, "b"] = None
  error_of(ValueError, r"mine: 1 row holds NaN, infinite or missing values \(row 2\)",
           user_files.read_frame, frame, "mine", columns=["a", "b"])
  error_of(ValueError, r"mine: a 3-D array of shape \(4, 1, 1\)",
           user_files.as_frame, TABLE[:, :1, None], "mine")
  assert user_files.as_frame(frame) is frame
  assert list(user_files.as_frame(np.zeros(3)).columns) == ["0"]


def test_supported_formats_is_a_help_text():
  assert isinstance(user_files.SUPPORTED_FORMATS, str)
  for extension in user_files.TABLE_EXTENSIONS:
    assert extension in user_files.SUPPORTED_FORMATS


def test_integer_columns():
  values = np.array([[1., 0.5, -3., 2.], [2., 1., 4., np.nan], [7., 2., 0., 1.]])
  assert user_files.integer_columns(values).tolist() == [True, False, True, False]
  assert user_files.integer_columns(np.zeros([2, 3], np.uint8)).tolist() == [True] * 3
  assert user_files.integer_columns(np.array([[np.inf], [1.]])).tolist() == [False]


@pytest.mark.parametrize("extension", [".parquet", ".feather"])
def test_arrow_round_trip(tmp_path, extension):
  pytest.importorskip("pyarrow")
  frame = pd.DataFrame(TABLE, columns=["a", "b", "c"]).assign(
      part=["train", "val", "test", "train"], label=["p", "q", "r", "s"])
  path = os.fspath(tmp_path / f"data{extension}")
  getattr(frame, "to_" + extension[1:])(path)
  table = user_files.read_table(path, columns=["a", "c"], context_columns=["b"],
                                split_column="part")
  np.testing.assert_array_equal(table.x, TABLE[:, [0, 2]])
  np.testing.assert_array_equal(table.context, TABLE[:, [1]])
  assert table.split.tolist() == ["train", "val", "test", "train"]
  np.testing.assert_array_equal(table.line_numbers, [0, 1, 2, 3])


@pytest.mark.parametrize("extension, kind", [(".parquet", "Parquet"),
                                             (".feather", "Feather")])
def test_arrow_without_pyarrow_names_the_extra(tmp_path, monkeypatch, extension, kind):
  monkeypatch.setitem(sys.modules, "pyarrow", None)  # `import pyarrow` fails.
  path = write(tmp_path / f"data{extension}", b"PAR1 not really")
  message = error_of(user_files.MissingDependencyError, "needs pyarrow",
                     user_files.read_table, path)
  assert message == (f'{path}: reading {kind} needs pyarrow; pip install '
                     f'"tfp_ldu[parquet]"')
  assert issubclass(user_files.MissingDependencyError, ImportError)
  assert issubclass(user_files.MissingDependencyError, ValueError)


# ---------------------------------------------------------------- bad tables

def _text(name, content):
  return lambda folder: write(folder / name, content)


def _array(name, array, **saved):
  def make(folder):
    path = os.fspath(folder / name)
    if name.endswith(".npz"):
      np.savez(path, **saved)
    else:
      np.save(path, array, allow_pickle=array.dtype.hasobject)
    return path
  return make


def _hdf5(suffix=""):
  def make(folder):
    path = os.fspath(folder / "data.h5")
    with h5py.File(path, "w") as file:
      file["group/x"] = TABLE
      file["cube"] = np.zeros([3, 2, 2])
    return path + suffix
  return make


def _truncated_npy(folder):
  path = os.fspath(folder / "data.npy")
  np.save(path, TABLE)
  with open(path, "rb") as stream:
    content = stream.read()
  return write(path, content[:-20])


def _truncated_npz(folder):
  path = os.fspath(folder / "data.npz")
  np.savez(path, x=TABLE)
  with open(path, "rb") as stream:
    content = stream.read()
  return write(path, content[:len(content) // 2])


def _many_nan_rows():
  rows = "".join(f"{i},{'nan' if i % 2 else i}\n" for i in range(30))
  return "a,b\n" + rows


OK = delimited(TABLE)
BAD_TABLES = {
    # name: (make the file (returns the spec), read_table kwargs, error, pattern)
    "missing file": (lambda folder: os.fspath(folder / "nope.csv"), {},
                     FileNotFoundError, r"nope\.csv: no such file"),
    "missing file with a key": (lambda folder: os.fspath(folder / "nope.h5") + ":/x",
                                {}, FileNotFoundError, r"nope\.h5:/x: no such file"),
    "directory": (lambda folder: os.fspath(folder), {}, ValueError,
                  "is a folder; read_table reads one table file"),
    "unknown extension": (_text("data.xlsx", "x"), {}, ValueError,
                          r"unknown file type '\.xlsx'; supported: \.csv, \.tsv"),
    "no extension": (_text("data", "x"), {}, ValueError, "no file extension"),
    "empty file": (_text("data.csv", ""), {}, ValueError,
                   r"the file is empty \(0 bytes\)"),
    "empty npy": (_text("data.npy", b""), {}, ValueError, "the file is empty"),
    "blank lines only": (_text("data.csv", "\n  \r\n\n"), {}, ValueError,
                         "holds only blank lines"),
    "header only": (_text("data.csv", "a,b,c\r\n\r\n"), {}, ValueError,
                    "has a header line but no data rows"),
    "not numeric": (_text("data.csv", "a,b\n1,2\n3,4\n5,abc\n7,x\n"), {}, ValueError,
                    r"""data\.csv: column "b" is not numeric: line 4 holds 'abc'; """
                    r"""choose the columns with --columns"""),
    "context not numeric": (_text("data.csv", "a,b\n1,2\n3,4\n5,1e\n"),
                            {"columns": ["a"], "context_columns": ["b"]}, ValueError,
                            r"""column "b" is not numeric: line 4 holds '1e'; choose """
                            r"""the columns with --context-columns"""),
    "nan, inf and empty": (_text("data.csv", "a,b\n1,2\n3,\n4,5\n-inf,6\n7,8\n"), {},
                           ValueError,
                           r"data\.csv: 2 rows hold NaN, infinite or empty values "
                           r"\(lines 3, 5\); fix them or pass --drop-nonfinite"),
    "one nan": (_text("data.csv", "a,b\n1,2\n3,4\nNaN,5\n6,7\n"), {}, ValueError,
                r"1 row holds NaN, infinite or empty values \(line 4\); fix it"),
    "many nans": (_text("data.csv", _many_nan_rows()), {}, ValueError,
                  r"15 rows hold .* \(lines 3, 5, 7, 9, 11, 13, 15, 17, 19, 21 and 5 "
                  r"more\)"),
    "nan in an array": (_array("data.npy", np.array([[1, 2], [np.nan, 1], [3, 4]])),
                        {}, ValueError,
                        r"1 row holds NaN or infinite values \(row 1\)"),
    "duplicate names": (_text("data.csv", "a,b,a\n1,2,3\n4,5,6\n7,8,9\n"), {},
                        ValueError, r'column name\(s\) "a" occur more than once'),
    "unnamed column": (_text("data.csv", ",a,b\n0,1,2\n1,3,4\n2,5,6\n"), {}, ValueError,
                       r"leaves column 0 \(0-based\) unnamed"),
    "constant column": (_text("data.csv", "a,b,c\n1,3,1\n2,3,1\n4,3,1\n"), {},
                        ValueError, r'columns "b", "c" are constant over all 3 rows'),
    "constant context": (_text("data.csv", "a,b\n1,3\n2,3\n4,3\n"),
                         {"context_columns": ["b"]}, ValueError,
                         r'column "b" is constant .* leave it out of '
                         r'--context-columns'),
    "unknown column": (_text("data.csv", OK), {"columns": ["a", "z"]}, ValueError,
                       r'no column "z" \(from --columns\); the columns are "a", "b", '
                       r'"c" \(or 0-based indices 0..2\)'),
    "index out of range": (_text("data.csv", OK), {"columns": ["3"]}, ValueError,
                           r'no column "3" \(from --columns\)'),
    "unknown context column": (_text("data.csv", OK), {"context_columns": ["zz"]},
                               ValueError,
                               r'no column "zz" \(from --context-columns\)'),
    "unknown split column": (_text("data.csv", OK), {"split_column": "fold"},
                             ValueError, r'no column "fold" \(from --split-column\)'),
    "modelled and context": (_text("data.csv", OK),
                             {"columns": ["a", "b"], "context_columns": ["1"]},
                             ValueError, r'column\(s\) "b" are both modelled'),
    "listed twice": (_text("data.csv", OK), {"columns": ["a", "0"]}, ValueError,
                     r'--columns lists column\(s\) "a" twice'),
    "no modelled column": (_text("data.csv", OK), {"columns": []}, ValueError,
                           "no column left to model"),
    "all columns context": (_text("data.csv", OK),
                            {"context_columns": ["a", "b", "c"]}, ValueError,
                            "no column left to model"),
    "split also modelled": (_text("data.csv", OK),
                            {"columns": ["a", "c"], "split_column": "c"}, ValueError,
                            'the split column "c" cannot also be'),
    "bad split value": (_text("data.csv", "a,s\n1,train\n2,test\n3,training\n4,val\n"),
                        {"split_column": "s"}, ValueError,
                        r"""split column "s" must hold train, val \(or """
                        r"""validation\) or test: line 4 holds 'training'"""),
    "empty split value": (_text("data.csv", "a,s\n1,train\n2,\n3,val\n"),
                          {"split_column": "s"}, ValueError, "line 3 is empty"),
    "too few rows": (_text("data.csv", "a,b\n1,2\n3,4\n"), {}, ValueError,
                     r"only 2 row\(s\); need at least 3"),
    "too few after dropping": (_text("data.csv", "a\n1\n2\nnan\ninf\n"),
                               {"drop_nonfinite": True}, ValueError,
                               r"only 2 row\(s\) after dropping 2 with NaN"),
    "more fields than names": (_text("data.csv", "a,b\n1,2,3\n4,5,6\n7,8,9\n"), {},
                               ValueError,
                               r"the rows hold more fields than the header line \(2\)"),
    "ragged rows": (_text("data.csv", "a,b\n1,2\n3,4\n5,6,7\n"), {}, ValueError,
                    r"cannot parse the file \(.*Expected 2 fields in line 4, saw 3"),
    "not utf-8": (_text("data.csv", b"a,b\n1,\xff\n"), {}, ValueError,
                  r"not UTF-8 text \(byte 0xff\)"),
    "key on a csv": (lambda folder: _text("data.csv", OK)(folder) + ":x", {},
                     ValueError, r"a ':KEY' suffix selects an array"),
    "truncated npy": (_truncated_npy, {}, ValueError,
                      r"data\.npy: not a readable \.npy array .* truncated or "
                      r"corrupted"),
    "not an npy": (_text("data.npy", "a,b\n1,2\n"), {}, ValueError,
                   "not a readable .npy array"),
    "pickled npy": (_array("data.npy", np.array([{"a": 1}, None, 3], dtype=object)), {},
                    ValueError, r"holds Python objects \(dtype object\); reading them "
                    r"would unpickle"),
    "3-D npy": (_array("data.npy", np.zeros([3, 2, 2])), {}, ValueError,
                r"a 3-D array of shape \(3, 2, 2\); a table is 1-D"),
    "string npy": (_array("data.npy", np.array([["a"], ["b"], ["c"]])), {}, ValueError,
                   "holds <U1 values, not real numbers"),
    "npz key missing": (lambda folder: _array("data.npz", None, x=TABLE, y=TABLE)(
        folder) + ":z", {}, ValueError,
                        r'data\.npz: no array "z"; the arrays are "x", "y"'),
    "npz without key": (_array("data.npz", None, x=TABLE, y=TABLE), {}, ValueError,
                        r'holds 2 arrays \("x", "y"\); name one as .*data\.npz:KEY'),
    "npz of objects": (_array("data.npz", None, x=np.array([None, 1], dtype=object)),
                       {}, ValueError, r"data\.npz:x: holds Python objects"),
    "truncated npz": (_truncated_npz, {}, ValueError, "not a readable .npz archive"),
    "h5 path missing": (_hdf5(":/group/y"), {}, ValueError,
                        r'data\.h5: no dataset "/group/y"; the datasets are "/cube", '
                        r'"/group/x"'),
    "h5 group": (_hdf5(":/group"), {}, ValueError,
                 r'"/group" is a group, not a dataset'),
    "h5 without path": (_hdf5(), {}, ValueError,
                        r"holds 2 datasets .*; name one as .*data\.h5:/PATH"),
    "3-D h5": (_hdf5(":/cube"), {}, ValueError, r"data\.h5:/cube: a 3-D array"),
    "not hdf5": (_text("data.hdf5", "a,b\n"), {}, ValueError,
                 "not a readable HDF5 file"),
}


@pytest.mark.parametrize("make, kwargs, error, pattern", BAD_TABLES.values(),
                         ids=BAD_TABLES.keys())
def test_bad_table_gets_a_one_line_error_naming_the_file(tmp_path, make, kwargs,
                                                         error, pattern):
  spec = make(tmp_path)
  message = error_of(error, pattern, user_files.read_table, spec, **kwargs)
  assert message.startswith(str(tmp_path)), message


# ---------------------------------------------------------------- images

def test_flat_folder_of_grayscale_images(tmp_path):
  for i, name in enumerate(["b.png", "a.png", "c.bmp"]):
    save_image(tmp_path, name, "L", color=10 * i)
  save_image(tmp_path, "d.PNG", "1", color=1)
  write(tmp_path / "notes.txt", "not an image")
  images = user_files.read_image_folder(os.fspath(tmp_path))
  assert images.source == os.fspath(tmp_path)
  assert images.files == ("a.png", "b.png", "c.bmp", "d.PNG")
  assert images.images.dtype == np.uint8 and images.images.shape == (4, 4, 4, 1)
  assert images.images[:, 0, 0, 0].tolist() == [10, 0, 20, 255]
  assert images.labels is None and images.class_names == ()


def test_class_subfolders_give_labels_and_modes_become_rgb(tmp_path):
  save_image(tmp_path / "dog", "1.png", "RGB", color=(1, 2, 3))
  save_image(tmp_path / "dog", "0.gif", "P")
  save_image(tmp_path / "cat", "x.jpg", "RGB", color=(200, 0, 0))
  save_image(tmp_path / "cat", "y.png", "RGBA", color=(9, 8, 7, 255))
  os.makedirs(tmp_path / "empty")
  images = user_files.read_image_folder(os.fspath(tmp_path))
  assert images.class_names == ("cat", "dog")
  assert images.files == ("cat/x.jpg", "cat/y.png", "dog/0.gif", "dog/1.png")
  assert images.labels.tolist() == [0, 0, 1, 1]
  assert images.images.shape == (4, 4, 4, 3)
  assert images.images[1, 0, 0].tolist() == [9, 8, 7]
  assert images.images[3, 0, 0].tolist() == [1, 2, 3]


def test_opaque_gray_alpha_is_dropped(tmp_path):
  for i in range(3):
    save_image(tmp_path, f"{i}.png", "LA", color=(40 * i, 255))
  images = user_files.read_image_folder(os.fspath(tmp_path))
  assert images.images[:, 0, 0, 0].tolist() == [0, 40, 80]


def _images(*specs):
  """A folder maker: each spec is (relative file, mode, size, color, save args)."""
  def make(folder):
    for file, mode, size, color, save_args in specs:
      directory, name = os.path.split(file)
      save_image(folder / directory, name, mode, size, color, **save_args)
    return os.fspath(folder)
  return make


def _image(file, mode="L", size=(4, 4), color=0, **save_args):
  return (file, mode, size, color, save_args)


def _garbled(folder):
  _images(_image("a.png"), _image("b.png"))(folder)
  write(folder / "c.png", b"\x89PNG\r\n\x1a\n" + b"garbage" * 4)
  return os.fspath(folder)


BAD_FOLDERS = {
    "missing folder": (lambda folder: os.fspath(folder / "nope"), FileNotFoundError,
                       "nope: no such folder"),
    "a file": (lambda folder: write(folder / "a.png", b"x"), ValueError,
               "a.png: not a folder"),
    "no images": (lambda folder: write(folder / "a.txt", "x") and os.fspath(folder),
                  ValueError, r"no image files \(\.png, \.jpg, \.jpeg, \.bmp, \.gif\)"),
    "mixed sizes": (_images(_image("a.png"), _image("b.png", size=(5, 4))), ValueError,
                    r"images differ in size: a\.png is 4x4 but b\.png is 5x4"),
    "mixed modes": (_images(_image("a.png"), _image("b.png", "RGB")), ValueError,
                    r"grayscale and RGB images are mixed: a\.png is grayscale but "
                    r"b\.png is RGB"),
    "translucent RGBA": (_images(_image("a.png", "RGBA", color=(1, 2, 3, 128))),
                         ValueError, r"a\.png: has transparent pixels"),
    "translucent LA": (_images(_image("a.png", "LA", color=(1, 0))), ValueError,
                       r"a\.png: has transparent pixels"),
    "transparent palette": (_images(_image("a.png", "P", transparency=0)), ValueError,
                            r"a\.png: has transparent pixels"),
    "16-bit": (_images(_image("a.png"), _image("b.png", "I;16")), ValueError,
               r'b\.png: a 16-bit image \(mode "I;16"\); only 8-bit'),
    "garbled": (_garbled, ValueError, r"c\.png: not a readable image"),
    "both levels": (_images(_image("a.png"), _image("cls/b.png")), ValueError,
                    r"images both at the top level \(a\.png\) and in subfolders "
                    r"\(cls/b\.png\)"),
    "too few": (_images(_image("a/x.png"), _image("b/y.png")), ValueError,
                r"only 2 image\(s\); need at least 3"),
}


@pytest.mark.parametrize("make, error, pattern", BAD_FOLDERS.values(),
                         ids=BAD_FOLDERS.keys())
def test_bad_image_folder_gets_a_one_line_error_naming_it(tmp_path, make, error,
                                                          pattern):
  path = make(tmp_path)
  message = error_of(error, pattern, user_files.read_image_folder, path)
  assert message.startswith(str(tmp_path)), message
