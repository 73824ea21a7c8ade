"""Errors of the flows' public calls without page-long tensor dumps.

TensorFlow puts the whole offending tensor in some messages (e.g. `Tensor
conversion requested dtype float32 for Tensor with dtype float64: <tf.Tensor:
shape=(64, 64) ...>`), which buries the one line that says what is wrong.
`concise_errors` re-raises a `ValueError` or `TypeError` whose message is
longer than `MAX_MESSAGE_CHARS` with the message cut, chained to the
original (`__cause__` keeps every character).
"""
import functools

__all__ = ["MAX_MESSAGE_CHARS", "concise_errors"]

MAX_MESSAGE_CHARS = 1500


def _shortened(error):
  """A copy of `error` with its message cut, or None if that is not needed or possible."""
  message = str(error)
  if len(message) <= MAX_MESSAGE_CHARS or type(error) not in (ValueError, TypeError):
    return None
  head = message[:MAX_MESSAGE_CHARS]
  return type(error)(f"{head} ... [{len(message) - len(head):,} more characters cut; the "
                     f"full message is in this exception's __cause__]")


def concise_errors(method):
  """Decorates a public method: long `ValueError`/`TypeError` messages are cut."""
  @functools.wraps(method)
  def wrapper(*args, **kwargs):
    try:
      return method(*args, **kwargs)
    except (ValueError, TypeError) as error:
      short = _shortened(error)
      if short is None:
        raise
      raise short from error

  return wrapper
