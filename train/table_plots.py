"""PNG figures of a flow fitted to a table: a corner plot and per-column marginals.

Both compare held-out rows `[N, D]` with model samples `[M, D]` on the
data's own scale.  A flow's 1-D marginal has no closed form, so the
marginals plot shows a Gaussian-kernel density estimate of the samples
(`kde_1d`, NumPy only, chunked so M = 20000 stays small in memory).

Non-finite model samples (an unconverged inverse) are dropped and counted in
the legend; non-finite data values are dropped per column.
"""
import math
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402

__all__ = ["MAX_CORNER_COLUMNS", "choose_plot_columns", "scott_bandwidth", "kde_1d", "column_bounds",
           "plot_corner", "plot_marginals"]

# The most columns a corner plot shows (train/fit.py --plot-columns).
MAX_CORNER_COLUMNS = 8
_DATA_COLOUR, _SAMPLE_COLOUR = "C0", "C1"
_TICK_SIZE, _LABEL_SIZE = 6, 8


def choose_plot_columns(num_columns, requested=None, maximum=MAX_CORNER_COLUMNS):
  """Indices of the columns to plot: `requested` (checked) or the first `maximum`.

  Args:
    num_columns: D, the table's number of columns (>= 1).
    requested: optional sequence of column indices in [0, D), no repeats, at
      most `maximum` of them.
    maximum: most columns a figure shows.

  Returns:
    A list of ints.

  Raises:
    ValueError: `requested` is too long, repeats an index, or holds an
      index that is not an integer in [0, D).
  """
  num_columns = int(num_columns)
  if num_columns < 1:
    raise ValueError(f"choose_plot_columns: the table has {num_columns} columns.")
  if requested is None:
    return list(range(min(num_columns, maximum)))
  requested = list(requested)
  if len(requested) > maximum:
    raise ValueError(f"choose_plot_columns: {len(requested)} columns requested; "
                     f"a plot shows at most {maximum}.")
  chosen = []
  for index in requested:
    if (isinstance(index, (bool, np.bool_)) or not isinstance(index, (int, np.integer))
        or not 0 <= index < num_columns):
      raise ValueError(f"choose_plot_columns: column index {index!r} is not in "
                       f"[0, {num_columns}).")
    if int(index) in chosen:
      raise ValueError(f"choose_plot_columns: column {int(index)} is requested twice.")
    chosen.append(int(index))
  return chosen


def scott_bandwidth(samples):
  """Scott's bandwidth `sigma * n^(-1/5)` for a 1-D Gaussian KDE of `[n]` samples.

  sigma is the smaller of the standard deviation and IQR / 1.349 (both
  estimate sigma for a Gaussian), so a few far-out samples of a
  heavy-tailed model do not smooth the whole curve flat.  A constant sample
  gets a small positive width (1e-3 of its magnitude, at least 1e-3).
  """
  samples = np.asarray(samples, dtype=np.float64).ravel()
  n = samples.size
  if n == 0:
    raise ValueError("scott_bandwidth: no samples.")
  std = samples.std(ddof=1) if n > 1 else 0.
  low, high = np.percentile(samples, [25., 75.])
  spreads = [s for s in (std, (high - low) / 1.349) if s > 0]
  if not spreads:
    return 1e-3 * max(abs(float(samples[0])), 1.)
  return float(min(spreads) * n ** -0.2)


def kde_1d(samples, grid, bandwidth=None, chunk_size=2048):
  """Gaussian-kernel density estimate of `[M]` samples at `[G]` grid points.

  Args:
    samples: `[M]` finite values.
    grid: `[G]` points at which to evaluate the density.
    bandwidth: kernel standard deviation; default `scott_bandwidth(samples)`.
    chunk_size: samples per `[G, chunk_size]` block (bounds the memory).

  Returns:
    `[G]` float64 densities, mean over samples of N(grid; sample, bandwidth^2).
  """
  samples = np.asarray(samples, dtype=np.float64).ravel()
  grid = np.asarray(grid, dtype=np.float64).ravel()
  width = scott_bandwidth(samples) if bandwidth is None else float(bandwidth)
  total = np.zeros_like(grid)
  for start in range(0, samples.size, chunk_size):
    offsets = (grid[:, None] - samples[None, start:start + chunk_size]) / width
    total += np.exp(-0.5 * offsets ** 2).sum(axis=1)
  return total / (samples.size * width * math.sqrt(2 * math.pi))


def column_bounds(data, margin=0.05):
  """`(low, high)` `[D]` arrays: each column's 0.5-99.5 % range widened by `margin`.

  Non-finite values are ignored; a constant (or empty) column gets a range of
  +-0.5 (or +-0.5 |value|) around its value.
  """
  data = np.where(np.isfinite(data), data, np.nan)
  with warnings.catch_warnings():
    warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN column
    low, high = np.nanpercentile(data, [0.5, 99.5], axis=0)
  low, high = np.nan_to_num(low), np.nan_to_num(high)
  pad = margin * (high - low)
  flat = pad <= 0
  pad[flat] = 0.5 * np.maximum(np.abs(low[flat]), 1.)
  return low - pad, high + pad


def _as_table(data, samples, columns, caller):
  data = np.asarray(data, dtype=np.float64)
  samples = np.asarray(samples, dtype=np.float64)
  if data.ndim != 2 or samples.ndim != 2:
    raise ValueError(f"{caller}: data and samples must be [N, D] and [M, D]; got shapes "
                     f"{data.shape} and {samples.shape}.")
  if data.shape[1] != samples.shape[1] or len(columns) != data.shape[1]:
    raise ValueError(f"{caller}: data has {data.shape[1]} columns, samples "
                     f"{samples.shape[1]}, and {len(columns)} column names were given.")
  finite = np.all(np.isfinite(samples), axis=1)
  return data, samples[finite], int(np.sum(~finite))


def _sample_label(num_dropped, text="model samples"):
  return text + (f" ({num_dropped} non-finite dropped)" if num_dropped else "")


def _subsample(rows, max_points, rng):
  if len(rows) <= max_points:
    return rows
  return rows[np.sort(rng.choice(len(rows), max_points, replace=False))]


def _save(figure, path, title, legend=None):
  """Titles, lays out, writes and closes `figure`.

  The figure grows at the top for its header: the title (0.35 inch) and
  `legend` (handles, labels) under it, in one row if the figure is at least
  6 inches wide, else one entry a line.
  """
  entries = []
  if title:
    entries.append((0.35, lambda top: figure.suptitle(title, fontsize=10, y=top, va="top")))
  if legend:
    across = len(legend[0]) if figure.get_figwidth() >= 6. else 1
    entries.append((0.1 + 0.2 * math.ceil(len(legend[0]) / across),
                    lambda top: figure.legend(*legend, loc="upper center", ncol=across,
                                              fontsize=_LABEL_SIZE, frameon=False,
                                              bbox_to_anchor=(0.5, top))))
  header = sum(inches for inches, _ in entries)
  height = figure.get_figheight() + header
  figure.set_figheight(height)
  used = 0.05
  for inches, draw in entries:
    draw(1. - used / height)
    used += inches
  figure.tight_layout(pad=0.6, rect=(0., 0., 1., 1. - header / height))
  figure.savefig(path, dpi=100)
  plt.close(figure)


def plot_corner(data, samples, columns, path, max_points=2000, title=None):
  """Corner plot of held-out rows against model samples, for 2 <= D <= 8 columns.

  Lower triangle: scatter of column j (x) against column i (y), data and
  samples in two colours (at most `max_points` of each, drawn with a fixed
  seed).  Diagonal: density-normalised histograms of both on the same bins.
  Every column's axis range is the data's 0.5-99.5 % range, a little wider;
  values beyond it (of either) are clipped onto its edge, so far-out samples
  show as points (and edge bins) on the border rather than vanishing.

  Args:
    data: `[N, D]` held-out rows.
    samples: `[M, D]` model samples; non-finite rows are dropped.
    columns: the D column names (axis labels).
    path: output PNG.
    max_points: most scatter points of each of data and samples.
    title: optional figure title.

  Raises:
    ValueError: D < 2 (plot the marginals instead), D > `MAX_CORNER_COLUMNS` (choose columns
      with `choose_plot_columns`), or data, samples and names disagree on D.
  """
  data, samples, num_dropped = _as_table(data, samples, columns, "plot_corner")
  num_dims = data.shape[1]
  if not 2 <= num_dims <= MAX_CORNER_COLUMNS:
    raise ValueError(f"plot_corner: needs 2 to {MAX_CORNER_COLUMNS} columns, got {num_dims}"
                     + (" (use plot_marginals for one column)." if num_dims < 2 else
                        f" (pick at most {MAX_CORNER_COLUMNS} with choose_plot_columns)."))
  low, high = column_bounds(data)
  data = np.clip(data, low, high)  # NaN stays NaN: not drawn
  samples = np.clip(samples, low, high)
  rng = np.random.default_rng(0)
  shown_data = _subsample(data, max_points, rng)
  shown_samples = _subsample(samples, max_points, rng)
  size = max(4., 1.7 * num_dims)
  figure, axes = plt.subplots(num_dims, num_dims, figsize=(size, size), squeeze=False)
  for row in range(num_dims):
    for column in range(num_dims):
      axis = axes[row, column]
      if column > row:
        axis.axis("off")
        continue
      axis.set_xlim(low[column], high[column])
      if row == column:
        # Fewer bins for few held-out rows, so their histogram is not all spikes.
        bins = np.linspace(low[column], high[column],
                           int(np.clip(2 * np.sqrt(len(data)), 10, 30)) + 1)
        for values, colour in ((data[:, column], _DATA_COLOUR),
                               (samples[:, column], _SAMPLE_COLOUR)):
          values = values[np.isfinite(values)]
          if values.size:
            axis.hist(values, bins=bins, density=True, histtype="stepfilled",
                      color=colour, alpha=0.35, edgecolor=colour, linewidth=0.8)
        axis.set_yticks([])
      else:
        # The samples first, the data on top, larger and more opaque when they are few.
        for points, colour in ((shown_samples, _SAMPLE_COLOUR), (shown_data, _DATA_COLOUR)):
          few = colour == _DATA_COLOUR and len(points) < 500
          axis.scatter(points[:, column], points[:, row], s=8 if few else 2,
                       alpha=0.8 if few else 0.3, color=colour, linewidths=0,
                       rasterized=True, zorder=3 if colour == _DATA_COLOUR else 2)
        axis.set_ylim(low[row], high[row])
      axis.tick_params(labelsize=_TICK_SIZE)
      axis.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(3))
      if row != column:
        axis.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(3))
      if row == num_dims - 1:
        axis.set_xlabel(columns[column], fontsize=_LABEL_SIZE)
      else:
        axis.tick_params(labelbottom=False)
      if column == 0 and row > 0:
        axis.set_ylabel(columns[row], fontsize=_LABEL_SIZE)
      elif row != column:
        axis.tick_params(labelleft=False)
  handles = [plt.Line2D([], [], marker="o", linestyle="", color=colour, markersize=5)
             for colour in (_DATA_COLOUR, _SAMPLE_COLOUR)]
  _save(figure, path, title, legend=(handles, ["held-out data", _sample_label(num_dropped)]))


def plot_marginals(data, samples, columns, path, bins=50, title=None, max_panels=32):
  """One panel per column: held-out histogram with the model's marginal density over it.

  The model's marginal is a Gaussian KDE of its samples (`kde_1d`, Scott's
  bandwidth) on 200 points across the data's 0.5-99.5 % range, a little
  wider.  The histogram is divided by the column's total finite count, so
  both curves are densities of the whole distribution shown on that window.
  Panels are laid out up to 4 per row; past `max_panels` columns only the
  first `max_panels` are drawn and the title says so.

  Args:
    data: `[N, D]` held-out rows (any D >= 1).
    samples: `[M, D]` model samples; non-finite rows are dropped.
    columns: the D column names (panel titles).
    path: output PNG.
    bins: histogram bins per panel.
    title: optional figure title.
    max_panels: most panels drawn.

  Raises:
    ValueError: data, samples and names disagree on D, or there are no
      finite samples.
  """
  data, samples, num_dropped = _as_table(data, samples, columns, "plot_marginals")
  if len(samples) == 0:
    raise ValueError("plot_marginals: no finite model samples to estimate a density from.")
  num_dims = data.shape[1]
  shown = min(num_dims, max_panels)
  if shown < num_dims:
    note = f"first {shown} of {num_dims} columns"
    title = f"{title}: {note}" if title else note
  low, high = column_bounds(data[:, :shown])
  num_across = min(4, shown)
  num_down = math.ceil(shown / num_across)
  figure, axes = plt.subplots(num_down, num_across, squeeze=False,
                              figsize=(max(4., 2.8 * num_across), 2.2 * num_down + 0.4))
  label = _sample_label(num_dropped, f"model (KDE of {len(samples)} samples)")
  for index, axis in enumerate(axes.ravel()):
    if index >= shown:
      axis.axis("off")
      continue
    values = data[:, index]
    values = values[np.isfinite(values)]
    edges = np.linspace(low[index], high[index], bins + 1)
    counts, _ = np.histogram(values, bins=edges)
    heights = counts / max(values.size, 1) / np.diff(edges)
    axis.stairs(heights, edges, fill=True, color=_DATA_COLOUR, alpha=0.35,
                label="held-out data")
    grid = np.linspace(low[index], high[index], 200)
    axis.plot(grid, kde_1d(samples[:, index], grid), color=_SAMPLE_COLOUR, linewidth=1.2,
              label=label)
    axis.set_xlim(low[index], high[index])
    axis.set_title(str(columns[index]), fontsize=_LABEL_SIZE)
    axis.tick_params(labelsize=_TICK_SIZE)
    axis.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(4))
  _save(figure, path, title, legend=axes[0, 0].get_legend_handles_labels())
