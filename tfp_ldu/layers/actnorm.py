"""Activation normalisation (Glow) with data-dependent initialisation."""
import keras
import numpy as np
import tensorflow as tf
from tensorflow_probability import bijectors as tfb

from tfp_ldu.layers.bijector_layer import BijectorLayer
from tfp_ldu.layers.bijector_layer import vector_event_size
from tfp_ldu.nets.initialized_flag import InitializedFlag

__all__ = ["ActNorm"]


@keras.saving.register_keras_serializable(package="tfp_ldu")
class ActNorm(InitializedFlag, BijectorLayer):
  """Owns an element-wise affine map; `bijector()` builds it.

      z = (x - m) * exp(-s)      (data -> latent, the bijector's `inverse`)
      inverse_log_det_jacobian = -sum_i s_i

  `m` and `s` start at 0 (identity) and are set from the first data batch by
  `initialize(x)`: m = mean, s = log std of `x` (shape `[N, D]`), so that
  the output starts standardised.  The flow models call it from `fit`.

  The scale is a `tfb.ScaleMatvecDiag` rather than `tfb.Scale(log_scale=s)`:
  TFLite converts the latter's log-det wrongly (it keeps only s_0 of the sum,
  measured with TF 2.21), while the matvec form converts exactly.
  """

  def __init__(self, event_shape, **kwargs):
    super().__init__(**kwargs)
    self.event_size = vector_event_size(type(self).__name__, event_shape)
    self.loc = self.add_weight(shape=(self.event_size,), initializer="zeros", name="loc")
    self.log_scale = self.add_weight(shape=(self.event_size,), initializer="zeros",
                                     name="log_scale")
    self.add_initialized_flag()
    self.built = True

  def initialize(self, x):
    """Sets m, s from a batch `x` of shape `[N, D]` (eagerly, once)."""
    x = np.asarray(keras.ops.convert_to_numpy(x), dtype=np.float64)
    if x.ndim != 2 or x.shape[-1] != self.event_size or len(x) < 2:
      raise ValueError(f"ActNorm.initialize: expected a batch of shape [N >= 2, "
                       f"{self.event_size}]; received shape {list(x.shape)}.")
    if not np.all(np.isfinite(x)):
      raise ValueError("ActNorm.initialize: the batch holds non-finite values.")
    self.loc.assign(x.mean(axis=0).astype(self.loc.dtype))
    self.log_scale.assign(np.log(x.std(axis=0) + 1e-6).astype(self.log_scale.dtype))
    self.initialized.assign(1.0)

  def bijector(self, training=None):
    """latent -> data: x = z * exp(s) + m."""
    del training
    return tfb.Chain([tfb.Shift(tf.convert_to_tensor(self.loc)),
                      tfb.ScaleMatvecDiag(tf.exp(tf.convert_to_tensor(self.log_scale)))],
                     name="actnorm")

  def get_config(self):
    return {**super().get_config(), "event_shape": [self.event_size]}
