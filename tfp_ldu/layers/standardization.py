"""Fixed per-column standardisation, as a flow layer with its log-det."""
import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_ldu.layers.bijector_layer import BijectorLayer
from tfp_ldu.layers.bijector_layer import vector_event_size

tfb = tfp.bijectors

__all__ = ["Standardization"]


@keras.saving.register_keras_serializable(package="tfp_ldu")
class Standardization(BijectorLayer):
  """Data -> latent: z_i = (x_i - loc_i) / scale_i, with constants fixed at construction.

      inverse_log_det_jacobian = -sum_i log scale_i

  Placed first in a flow (`FlowModel(preprocessing=[...])`), it lets the
  model take data in the user's own units: `log_prob(x)` is the density of
  raw x (the log-det counts the change of units), `sample` returns raw
  rows, and an exported SavedModel does the same without this library.
  `from_data(x)` takes the constants from training data (mean and standard
  deviation, ddof = 0, as the MAF benchmarks are standardised).  No
  weights: the constants are part of the config.

  Shapes: `x` is `[N, D]`; `loc` and `scale` are `[D]`.
  """

  def __init__(self, loc, scale, **kwargs):
    """Builds the layer.

    Args:
      loc: `[D]` column centres (e.g. training means).
      scale: `[D]` positive, finite column scales (e.g. standard deviations).
      **kwargs: Keras layer arguments.

    Raises:
      ValueError: `loc` and `scale` of different or non-vector shapes, a
        non-finite value, or a scale that is not positive.
    """
    super().__init__(**kwargs)
    loc = np.asarray(loc, np.float64)
    scale = np.asarray(scale, np.float64)
    if loc.ndim != 1 or loc.shape != scale.shape:
      raise ValueError(f"Standardization: loc and scale must be [D] vectors of one length; "
                       f"got shapes {loc.shape} and {scale.shape}.")
    vector_event_size("Standardization", loc.shape)
    if not (np.all(np.isfinite(loc)) and np.all(np.isfinite(scale))):
      raise ValueError("Standardization: loc and scale must be finite.")
    if np.any(scale <= 0):
      bad = np.flatnonzero(scale <= 0).tolist()
      raise ValueError(f"Standardization: scale must be positive; columns {bad} have "
                       f"{scale[bad].tolist()} (a constant column cannot be standardised).")
    self.loc, self.scale = loc, scale
    self.built = True

  @classmethod
  def from_data(cls, x, **kwargs):
    """The layer with the mean and standard deviation (ddof = 0) of `x` `[N, D]`."""
    x = np.asarray(x, np.float64)
    return cls(x.mean(axis=0), x.std(axis=0), **kwargs)

  @property
  def event_size(self):
    """D."""
    return len(self.loc)

  def bijector(self, training=None):
    """latent -> data: x = loc + scale * z, in the layer's dtype."""
    del training
    dtype = self.compute_dtype
    return tfb.Chain([tfb.Shift(tf.constant(self.loc, dtype)),
                      tfb.Scale(tf.constant(self.scale, dtype))], name="standardization")

  def get_config(self):
    return {**super().get_config(), "loc": self.loc.tolist(), "scale": self.scale.tolist()}
