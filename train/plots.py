"""PNG figures of a 2-D flow: learned density next to the data, and samples."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

__all__ = ["plot_bounds", "plot_density", "plot_samples"]


def plot_bounds(data, margin=0.1):
  """`(low, high)` `[2]` arrays: the data's 0.5-99.5 % box, widened by `margin`."""
  low, high = np.percentile(np.asarray(data), [0.5, 99.5], axis=0)
  pad = margin * (high - low)
  return low - pad, high + pad


def _scatter(axis, points, title, bounds):
  axis.scatter(points[:, 0], points[:, 1], s=1, alpha=0.4, linewidths=0)
  axis.set(title=title, xlim=(bounds[0][0], bounds[1][0]), ylim=(bounds[0][1], bounds[1][1]),
           aspect="equal")


def plot_density(log_prob, data, path, grid_size=200, title="learned density"):
  """Heat-map of exp(log_prob) on a grid, next to a scatter of `data`.

  Args:
    log_prob: callable `[M, 2]` -> `[M]` log-densities.
    data: `[N, 2]` samples of the true density.
    path: output PNG.
    grid_size: grid points per axis.
    title: title of the heat-map panel.
  """
  bounds = plot_bounds(data)
  xs, ys = (np.linspace(bounds[0][i], bounds[1][i], grid_size) for i in range(2))
  grid_x, grid_y = np.meshgrid(xs, ys)
  grid = np.stack([grid_x.ravel(), grid_y.ravel()], axis=1).astype(np.float32)
  density = np.exp(np.asarray(log_prob(grid))).reshape(grid_size, grid_size)
  figure, (left, right) = plt.subplots(1, 2, figsize=(10, 5))
  _scatter(left, np.asarray(data), "data", bounds)
  right.pcolormesh(grid_x, grid_y, np.nan_to_num(density), shading="auto", cmap="viridis")
  right.set(title=title, aspect="equal")
  figure.tight_layout()
  figure.savefig(path, dpi=100)
  plt.close(figure)


def plot_samples(samples, data, path):
  """Scatter of model `samples` next to `data` (both `[N, 2]`) on common axes."""
  bounds = plot_bounds(data)
  figure, (left, right) = plt.subplots(1, 2, figsize=(10, 5))
  _scatter(left, np.asarray(data), "data", bounds)
  _scatter(right, np.asarray(samples), "samples", bounds)
  figure.tight_layout()
  figure.savefig(path, dpi=100)
  plt.close(figure)
