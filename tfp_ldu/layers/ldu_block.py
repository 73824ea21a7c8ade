"""Keras layer that owns one LDU block's networks and D-scales."""
import keras

from tfp_ldu.bijectors.ldu import LDU
from tfp_ldu.layers.made_shift import MADEShift
from tfp_ldu.layers.sinusoidal_parameters import SinusoidalParameters

__all__ = ["LDUBlock"]


@keras.saving.register_keras_serializable(package="tfp_ldu")
class LDUBlock(keras.layers.Layer):
  """Owns the two MADE shift networks and the D-scales of one `LDU` bijector.

  `bijector()` returns a fresh `tfp_ldu.bijectors.LDU` whose shifts are two
  `MADEShift` networks (lower: s_i sees x_{<i}; upper: s_i sees x_{>i}) and
  `num_d_scales` `Sinusoidal` D-scales of K = `num_mixtures` components.  Shapes: `[..., D] -> [..., D]`.
  """

  def __init__(self, event_dim, num_d_scales=4, num_mixtures=4, hidden_units=(256, 256),
               dropout=0.0, activation="relu", tolerance=None, max_iterations=1000,
               solver="newton", **kwargs):
    super().__init__(**kwargs)
    self.event_dim = int(event_dim)
    self.num_d_scales = int(num_d_scales)
    self.num_mixtures = int(num_mixtures)
    self.hidden_units = tuple(hidden_units)
    self.dropout = float(dropout)
    self.activation = activation
    self.tolerance = tolerance
    self.max_iterations = int(max_iterations)
    self.solver = solver
    shift = lambda upper, name: MADEShift(
        self.event_dim, self.hidden_units, upper=upper, activation=activation,
        dropout=self.dropout, tolerance=tolerance, name=name, dtype=self.dtype_policy)
    self.lower_shift = shift(False, "lower_shift")
    self.upper_shift = shift(True, "upper_shift")
    self.d_scales = [
        SinusoidalParameters(self.event_dim, self.num_mixtures, tolerance=tolerance,
                             max_iterations=max_iterations, solver=solver,
                             name=f"d_scale_{i}",
                             dtype=self.dtype_policy)
        for i in range(self.num_d_scales)]
    self.built = True

  def bijector(self):
    """A fresh `LDU` bijector over this layer's current weights."""
    return LDU(self.lower_shift.shift, [p.bijector() for p in self.d_scales],
               self.upper_shift.shift, event_size=self.event_dim, tolerance=self.tolerance)

  def call(self, x):
    """Data -> latent through the block."""
    return self.bijector().inverse(x)

  def get_config(self):
    return {**super().get_config(), "event_dim": self.event_dim,
            "num_d_scales": self.num_d_scales, "num_mixtures": self.num_mixtures,
            "hidden_units": list(self.hidden_units), "dropout": self.dropout,
            "activation": self.activation, "tolerance": self.tolerance,
            "max_iterations": self.max_iterations, "solver": self.solver}
