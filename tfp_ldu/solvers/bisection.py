"""Element-wise bisection for monotone increasing maps, on the shared loop."""
import tensorflow as tf

from tfp_ldu.solvers.bounded_loop import LoopResult, bounded_loop

__all__ = ['bisection']


def bisection(fn, target, lower, upper, *, num_halvings: int,
              tolerance: float) -> LoopResult:
  """Solves fn(x) = target element-wise for increasing `fn` on [lower, upper].

  Each iteration halves every bracket that is still wider than
  `tolerance * (1 + |midpoint|)`; the answer is the final midpoint.  The
  bracket must contain the root (fn(lower) <= target <= fn(upper)): the
  caller derives it from the map's parameters.  A problem whose bracket is
  still too wide after `num_halvings` halvings is reported as not converged.

  Args:
    fn: element-wise increasing map, `[B...] -> [B...]`.
    target, lower, upper: `[B...]` tensors.
    num_halvings: static Python int, the iteration cap.
    tolerance: relative/absolute bracket-width tolerance.

  Returns:
    `LoopResult(state=midpoint, num_iterations, converged)`.
  """
  target = tf.convert_to_tensor(target)
  lower = tf.broadcast_to(tf.convert_to_tensor(lower, target.dtype), tf.shape(target))
  upper = tf.broadcast_to(tf.convert_to_tensor(upper, target.dtype), tf.shape(target))

  def update_fn(bracket):
    lo, hi = bracket
    mid = 0.5 * (lo + hi)
    below = fn(mid) < target
    return tf.where(below, mid, lo), tf.where(below, hi, mid)

  def done_fn(old, new):
    del old
    lo, hi = new
    return (hi - lo) <= tolerance * (1. + tf.abs(0.5 * (lo + hi)))

  result = bounded_loop(update_fn, done_fn, (lower, upper), tf.shape(target),
                        num_halvings)
  lo, hi = result.state
  return LoopResult(0.5 * (lo + hi), result.num_iterations, result.converged)
