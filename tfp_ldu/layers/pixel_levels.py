"""Discrete pixel levels: the dequantisers' input check and samples as levels.

A dequantiser maps levels x in {0, ..., L - 1} to y = (x + u) / L in [0, 1).
Data on another scale (images already divided by 255, raw 0..255 pixels
given to a model of 17 levels) would otherwise train silently to
impossible bits/dim, so the dequantisers check their input:

* `level_problem(x, L)`: an eager NumPy check of a whole array, with a
  message that says what was received and what is expected (`FlowModel.fit`
  runs it before training, where XLA would drop graph assertions);
* `assert_levels(x, L, owner)`: the same check as graph assertions, run on
  every call of a dequantiser outside XLA;
* `levels_of(y, L)`: continuous samples y -> integer levels
  floor(y L) clipped to [0, L - 1], as the sample grids show them.
"""
import numpy as np
import tensorflow as tf

__all__ = ["level_problem", "assert_levels", "levels_of"]


def _summary(values):
  return f"[{float(np.min(values)):.6g}, {float(np.max(values)):.6g}]"


def level_problem(x, num_levels):
  """A one-line explanation if `x` is not integer levels in [0, L), else None.

  Args:
    x: array-like of any shape (NumPy, or an eager tensor).
    num_levels: L.

  Returns:
    None, or the message (without the owner's name).
  """
  values = np.asarray(x, dtype=np.float64)
  if values.size == 0:
    return None
  finite = np.isfinite(values)
  if not finite.all():
    return (f"the data hold {int(values.size - finite.sum())} NaN or infinite values; "
            f"expected integer pixel levels in {{0, ..., {num_levels - 1}}}.")
  expected = (f"expected integer pixel levels in {{0, ..., {num_levels - 1}}} "
              f"(num_levels={num_levels})")
  if not np.all(values == np.floor(values)):
    hint = ""
    if values.min() >= 0 and values.max() <= 1:
      hint = (f"; images scaled to [0, 1]? pass the levels (e.g. "
              f"np.round(x * {num_levels - 1}))")
    return f"received non-integer values in {_summary(values)}: {expected}{hint}."
  if values.min() < 0 or values.max() > num_levels - 1:
    hint = ""
    if values.min() >= 0 and values.max() <= 255 and num_levels < 256:
      hint = ("; 8-bit pixels? pass num_levels=256, or requantise the images to "
              f"{num_levels} levels")
    return f"received values in {_summary(values)}: {expected}{hint}."
  return None


def assert_levels(x, num_levels, owner):
  """`x` after graph assertions that it holds integer levels in [0, L).

  XLA drops the assertions (`FlowModel.fit` checks array inputs eagerly).
  """
  message = (f"{owner}: expected integer pixel levels in {{0, ..., {num_levels - 1}}} "
             f"(num_levels={num_levels}); pass levels, not images scaled to [0, 1]")
  checks = [
      tf.debugging.assert_equal(x, tf.floor(x), message=message, summarize=4),
      tf.debugging.assert_greater_equal(x, tf.zeros([], x.dtype), message=message,
                                        summarize=4),
      tf.debugging.assert_less_equal(x, tf.constant(num_levels - 1, x.dtype),
                                     message=message, summarize=4),
  ]
  with tf.control_dependencies(checks):
    return tf.identity(x)


def levels_of(y, num_levels):
  """int32 levels floor(y L), clipped to [0, L - 1], of continuous samples y."""
  levels = tf.floor(tf.cast(y, tf.float32) * num_levels)
  return tf.cast(tf.clip_by_value(levels, 0., num_levels - 1.), tf.int32)
