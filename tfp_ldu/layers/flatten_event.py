"""`FlattenEvent`: the reshape of an image event to a flat vector, as a flow layer."""
import math

import keras
import tensorflow_probability as tfp

from tfp_ldu.layers.bijector_layer import BijectorLayer

tfb = tfp.bijectors

__all__ = ["FlattenEvent", "flat_event_shape"]


def flat_event_shape(event_shape):
  """`(D,)` with D the number of scalars of `event_shape` (an int or a tuple)."""
  dims = (int(event_shape),) if isinstance(event_shape, int) else tuple(event_shape)
  return (math.prod(int(d) for d in dims),)


@keras.saving.register_keras_serializable(package="tfp_ldu")
class FlattenEvent(BijectorLayer):
  """Data -> latent: `[..., *event_shape] -> [..., D]` in row-major (NHWC) order.

  The first layer of a flow whose other layers act on vectors (MADE-style:
  LDU, MAF, NAF, ...), so that it also models images: `tfb.Reshape`, with
  zero log-determinant; for a vector event it is the identity.  No weights.

  Args:
    event_shape: the shape of one data point, e.g. `(H, W, C)` or `(D,)`.
  """

  def __init__(self, event_shape, **kwargs):
    super().__init__(**kwargs)
    self.event_shape = tuple(int(d) for d in (
        (event_shape,) if isinstance(event_shape, int) else event_shape))
    self.built = True

  def bijector(self, training=None):
    """latent -> data: `[..., D] -> [..., *event_shape]`."""
    del training
    if len(self.event_shape) == 1:
      return tfb.Identity(name="flatten_event")
    return tfb.Reshape(event_shape_out=self.event_shape,
                       event_shape_in=flat_event_shape(self.event_shape), name="flatten_event")

  def get_config(self):
    return {**super().get_config(), "event_shape": list(self.event_shape)}
