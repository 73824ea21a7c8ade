"""How a network's raw output is read as an element-wise rational-quadratic spline (NSF).

The spline is `tfp_ldu.bijectors.RationalQuadraticSpline` (Durkan et al.
2019), the map of TFP's `tfb.RationalQuadraticSpline` with one-hot bin
lookups instead of batched gathers (faster to trace and to differentiate):
K monotone rational-quadratic bins on [-B, B] and the identity outside, so
the tails are linear with slope 1.  Out-of-bound inputs are clamped onto the
interval before the bin arithmetic, which is what keeps values and gradients
finite far outside [-B, B] (the NaN-gradient bugs of flowjax #239 and
BayesFlow #721 were that guard missing).
"""
import math

import tensorflow as tf

from tfp_ldu.bijectors.rational_quadratic_spline import RationalQuadraticSpline

__all__ = ["num_spline_parameters", "rational_quadratic_spline", "soft_clip",
           "SOFT_CLIP_BOUND"]

# Each bin keeps at least this fraction of the width / height of a uniform
# bin, and every interior knot at least this slope (nflows' defaults, 1e-3).
MIN_BIN_FRACTION = 1e-3
MIN_SLOPE = 1e-3


# zuko's bound ln(1 / slope) with slope 1e-3: how far a soft-clipped log-scale
# (or spline slope parameter) can go; the bin logits get half of it.
SOFT_CLIP_BOUND = math.log(1e3)


def soft_clip(x, bound=SOFT_CLIP_BOUND):
  """x / (1 + |x| / bound): the identity near 0, smoothly bounded by +-bound.

  zuko bounds its MAF log-scales and spline parameters this way.  Side by
  side on the two-moons posterior of `bench/sbi.py`, the library's
  unbounded MAF log-scales let training climb and reach a NaN loss, and
  unbounded spline parameters cost NSF 0.02-0.1 of C2ST accuracy; soft-clipped
  as zuko does, both match zuko (docs/performance.md).
  """
  return x / (1.0 + tf.abs(x) / bound)


def num_spline_parameters(num_bins: int) -> int:
  """3K - 1 raw numbers per element: K widths, K heights, K - 1 interior slopes."""
  return 3 * int(num_bins) - 1


def _bin_sizes(raw, bound):
  """K bin sizes summing to 2B, each at least `MIN_BIN_FRACTION` of a uniform bin."""
  num_bins = raw.shape[-1]
  fraction = MIN_BIN_FRACTION / num_bins
  return 2.0 * bound * (fraction + (1.0 - num_bins * fraction) * tf.nn.softmax(raw, axis=-1))


def rational_quadratic_spline(raw, num_bins, bound, clip=False):
  """The spline of raw parameters `[..., D, 3K - 1]`, element-wise on `[..., D]`.

      widths  = 2B (m + (1 - K m) softmax(raw[..., 0:K]))          m = 1e-3 / K
      heights = 2B (m + (1 - K m) softmax(raw[..., K:2K]))
      slopes  = 1e-3 + softplus(raw[..., 2K:3K-1] + log(e^(1 - 1e-3) - 1))

  A raw output of zeros gives K equal bins and slopes of 1: the identity,
  so a flow of zero-initialised conditioners starts at the identity.  With
  `clip=True` the raw bin logits are first soft-clipped to +-ln(1e3) / 2
  and the slope parameters to +-ln(1e3) (`soft_clip`, as zuko's
  `MonotonicRQSTransform`).

  Args:
    raw: `[..., D, 3K - 1]` float tensor (a conditioner's output).
    num_bins: K >= 2.
    bound: B > 0; the spline acts on [-B, B] and is the identity outside.
    clip: soft-clip the raw parameters first.

  Returns:
    A `RationalQuadraticSpline` (latent -> data direction as `forward`
    is the caller's choice: the map is monotone with a closed-form inverse).
  """
  k = int(num_bins)
  if clip:
    raw = tf.concat([soft_clip(raw[..., :2 * k], SOFT_CLIP_BOUND / 2),
                     soft_clip(raw[..., 2 * k:])], axis=-1)
  bound = tf.cast(bound, raw.dtype)
  slope_offset = math.log(math.expm1(1.0 - MIN_SLOPE))
  widths = _bin_sizes(raw[..., :k], bound)
  heights = _bin_sizes(raw[..., k:2 * k], bound)
  slopes = MIN_SLOPE + tf.nn.softplus(raw[..., 2 * k:] + slope_offset)
  return RationalQuadraticSpline(widths, heights, slopes, range_min=-bound)
