"""Static coupling masks: True where a coupling transforms an element."""
import numpy as np

from tfp_ldu.bijectors.shape_checks import check_image_shape

__all__ = ["half_transform_mask", "checkerboard_mask", "channel_mask"]


def half_transform_mask(event_size: int, second_half: bool = True) -> np.ndarray:
  """`[D]` bool mask transforming the second (or first) half of a vector.

  The second half is elements `D // 2 .. D - 1`, the first half the rest;
  stacking couplings with alternating halves transforms every element.
  """
  second = np.arange(event_size) >= event_size // 2
  return second if second_half else ~second


def checkerboard_mask(image_shape, parity: int = 1) -> np.ndarray:
  """`[H, W, C]` bool mask transforming the pixels with (h + w) % 2 == parity.

  Every channel of a pixel shares its pixel's value (a true checkerboard, as
  in RealNVP and the PyTorch Flow++ port; the TF Flow++ code's
  "CheckerboardSplit" splits even and odd columns instead).  Parities 0 and
  1 are complements, so alternating them transforms every element.
  """
  height, width, channels = check_image_shape("checkerboard_mask", image_shape)
  if parity not in (0, 1):
    raise ValueError(f"checkerboard_mask: parity must be 0 or 1; got {parity!r}.")
  board = (np.arange(height)[:, None] + np.arange(width)[None, :]) % 2 == parity
  return np.repeat(board[:, :, None], channels, axis=2)


def channel_mask(image_shape, first_half: bool = False) -> np.ndarray:
  """`[H, W, C]` bool mask transforming the first or the second half of the channels.

  The second half is channels `C // 2 .. C - 1` (Glow's z2, which its
  couplings transform), the first half the rest; needs C >= 2.
  """
  height, width, channels = check_image_shape("channel_mask", image_shape)
  if channels < 2:
    raise ValueError(f"channel_mask: a channel split needs C >= 2 channels; got "
                     f"image_shape {(height, width, channels)}.")
  second = np.arange(channels) >= channels // 2
  half = ~second if first_half else second
  return np.broadcast_to(half, (height, width, channels)).copy()
