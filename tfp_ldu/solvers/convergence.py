"""Never return an unconverged numeric inverse silently."""
import tensorflow as tf

__all__ = ['ConvergenceError', 'require_converged']


class ConvergenceError(RuntimeError):
  """A numeric inverse did not converge within its iteration cap (eager mode)."""


def require_converged(root, converged, *, what: str, max_iterations: int):
  """Returns `root` with unconverged problems set to NaN, and raises on them.

  * Eagerly: raises `ConvergenceError` naming how many problems failed.
  * In a `tf.function`: an assertion raises `InvalidArgumentError` with the count.
  * Under XLA, which drops assertions: the NaNs are the report; they propagate
    into every downstream value (and stop training, see `models`).

  Args:
    root: `[B..., E...]` solution.
    converged: bool `[B...]`.
    what: name of the solve for the message, e.g. "Sinusoidal.forward".
    max_iterations: the cap that was used, for the message.
  """
  num_failed = tf.reduce_sum(tf.cast(tf.logical_not(converged), tf.int32))
  advice = ("raise max_iterations or the tolerance, or check the parameters "
            "(non-finite inputs never converge)")
  if tf.executing_eagerly():
    if int(num_failed):
      raise ConvergenceError(
          f"{what}: {int(num_failed)} of {int(tf.size(converged))} problems did not "
          f"converge within {max_iterations} iterations; {advice}.")
  else:
    check = tf.debugging.assert_equal(
        num_failed, 0, summarize=1,
        message=(f"{what}: problems did not converge within {max_iterations} "
                 f"iterations ({advice}); number of unconverged problems"))
    with tf.control_dependencies([check]):
      root = tf.identity(root)
  mask = tf.reshape(converged, tf.concat(
      [tf.shape(converged), tf.ones([tf.rank(root) - tf.rank(converged)], tf.int32)], 0))
  return tf.where(mask, root, tf.constant(float("nan"), root.dtype))
