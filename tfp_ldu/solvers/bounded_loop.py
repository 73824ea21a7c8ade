"""The one loop every numeric solve in tfp_ldu runs on.

`bounded_loop` repeats a vectorised update over a batch of independent problems
until each has converged or a static iteration cap is reached.  The cap is a
Python int, so the loop compiles under XLA (`tf.function(jit_compile=True)`);
problems that have converged are frozen while the others keep iterating.
"""
from typing import Callable, NamedTuple

import tensorflow as tf

from tfp_ldu.solvers.truncation import truncation_limit

__all__ = ['LoopResult', 'bounded_loop']


class LoopResult(NamedTuple):
  """What `bounded_loop` returns.

  Attributes:
    state: the final state (a tensor or a nest of tensors).
    num_iterations: scalar int32, the number of updates the loop ran.
    converged: bool tensor of the batch shape: True where the problem converged.
  """
  state: object
  num_iterations: tf.Tensor
  converged: tf.Tensor


def _freeze(active, new, old):
  """Keeps `old` where a problem is no longer active (broadcast over event dims)."""
  mask = tf.reshape(active, tf.concat(
      [tf.shape(active), tf.ones([tf.rank(new) - tf.rank(active)], tf.int32)], 0))
  return tf.where(mask, new, old)


def bounded_loop(update_fn: Callable, done_fn: Callable, initial_state,
                 batch_shape, max_iterations: int) -> LoopResult:
  """Runs `state <- update_fn(state)` per problem until `done_fn` says it is done.

  Args:
    update_fn: maps a state (nest of tensors, each `batch_shape + event`) to the
      next state of the same structure.
    done_fn: `done_fn(old_state, new_state)` -> bool tensor of `batch_shape`, True
      where the problem has converged after this update.  NaN must give False.
    initial_state: the starting state.
    batch_shape: shape tensor of the batch of independent problems.
    max_iterations: static Python int, the cap on updates.

  Returns:
    A `LoopResult`; problems still not done after `max_iterations` updates (or
    the limit of an enclosing `truncated_solves`) have `converged == False`
    and hold their last iterate.
  """
  if not isinstance(max_iterations, int) or max_iterations < 1:
    raise ValueError(
        f"max_iterations must be a positive Python int (a static bound that XLA "
        f"can compile); got {max_iterations!r}.")

  limit = truncation_limit()  # Opt-in `truncated_solves(k)`: stop after k updates.

  def cond(i, state, active):
    del state
    if limit is None:
      return tf.reduce_any(active)
    return tf.logical_and(tf.reduce_any(active), i < limit)

  def body(i, state, active):
    new_state = update_fn(state)
    done = done_fn(state, new_state)
    state = tf.nest.map_structure(lambda n, o: _freeze(active, n, o), new_state, state)
    return i + 1, state, tf.logical_and(active, tf.logical_not(done))

  active = tf.ones(batch_shape, dtype=tf.bool)
  num_iterations, state, active = tf.while_loop(
      cond, body, (tf.constant(0, tf.int32), initial_state, active),
      maximum_iterations=max_iterations)
  return LoopResult(state, num_iterations, tf.logical_not(active))
