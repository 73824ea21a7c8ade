"""Keras layer that owns one LDU block's networks and D-scales."""
import keras
import numpy as np

from tfp_ldu.bijectors.ldu import LDU
from tfp_ldu.layers.bijector_layer import BijectorLayer
from tfp_ldu.layers.bijector_layer import vector_event_size
from tfp_ldu.layers.bijector_layer import initialize_in_order
from tfp_ldu.layers.made_shift import MADEShift
from tfp_ldu.layers.pixelcnn_shift import PixelCNNShift
from tfp_ldu.layers.sinusoidal_parameters import SinusoidalParameters

__all__ = ["LDUBlock"]


@keras.saving.register_keras_serializable(package="tfp_ldu")
class LDUBlock(BijectorLayer):
  """Owns the two shift networks and the D-scales of one `LDU` bijector.

  `bijector()` returns a fresh `tfp_ldu.bijectors.LDU` whose shifts are two
  strictly autoregressive networks (lower: s_i sees x_{<i}; upper: s_i sees
  x_{>i}) — `MADEShift`s for vectors, or `PixelCNNShift`s (raster order,
  channels fastest) when `image_shape` is given — and `num_d_scales`
  `Sinusoidal` D-scales of K = `num_components` components.
  Shapes: `[..., D] -> [..., D]` (D = H*W*C for images, flat NHWC rows).

  Args:
    event_shape: `(D,)` (or D).
    num_d_scales, num_components: D-scales per block and their K.
    hidden_units, dropout, activation: of the MADEs (vectors).
    image_shape: (H, W, C) for PixelCNN shifts; None for MADEs.
    filters, num_residual_blocks: of the PixelCNNs (paper: 16 and 2).
    tolerance, max_iterations, solver: numeric-inverse settings.
    context_size: C > 0: both shifts (MADEs or conditional PixelCNNs) take the
      context features `[N, C]` (`bijector(context=c)`).
    context_d_scales: with a context, the D-scales' parameters move with it
      too (`SinusoidalParameters(context_size=C)`).
  """

  def __init__(self, event_shape, num_d_scales=4, num_components=4, hidden_units=(256, 256),
               dropout=0.0, activation="relu", tolerance=None, max_iterations=1000,
               solver="newton", image_shape=None, filters=16, num_residual_blocks=2,
               context_size=0, context_d_scales=True, **kwargs):
    super().__init__(**kwargs)
    self.event_size = vector_event_size(type(self).__name__, event_shape)
    self.num_d_scales = int(num_d_scales)
    self.num_components = int(num_components)
    self.hidden_units = tuple(hidden_units)
    self.dropout = float(dropout)
    self.activation = activation
    self.tolerance = tolerance
    self.max_iterations = int(max_iterations)
    self.solver = solver
    self.image_shape = None if image_shape is None else tuple(int(d) for d in image_shape)
    self.filters = int(filters)
    self.num_residual_blocks = int(num_residual_blocks)
    self.context_size = int(context_size)
    self.context_d_scales = bool(context_d_scales)
    if self.image_shape is None:
      shift = lambda upper, name: MADEShift(
          self.event_size, self.hidden_units, upper=upper, activation=activation,
          dropout=self.dropout, tolerance=tolerance, context_size=self.context_size,
          name=name, dtype=self.dtype_policy)
    else:
      if int(np.prod(self.image_shape)) != self.event_size:
        raise ValueError(f"LDUBlock: image_shape {self.image_shape} holds "
                         f"{int(np.prod(self.image_shape))} values, not event_size = "
                         f"{self.event_size}.")
      shift = lambda upper, name: PixelCNNShift(
          self.image_shape, filters=self.filters,
          num_residual_blocks=self.num_residual_blocks, upper=upper, tolerance=tolerance,
          context_size=self.context_size, name=name, dtype=self.dtype_policy)
    self.lower_shift = shift(False, "lower_shift")
    self.upper_shift = shift(True, "upper_shift")
    self.d_scales = [
        SinusoidalParameters(self.event_size, self.num_components, tolerance=tolerance,
                             max_iterations=max_iterations, solver=solver,
                             context_size=self.context_size if self.context_d_scales else 0,
                             name=f"d_scale_{i}",
                             dtype=self.dtype_policy)
        for i in range(self.num_d_scales)]
    self.built = True

  @property
  def parts(self):
    """The part layers in data -> latent order: U shift, D-scales, L shift."""
    return [self.upper_shift, *self.d_scales, self.lower_shift]

  def initialize(self, x, context=None):
    """Initialises each part that needs it from the batch that part sees."""
    initialize_in_order(self.parts, x, context)

  def bijector(self, training=None, context=None):
    """A fresh `LDU` bijector over this layer's current weights (shifts given `context`)."""
    del training
    lower, upper = self.lower_shift.shift_for(context), self.upper_shift.shift_for(context)
    return LDU(lower, [p.bijector(context=context if p.context_size else None)
                       for p in self.d_scales], upper,
               event_size=self.event_size, tolerance=self.tolerance)

  def get_config(self):
    return {**super().get_config(), "event_shape": [self.event_size],
            "num_d_scales": self.num_d_scales, "num_components": self.num_components,
            "hidden_units": list(self.hidden_units), "dropout": self.dropout,
            "activation": self.activation, "tolerance": self.tolerance,
            "max_iterations": self.max_iterations, "solver": self.solver,
            "image_shape": None if self.image_shape is None else list(self.image_shape),
            "filters": self.filters, "num_residual_blocks": self.num_residual_blocks,
            "context_size": self.context_size, "context_d_scales": self.context_d_scales}
