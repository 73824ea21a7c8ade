"""Seeds of the library's samplers: an int is a stateless seed, as documented.

TFP treats a Python int seed as a *stateful* op seed (`sanitize_seed` draws a
pair from TensorFlow's global generator), so `dist.sample(n, seed=1)` gives
new values on every call.  The library's samplers promise reproducible
samples for an int seed, so they map it to a stateless `int32[2]` seed first.
"""
import numpy as np
import tensorflow as tf

__all__ = ["stateless_seed"]

_INT32_SPAN = 2 ** 31


def stateless_seed(seed):
  """A stateless `int32[2]` seed from None, an int, or a `[2]` seed.

  An int s becomes `[s // 2**31, s % 2**31]` (wrapped to int32), so for
  0 <= s < 2**31 it is the pair `(0, s)`: `model.sample(n, seed=s)` equals
  `model.sample(n, seed=(0, s))` and the exported
  `sample_with_seed(n, [0, s])`.  A `[2]` seed (list, tuple, array or
  tensor) is cast to int32.  None stays None (stateful randomness).

  Args:
    seed: None, a Python/NumPy int or int scalar tensor, or a `[2]` seed.

  Returns:
    None or an int32 `[2]` tensor.

  Raises:
    ValueError: for any other shape or a non-integer seed.
  """
  if seed is None:
    return None
  if tf.is_tensor(seed):
    if not seed.dtype.is_integer:
      raise ValueError(f"seed: expected an integer seed; got dtype {seed.dtype.name}.")
    if seed.shape.rank == 0:
      seed = tf.cast(seed, tf.int64)
      return tf.cast(tf.stack([seed // _INT32_SPAN, seed % _INT32_SPAN]), tf.int32)
    return tf.cast(tf.ensure_shape(seed, [2]), tf.int32)
  value = np.asarray(seed)
  if not np.issubdtype(value.dtype, np.integer):
    raise ValueError(f"seed: expected an int or a pair of ints; got {seed!r}.")
  if value.ndim == 0:
    high, low = divmod(int(value), _INT32_SPAN)
    high = (high + _INT32_SPAN) % (2 * _INT32_SPAN) - _INT32_SPAN
    return tf.constant([high, low], tf.int32)
  if value.shape != (2,):
    raise ValueError(f"seed: expected an int or a pair of ints; got shape {value.shape}.")
  if np.any(value < -_INT32_SPAN) or np.any(value >= _INT32_SPAN):
    raise ValueError(f"seed: a pair seed must hold int32 values; got {seed!r}.")
  return tf.constant(value, tf.int32)
