"""Fixed-point iteration x <- T(x) with per-problem stopping and a static cap."""
import tensorflow as tf

from tfp_ldu.solvers.bounded_loop import LoopResult, bounded_loop

__all__ = ['default_tolerance', 'fixed_point_iteration']


def default_tolerance(dtype) -> float:
  """Step tolerance used when none is given: 1e-5 in float32, 1e-10 in float64."""
  return 1e-10 if tf.as_dtype(dtype) == tf.float64 else 1e-5


def fixed_point_iteration(update_fn, initial, *, tolerance: float,
                          max_iterations: int, event_ndims: int = 0) -> LoopResult:
  """Iterates x_{k+1} = update_fn(x_k) until every problem has converged.

  A problem (one element of the batch, i.e. one event of `event_ndims` trailing
  dimensions) has converged when its step satisfies

      max_event |x_{k+1} - x_k| / (1 + |x_{k+1}|) <= tolerance,

  a mixed absolute/relative test, so large inputs are not held to a tolerance
  below their own float spacing.  For a contraction with rate rho the remaining
  error is at most rho / (1 - rho) times the last step.

  Args:
    update_fn: `[B..., E...] -> [B..., E...]`, the map T.
    initial: `[B..., E...]` starting point.
    tolerance: Python float, the step tolerance.
    max_iterations: static Python int, the cap on iterations.
    event_ndims: how many trailing dimensions form one problem (0: every
      scalar converges on its own; 1: whole vectors, for maps that mix them).

  Returns:
    `LoopResult(state=x, num_iterations, converged)`; `converged` has shape B.
  """
  initial = tf.convert_to_tensor(initial)
  event_axes = list(range(-event_ndims, 0)) if event_ndims else None

  def done_fn(old, new):
    step = tf.abs(new - old) / (1. + tf.abs(new))
    # NaN compares False, so it never counts as converged.  (Not reduce_max:
    # XLA's CPU max ignores NaN, which would let a NaN row pass.)
    done = step <= tolerance
    return tf.reduce_all(done, axis=event_axes) if event_axes else done

  batch_shape = tf.shape(initial)[:tf.rank(initial) - event_ndims]
  return bounded_loop(update_fn, done_fn, initial, batch_shape, max_iterations)
