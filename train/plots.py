"""PNG figures of a 2-D flow: learned density next to the data, and samples (per context)."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

__all__ = ["plot_bounds", "plot_density", "plot_samples", "plot_conditional_samples"]


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


def plot_conditional_samples(model, data, contexts, path, seed=0, num_panels=5,
                             num_neighbours=400, num_samples=1000):
  """A conditional 2-D flow at `num_panels` contexts: held-out data near each, and samples.

  The contexts are the held-out rows at the 10-90 % quantiles of the first
  context feature; the top row shows the `num_neighbours` held-out points
  whose (z-scored) contexts are nearest, the bottom row `num_samples` draws of
  `model.sample(num_samples, context=c)`, on common axes.

  Args:
    model: a conditional `tfp_ldu.flows.FlowModel` of 2-D data.
    data: `[N, 2]` held-out samples; contexts: their `[N, C]` contexts.
    path: output PNG.
  """
  data, contexts = np.asarray(data), np.asarray(contexts)
  scaled = (contexts - contexts.mean(0)) / np.maximum(contexts.std(0), 1e-12)
  order = np.argsort(contexts[:, 0], kind="stable")
  chosen = order[(np.linspace(0.1, 0.9, num_panels) * (len(order) - 1)).astype(int)]
  bounds = plot_bounds(data)
  figure, axes = plt.subplots(2, num_panels, figsize=(3 * num_panels, 6), squeeze=False)
  for column, row in enumerate(chosen):
    nearest = np.argsort(np.sum((scaled - scaled[row]) ** 2, axis=1))[:num_neighbours]
    label = ", ".join(f"{value:.3g}" for value in contexts[row])
    _scatter(axes[0, column], data[nearest], f"data, c near ({label})", bounds)
    samples = model.sample(num_samples, seed=seed, context=contexts[row])
    _scatter(axes[1, column], np.asarray(samples), f"samples, c = ({label})", bounds)
  figure.tight_layout()
  figure.savefig(path, dpi=100)
  plt.close(figure)
