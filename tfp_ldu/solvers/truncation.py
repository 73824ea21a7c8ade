"""Opt-in truncated solves: stop every numeric inverse after k iterations.

By default a numeric inverse never returns an unconverged answer silently
(`require_converged`).  Analyses of the solvers themselves, such as the
reconstruction-error curve of Sinusoidal Flow's Appendix C, need the
opposite: the iterate after exactly k iterations, whatever its error.
Inside `truncated_solves(k)`:

* every `bounded_loop` stops after at most k updates (k may be a tensor, so
  one traced function serves every k; the loop's static cap still applies);
* the solvers return their last iterate as it is: no NaN for unconverged
  problems, no error, no implicit gradient (the result is not differentiable
  as a root).  `NumericInverse.num_unconverged` still counts the problems
  that had not converged.

The setting is read when a solve is traced or run eagerly, so wrap the
*tracing* of a `tf.function` (its first call) in the context::

    with tfp_ldu.solvers.truncated_solves(k):        # k: int or int32 tensor
      x_k = model.bijector.forward(z)                # last iterates
"""
import contextlib
import threading

import tensorflow as tf

__all__ = ["truncated_solves", "truncation_limit"]

_STATE = threading.local()


@contextlib.contextmanager
def truncated_solves(max_iterations):
  """Within the block, numeric solves stop after `max_iterations` iterations.

  Args:
    max_iterations: int >= 0 or an int32 scalar tensor.

  Yields:
    The limit as an int32 tensor.
  """
  if not tf.is_tensor(max_iterations) and int(max_iterations) < 0:
    raise ValueError(f"truncated_solves: max_iterations must be >= 0; got "
                     f"{max_iterations!r}.")
  limit = tf.cast(max_iterations, tf.int32)
  previous = getattr(_STATE, "limit", None)
  _STATE.limit = limit
  try:
    yield limit
  finally:
    _STATE.limit = previous


def truncation_limit():
  """The active `truncated_solves` limit (an int32 tensor), or None."""
  return getattr(_STATE, "limit", None)
