"""Batch normalisation between MAF transforms (Papamakarios et al., 2017)."""
import keras
import numpy as np
import tensorflow as tf

from tfp_ldu.bijectors.batch_norm import BatchNorm
from tfp_ldu.layers.bijector_layer import BijectorLayer
from tfp_ldu.layers.bijector_layer import vector_event_size
from tfp_ldu.nets.initialized_flag import InitializedFlag

__all__ = ["BatchNormalization"]


@keras.saving.register_keras_serializable(package="tfp_ldu")
class BatchNormalization(InitializedFlag, BijectorLayer):
  """Owns the weights of a `tfp_ldu.bijectors.BatchNorm`; `bijector(training)` builds it.

      z = (x - m) / sqrt(v + eps) * exp(log_gamma) + beta     (data -> latent)
      inverse_log_det_jacobian = sum_d [log_gamma_d - 1/2 log(v_d + eps)]

  `bijector(training=True)`: (m, v) are the biased moments of the batch the
  bijector's `inverse` receives, and computing them updates the moving
  averages (momentum rho, as Keras' `BatchNormalization`):

      moving_mean <- rho moving_mean + (1 - rho) m,   same for moving_variance.

  The update is an `assign` inside the traced training step, so it runs in
  `fit` with or without `jit_compile=True`.  `bijector()` /
  `bijector(training=False)` (evaluation, `log_prob`, `sample`) uses the
  moving averages, and is then an exact affine bijection.  Trainable:
  `log_gamma`, `beta` (0: identity); not trainable: `moving_mean` (0),
  `moving_variance` (1).  `set_statistics(x)` sets the moving statistics
  to the moments of a data set, which is what the MAF authors' code does
  after training instead of keeping a moving average.

  Data-dependent initialisation (`initialize(x)`, run by `FlowModel.fit` on
  the first batch): the moving statistics start as that batch's moments, so
  evaluation mode agrees with training mode from the start.  Without it,
  layers initialised after this one (an actnorm) would be fitted to the
  evaluation-mode outputs of the default statistics (0, 1), which training
  mode never produces.

  Shapes: `x` `[N, D]`.
  """

  def __init__(self, event_shape, momentum=0.95, epsilon=1e-5, **kwargs):
    """Builds the layer.

    Args:
      event_shape: `(D,)` (or D).
      momentum: rho in [0, 1) of the moving averages.
      epsilon: added to the variance (1e-5, as the MAF code).
      **kwargs: standard Keras layer arguments.
    """
    super().__init__(**kwargs)
    if not 0.0 <= float(momentum) < 1.0:
      raise ValueError(f"BatchNormalization: momentum must be in [0, 1); got {momentum}.")
    if not float(epsilon) >= 0.0:
      raise ValueError(f"BatchNormalization: epsilon must be >= 0; got {epsilon}.")
    self.event_size = vector_event_size(type(self).__name__, event_shape)
    self.momentum = float(momentum)
    self.epsilon = float(epsilon)
    shape = (self.event_size,)
    self.log_gamma = self.add_weight(shape=shape, initializer="zeros", name="log_gamma")
    self.beta = self.add_weight(shape=shape, initializer="zeros", name="beta")
    self.moving_mean = self.add_weight(shape=shape, initializer="zeros", trainable=False,
                                       autocast=False, name="moving_mean")
    self.moving_variance = self.add_weight(shape=shape, initializer="ones", trainable=False,
                                           autocast=False, name="moving_variance")
    self.add_initialized_flag()
    self.built = True

  def bijector(self, training=None):
    """latent -> data; batch statistics (and moving-average updates) when `training`."""
    read = tf.convert_to_tensor
    if training:
      return BatchNorm(read(self.log_gamma), read(self.beta), epsilon=self.epsilon,
                       on_batch_moments=self._update_moving_statistics)
    dtype = self.log_gamma.dtype
    return BatchNorm(read(self.log_gamma), read(self.beta),
                     mean=tf.cast(read(self.moving_mean), dtype),
                     variance=tf.cast(read(self.moving_variance), dtype),
                     epsilon=self.epsilon)

  def _update_moving_statistics(self, mean, variance):
    for moving, batch in ((self.moving_mean, mean), (self.moving_variance, variance)):
      batch = tf.cast(tf.stop_gradient(batch), moving.dtype)
      moving.assign(self.momentum * moving + (1.0 - self.momentum) * batch)

  def set_statistics(self, x):
    """Sets the moving mean and variance to the moments of `x` `[N, D]` (eagerly)."""
    x = np.asarray(keras.ops.convert_to_numpy(x), dtype=np.float64)
    if x.ndim != 2 or x.shape[-1] != self.event_size or len(x) < 2:
      raise ValueError(f"BatchNormalization.set_statistics: expected data of shape "
                       f"[N >= 2, {self.event_size}]; received shape {list(x.shape)}.")
    self.moving_mean.assign(x.mean(axis=0).astype(self.moving_mean.dtype))
    self.moving_variance.assign(x.var(axis=0).astype(self.moving_variance.dtype))

  collects_statistics = True

  def after_training(self, x):
    """`set_statistics(x)`: the MAF authors' evaluation statistics, set after training."""
    self.set_statistics(x)

  def initialize(self, x):
    """Starts the moving statistics at the moments of the batch `x` `[N >= 2, D]`."""
    self.set_statistics(x)
    self.initialized.assign(1.0)

  def get_config(self):
    return {**super().get_config(), "event_shape": [self.event_size],
            "momentum": self.momentum, "epsilon": self.epsilon}
