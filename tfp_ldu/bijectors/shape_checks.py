"""Static shape checks shared by the bijectors: errors name expected and received shapes."""
import tensorflow as tf


def _trailing(shape, n):
  return list(shape[-n:]) if n else []


def event_and_components(owner: str, reference_name: str, reference) -> tuple:
  """(D, K) from a `[..., D, K]` parameter, with a clear error if its rank is < 2."""
  shape = tf.TensorShape(reference.shape)
  if shape.rank is not None and shape.rank < 2:
    raise ValueError(f"{owner}: parameter `{reference_name}` must have shape "
                     f"[..., D, K]; received shape {shape.as_list()}.")
  return shape[-2], shape[-1]


def check_parameter_shapes(owner: str, expected: dict, parameters: dict):
  """Checks each parameter's trailing dims against `expected`.

  Args:
    owner: class name for the message.
    expected: name -> tuple of expected trailing sizes (None = unknown).
    parameters: name -> tensor.
  Raises:
    ValueError naming the parameter, its expected trailing shape and its shape.
  """
  for name, dims in expected.items():
    shape = tf.TensorShape(parameters[name].shape)
    if shape.rank is None:
      continue
    pattern = "[..., " + ", ".join("?" if d is None else str(d) for d in dims) + "]"
    if shape.rank < len(dims):
      raise ValueError(f"{owner}: parameter `{name}` must have shape {pattern}; "
                       f"received shape {shape.as_list()}.")
    got = _trailing(shape.as_list(), len(dims))
    if any(d is not None and g is not None and d != g for d, g in zip(dims, got)):
      raise ValueError(f"{owner}: parameter `{name}` must have shape {pattern}; "
                       f"received shape {shape.as_list()}.")


def check_event_size(owner: str, x, event_size):
  """Checks that `x` is `[..., event_size]` (statically, where shapes are known)."""
  shape = tf.TensorShape(x.shape)
  if event_size is None or shape.rank is None:
    return
  if shape.rank == 0 or (shape[-1] is not None and shape[-1] != event_size):
    raise ValueError(f"{owner}: expected input of shape [..., {event_size}] "
                     f"(event size D={event_size}); received shape {shape.as_list()}.")
