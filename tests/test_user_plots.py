"""Tests of the figures and report of a flow fitted to a user's table.

  * `train.table_plots`: the corner and marginals PNGs are written and are
    real images for D = 1, 2, 3, 8 and 9 columns, more columns than
    `max_panels` are capped (and the title says so), non-finite samples are dropped and
    counted, the wrong numbers of columns are errors, the same inputs give
    the same file (fixed subsampling seed); `choose_plot_columns`; the KDE
    integrates to 1, matches a known Gaussian, and uses Scott's bandwidth;
  * `train.report.write_report`: the numbers, figure links, units table and
    command are in report.md, and missing keys leave their parts out.
"""
import math
import os

import matplotlib.image
import numpy as np
import pytest

from train import report
from train import table_plots


def _table(rows, dims, seed=0, scale=1.):
  """`[rows, dims]` correlated Gaussian rows with different scales per column."""
  rng = np.random.default_rng(seed)
  values = rng.normal(size=(rows, dims)) * scale * (1. + np.arange(dims)) + np.arange(dims)
  values[:, 1:] += 0.5 * values[:, :1]
  return values


def _names(dims):
  return [f"column {index}" for index in range(dims)]


def _read_png(path):
  """The PNG at `path` as an `[H, W, C]` array, checked to be a real, non-blank picture."""
  assert os.path.getsize(path) > 1000
  image = matplotlib.image.imread(path)
  assert image.ndim == 3 and image.shape[0] >= 200 and image.shape[1] >= 200
  assert np.std(image[..., :3]) > 0.02  # not a blank page
  return image


@pytest.fixture
def closed_figures(monkeypatch):
  """The figures the plot functions close, in order (so their text can be read)."""
  figures = []
  close = table_plots.plt.close

  def record(figure=None):
    figures.append(figure)
    close(figure)

  monkeypatch.setattr(table_plots.plt, "close", record)
  return figures


def _texts(figure):
  """The figure's title and legend texts."""
  texts = [figure._suptitle.get_text()] if figure._suptitle else []
  for legend in figure.legends:
    texts += [text.get_text() for text in legend.get_texts()]
  return texts


# --- plot_corner -----------------------------------------------------------


def test_corner_of_three_columns_is_an_image(tmp_path):
  data, samples = _table(200, 3), _table(300, 3, seed=1, scale=1.2)
  path = str(tmp_path / "corner.png")
  table_plots.plot_corner(data, samples, _names(3), path, title="three columns")
  _read_png(path)


def test_corner_grows_with_the_number_of_columns(tmp_path):
  small, large = str(tmp_path / "two.png"), str(tmp_path / "eight.png")
  table_plots.plot_corner(_table(200, 2), _table(200, 2, seed=1), _names(2), small)
  table_plots.plot_corner(_table(200, 8), _table(200, 8, seed=1), _names(8), large)
  assert _read_png(large).shape[0] > 1.5 * _read_png(small).shape[0]


def test_corner_is_reproducible(tmp_path):
  data, samples = _table(3000, 2), _table(5000, 2, seed=1)  # both subsampled
  first, second = str(tmp_path / "first.png"), str(tmp_path / "second.png")
  for path in (first, second):
    table_plots.plot_corner(data, samples, _names(2), path, max_points=500)
  with open(first, "rb") as one, open(second, "rb") as two:
    assert one.read() == two.read()


def test_corner_drops_non_finite_samples_and_clips_far_ones(tmp_path, closed_figures):
  samples = _table(200, 3, seed=1)
  samples[:3, 0] = [np.nan, np.inf, -np.inf]
  samples[3:10] = 1e9  # far outside the view: drawn on its edge
  path = str(tmp_path / "corner.png")
  table_plots.plot_corner(_table(200, 3), samples, _names(3), path)
  _read_png(path)
  assert "model samples (3 non-finite dropped)" in _texts(closed_figures[-1])
  diagonal = closed_figures[-1].axes[0]
  assert diagonal.get_xlim()[1] < 100


@pytest.mark.parametrize("data_dims, sample_dims, num_names, message", [
    (9, 9, 9, "2 to 8 columns"),
    (1, 1, 1, "plot_marginals"),
    (3, 2, 3, "samples 2"),
    (3, 3, 2, "2 column names"),
])
def test_corner_rejects_wrong_numbers_of_columns(tmp_path, data_dims, sample_dims,
                                                 num_names, message):
  with pytest.raises(ValueError, match=message):
    table_plots.plot_corner(_table(50, data_dims), _table(50, sample_dims), _names(num_names),
                            str(tmp_path / "corner.png"))
  assert not os.path.exists(tmp_path / "corner.png")


def test_corner_rejects_flat_arrays(tmp_path):
  with pytest.raises(ValueError, match=r"\[N, D\]"):
    table_plots.plot_corner(np.zeros(50), np.zeros(50), ["x"], str(tmp_path / "c.png"))


# --- plot_marginals --------------------------------------------------------


@pytest.mark.parametrize("dims", [1, 3, 9])
def test_marginals_are_images(tmp_path, closed_figures, dims):
  path = str(tmp_path / "marginals.png")
  table_plots.plot_marginals(_table(200, dims), _table(2000, dims, seed=1), _names(dims),
                             path, title="marginals")
  _read_png(path)
  figure = closed_figures[-1]
  drawn = [axis for axis in figure.axes if axis.axison]
  assert len(drawn) == dims
  assert [axis.get_title() for axis in drawn] == _names(dims)
  assert "model (KDE of 2000 samples)" in _texts(figure)
  assert len(figure.axes) == (4 * math.ceil(dims / 4) if dims > 4 else dims)


def test_marginals_cap_the_panels_and_say_so(tmp_path, closed_figures):
  path = str(tmp_path / "marginals.png")
  table_plots.plot_marginals(_table(100, 6), _table(500, 6, seed=1), _names(6), path,
                             title="wide table", max_panels=4)
  _read_png(path)
  figure = closed_figures[-1]
  assert sum(axis.axison for axis in figure.axes) == 4
  assert "wide table: first 4 of 6 columns" in _texts(figure)
  table_plots.plot_marginals(_table(100, 6), _table(500, 6, seed=1), _names(6), path,
                             max_panels=4)
  assert "first 4 of 6 columns" in _texts(closed_figures[-1])


def test_marginals_of_many_samples_and_a_constant_column(tmp_path, closed_figures):
  data, samples = _table(200, 2), _table(20000, 2, seed=1)
  data[:, 1], samples[:, 1] = 4., 4.
  samples[0, 0] = np.nan
  path = str(tmp_path / "marginals.png")
  table_plots.plot_marginals(data, samples, ["x", "constant"], path)
  _read_png(path)
  assert ("model (KDE of 19999 samples) (1 non-finite dropped)"
          in _texts(closed_figures[-1]))
  for axis in closed_figures[-1].axes:
    assert np.all(np.isfinite(axis.lines[0].get_ydata()))


def test_marginals_errors(tmp_path):
  path = str(tmp_path / "marginals.png")
  with pytest.raises(ValueError, match="samples 2"):
    table_plots.plot_marginals(_table(50, 3), _table(50, 2), _names(3), path)
  with pytest.raises(ValueError, match="no finite model samples"):
    table_plots.plot_marginals(_table(50, 2), np.full((10, 2), np.nan), _names(2), path)


# --- choose_plot_columns ---------------------------------------------------


def test_choose_plot_columns():
  assert table_plots.choose_plot_columns(20) == list(range(8))
  assert table_plots.choose_plot_columns(3) == [0, 1, 2]
  assert table_plots.choose_plot_columns(20, maximum=4) == [0, 1, 2, 3]
  assert table_plots.choose_plot_columns(20, [5, 2, np.int64(19)]) == [5, 2, 19]
  chosen = table_plots.choose_plot_columns(10, np.arange(8))
  assert chosen == list(range(8)) and all(type(index) is int for index in chosen)


@pytest.mark.parametrize("requested, message", [
    (list(range(9)), "at most 8"),
    ([0, 20], "not in"),
    ([-1], "not in"),
    ([1.0], "not in"),
    ([True], "not in"),
    (["a"], "not in"),
    ([3, 3], "twice"),
])
def test_choose_plot_columns_errors(requested, message):
  with pytest.raises(ValueError, match=message):
    table_plots.choose_plot_columns(20, requested)


# --- the KDE ---------------------------------------------------------------


def _normal_density(x, mean, scale):
  return np.exp(-0.5 * ((x - mean) / scale) ** 2) / (scale * math.sqrt(2 * math.pi))


def test_kde_integrates_to_one():
  rng = np.random.default_rng(0)
  samples = np.concatenate([rng.normal(-4., 0.5, 700), rng.exponential(2., 300)])
  grid = np.linspace(-20., 40., 6001)
  assert np.trapezoid(table_plots.kde_1d(samples, grid), grid) == pytest.approx(1., abs=1e-3)


def test_kde_matches_a_known_gaussian():
  mean, scale, num_samples = 5., 3., 20000
  samples = np.random.default_rng(1).normal(mean, scale, num_samples)
  grid = np.linspace(mean - 4 * scale, mean + 4 * scale, 200)
  density = table_plots.kde_1d(samples, grid)
  expected = _normal_density(grid, mean, scale)
  # Off by at most 5 % of the peak: the bandwidth's smoothing costs ~1 %,
  # sampling noise ~2 %; a bandwidth of sigma (no n^-1/5) costs 30 %, a
  # missing 1 / h or 1 / sqrt(2 pi) a factor of 2.4 or 2.5.
  assert np.max(np.abs(density - expected)) < 0.05 * expected.max()


def test_kde_uses_scotts_bandwidth_in_chunks():
  samples = np.random.default_rng(2).normal(5., 3., 20000)
  bandwidth = table_plots.scott_bandwidth(samples)
  assert bandwidth == pytest.approx(3. * 20000 ** -0.2, rel=0.03)
  grid = np.linspace(-10., 20., 50)
  np.testing.assert_allclose(table_plots.kde_1d(samples, grid, chunk_size=333),
                             table_plots.kde_1d(samples, grid, bandwidth, chunk_size=10 ** 6),
                             rtol=1e-10)


def test_scott_bandwidth_ignores_far_outliers_and_constants():
  samples = np.random.default_rng(3).normal(0., 1., 5000)
  samples[:5] = 1e6  # a heavy-tailed model's few wild draws
  assert table_plots.scott_bandwidth(samples) == pytest.approx(5000 ** -0.2, rel=0.06)
  constant = table_plots.scott_bandwidth(np.full(100, 7.))
  assert 0. < constant < 0.1
  density = table_plots.kde_1d(np.full(100, 7.), np.array([7.]))
  assert np.isfinite(density).all() and density[0] > 1.


# --- write_report ----------------------------------------------------------


_METRICS = dict(
    dataset="measurements.csv", model="nsf", test_log_likelihood=-3.14159,
    test_log_likelihood_2se=0.01234, val_log_likelihood=-3.2, test_bits_per_dim=1.5,
    test_bits_per_dim_2se=0.002, steps=1000, train_seconds=12.345,
    samples_per_second=23456.7, initial_test_log_likelihood=-9.5,
    units={"name": ["height", "weight|kg"], "mean": [171.25, 70.5],
           "scale": [9.5, 12.0], "dequantised": [False, True],
           "preprocessing": "standardised"},
    config={"command": ["python", "train/fit.py", "--data", "my data.csv"]})


def _write_pngs(directory, *names):
  for name in names:
    (directory / f"{name}.png").write_bytes(b"\x89PNG")


def _table_rows(text, header_start):
  """The rows (split into cells on unescaped pipes) of the table whose header starts so."""
  lines = text.splitlines()
  start = next(index for index, line in enumerate(lines) if line.startswith(header_start))
  rows = []
  for line in lines[start:]:
    if not line.startswith("|"):
      break
    rows.append(line.replace("\\|", "/").strip("|").split("|"))
  return rows


def test_report_holds_numbers_figures_units_and_command(tmp_path):
  _write_pngs(tmp_path, "corner", "marginals")
  path = report.write_report(str(tmp_path), _METRICS, ["corner", "marginals"],
                             "measurements.csv: nsf")
  assert path == str(tmp_path / "report.md")
  with open(path, encoding="utf-8") as stream:
    text = stream.read()
  assert text.startswith("# measurements.csv: nsf\n")
  for fragment in ("-3.1416 ± 0.0123 nats", "-3.2000 nats", "-9.5000 nats",
                   "1.5000 ± 0.0020", "| 1000 |", "12.3 s", "23457 samples/s",
                   "measurements.csv", "| nsf |",
                   "![corner](corner.png)", "![marginals](marginals.png)",
                   report.FIGURE_CAPTIONS["corner"], report.FIGURE_CAPTIONS["marginals"],
                   "python train/fit.py --data 'my data.csv'",
                   "| name | mean | scale | dequantised |", "| height | 171.25 | 9.5 | no |",
                   "weight\\|kg", "- preprocessing: standardised"):
    assert fragment in text, fragment
  for header in ("| quantity", "| name"):
    rows = _table_rows(text, header)
    assert len({len(row) for row in rows}) == 1 and len(rows) >= 3
    assert set(rows[1]) == {"---"}


def test_report_skips_missing_keys(tmp_path):
  path = report.write_report(str(tmp_path), {}, [], "empty run")
  with open(path, encoding="utf-8") as stream:
    assert stream.read() == "# empty run\n"
  metrics = dict(test_log_likelihood=-1.5, config={"seed": 0})
  with open(report.write_report(str(tmp_path), metrics, [], "t"), encoding="utf-8") as stream:
    text = stream.read()
  assert "-1.5000 nats" in text and "±" not in text and "##" not in text


def test_report_figures_as_captions_and_missing_files(tmp_path):
  _write_pngs(tmp_path, "corner", "extra")
  metrics = dict(config={"command": "tfp-ldu-fit --data x.csv"})
  path = report.write_report(str(tmp_path), metrics,
                             {"corner.png": "My caption.", "extra": None, "marginals": None},
                             "t")
  with open(path, encoding="utf-8") as stream:
    text = stream.read()
  assert "![corner](corner.png)\n\n*My caption.*" in text
  assert "![extra](extra.png)" in text
  assert "marginals.png was not written" in text and "](marginals.png)" not in text
  assert "```\ntfp-ldu-fit --data x.csv\n```" in text


@pytest.mark.parametrize("units, fragments", [
    ([{"name": "a", "mean": 1.0}, {"name": "b", "scale": 2.0}],
     ["| name | mean | scale |", "| a | 1 |  |", "| b |  | 2 |"]),
    ({"a": {"mean": 1.0, "dequantised": True}, "b": {"mean": 2.5}},
     ["| name | mean | dequantised |", "| a | 1 | yes |", "| b | 2.5 |  |"]),
    ({"mean": [1.0, 2.0], "scale": [3.0]}, ["- mean: 1, 2", "- scale: 3"]),
    ("standardised per column", ["standardised per column"]),
])
def test_report_renders_any_units(tmp_path, units, fragments):
  path = report.write_report(str(tmp_path), {"units": units}, [], "t")
  with open(path, encoding="utf-8") as stream:
    text = stream.read()
  assert "## Data units" in text
  for fragment in fragments:
    assert fragment in text, (fragment, text)
