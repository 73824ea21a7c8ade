"""Bracketed Newton iteration for increasing element-wise maps, on the shared loop."""
import tensorflow as tf

from tfp_ldu.solvers.bounded_loop import LoopResult, bounded_loop

__all__ = ['safeguarded_newton']


def safeguarded_newton(fn, derivative_fn, target, lower, upper, initial, *,
                       max_iterations: int, tolerance: float) -> LoopResult:
  """Solves fn(x) = target element-wise for increasing `fn` with a known bracket.

  Each iteration evaluates r = fn(x) - target and fn'(x), shrinks the bracket
  to the side of x that holds the root (lower = x where r <= 0, else upper = x),
  and takes the Newton step x - r / fn'(x) if it lands strictly inside the
  bracket (or stays at x, an exact root), otherwise the bracket's midpoint.
  So it converges quadratically near the root and can never do worse than
  bisection far from it.  A Newton point on a bracket end is refused: it is
  a point already visited, and accepting it lets Newton's 2-cycles (x1 -> x2
  -> x1, which increasing maps with inflections have) run until the cap.  A
  problem has converged when its step is at most `tolerance * (1 + |x|)`.

  Args:
    fn: element-wise increasing map, `[B...] -> [B...]`.
    derivative_fn: fn', `[B...] -> [B...]`, positive.
    target, lower, upper, initial: `[B...]`; the root must lie in [lower, upper].
    max_iterations: static Python int cap.
    tolerance: step tolerance.

  Returns:
    `LoopResult(state=x, num_iterations, converged)`.
  """
  target = tf.convert_to_tensor(target)
  shape = tf.shape(target)
  state = tuple(tf.broadcast_to(tf.convert_to_tensor(v, target.dtype), shape)
                for v in (initial, lower, upper))

  def update_fn(state):
    x, lo, hi = state
    residual = fn(x) - target
    lo = tf.where(residual <= 0., x, lo)
    hi = tf.where(residual > 0., x, hi)
    newton = x - residual / derivative_fn(x)
    # Strict, so a 2-cycle between the bracket ends bisects; at an exact root
    # the Newton point is x itself (a bracket end), which is kept.
    inside = tf.logical_or(tf.logical_and(newton > lo, newton < hi), newton == x)
    return tf.where(inside, newton, 0.5 * (lo + hi)), lo, hi

  def done_fn(old, new):
    return tf.abs(new[0] - old[0]) <= tolerance * (1. + tf.abs(new[0]))

  result = bounded_loop(update_fn, done_fn, state, shape, max_iterations)
  return LoopResult(result.state[0], result.num_iterations, result.converged)
