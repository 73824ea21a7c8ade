"""PNG grids of images: model samples, and originals over their reconstructions."""
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

__all__ = ["tile_images", "save_image_grid"]


def tile_images(images, columns=None, padding=1):
  """`[N, H, W, C]` images in [0, 1] -> one `[rows*(H+p)-p, cols*(W+p)-p, C]` mosaic.

  Values are clipped to [0, 1]; NaN (an unconverged solve) shows as 1 (white).
  Gaps between tiles are 1 as well.
  """
  images = np.nan_to_num(np.clip(np.asarray(images, dtype=np.float64), 0., 1.), nan=1.)
  if images.ndim != 4 or len(images) == 0:
    raise ValueError(f"tile_images: expected [N >= 1, H, W, C] images; got shape "
                     f"{images.shape}.")
  n, height, width, channels = images.shape
  columns = columns or math.ceil(math.sqrt(n))
  rows = math.ceil(n / columns)
  mosaic = np.ones((rows * (height + padding) - padding,
                    columns * (width + padding) - padding, channels))
  for index, image in enumerate(images):
    top, left = (index // columns) * (height + padding), (index % columns) * (width + padding)
    mosaic[top:top + height, left:left + width] = image
  return mosaic


def save_image_grid(images, path, columns=None, title=None):
  """Writes `[N, H, W, C]` images in [0, 1] (C = 1 or 3) as one PNG grid."""
  mosaic = tile_images(images, columns)
  grey = mosaic.shape[-1] == 1
  figure = plt.figure(figsize=(max(2., mosaic.shape[1] / 16), max(2., mosaic.shape[0] / 16)))
  axis = figure.add_axes([0, 0, 1, 0.92 if title else 1])
  axis.imshow(mosaic[..., 0] if grey else mosaic, cmap="gray" if grey else None,
              vmin=0., vmax=1., interpolation="nearest")
  axis.axis("off")
  if title:
    axis.set_title(title, fontsize=9)
  figure.savefig(path, dpi=100)
  plt.close(figure)
