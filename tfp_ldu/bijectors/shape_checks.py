"""Static shape checks shared by the bijectors: errors name expected and received shapes."""
import numpy as np
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


def check_event_shape(owner: str, x, event_shape, event_ndims: int = 1):
  """Checks that `x` is `[..., *event_shape]` (statically, where shapes are known).

  Args:
    owner: class name for the message.
    x: the input tensor.
    event_shape: `tf.TensorShape` (entries may be None) or None (unknown).
    event_ndims: the event rank; `x` must have at least this many dimensions.
  Raises:
    ValueError naming the expected and received shapes.
  """
  shape = tf.TensorShape(x.shape)
  if shape.rank is None:
    return
  expected = (tf.TensorShape([None] * event_ndims) if event_shape is None
              else tf.TensorShape(event_shape))
  if shape.rank < expected.rank or not shape[shape.rank - expected.rank:].is_compatible_with(
      expected):
    dims = ", ".join("?" if d is None else str(d) for d in expected.as_list())
    size = ("" if expected.rank != 1 or expected[0] is None
            else f" (event size D={expected[0]})")
    raise ValueError(f"{owner}: expected input of shape [..., {dims}]{size}; "
                     f"received shape {shape.as_list()}.")


def check_image_shape(owner: str, image_shape) -> tuple:
  """`image_shape` as `(H, W, C)` positive ints, or a `ValueError` naming `owner`."""
  shape = tuple(int(d) for d in image_shape)
  if len(shape) != 3 or min(shape) < 1:
    raise ValueError(f"{owner}: image_shape must be (H, W, C) with positive sizes; got "
                     f"{tuple(image_shape)!r}.")
  return shape


def check_transform_mask(owner: str, transform_mask, shape=None):
  """A coupling's mask as a numpy bool array, or a `ValueError` naming `owner`.

  The mask must be bools (of `shape`, if given) with at least one transformed
  (True) and one pass-through (False) element.
  """
  mask = np.asarray(transform_mask)
  wanted = "a bool mask" if shape is None else "x".join(str(d) for d in shape) + " bools"
  if (mask.ndim < 1 or mask.dtype != np.bool_ or mask.all() or not mask.any()
      or (shape is not None and mask.shape != tuple(shape))):
    raise ValueError(f"{owner}: transform_mask must be {wanted} with at least one "
                     f"transformed (True) and one pass-through (False) element; received "
                     f"{mask.dtype} of shape {mask.shape}: {mask.tolist()!r}.")
  return mask
