"""Z-scoring of a conditional flow's context, with statistics from the training data."""
import keras
import numpy as np
import tensorflow as tf

from tfp_ldu.nets.initialized_flag import InitializedFlag

__all__ = ["ContextStandardization"]


@keras.saving.register_keras_serializable(package="tfp_ldu")
class ContextStandardization(InitializedFlag, keras.layers.Layer):
  """c -> (c - m) / s per context feature, so users pass contexts in raw units.

  m and s (`[*context_shape]`, non-trainable, saved with the model) start at
  0 and 1 and are set once by `initialize(c)` from training contexts: the
  feature means and standard deviations (sbi's `z_score_x`).  A constant
  feature (s = 0, e.g. a one-hot column that never fires in the batch) gets
  s = 1, so it is only shifted.  Shapes: `[N, *context_shape]` in and out.
  """

  def __init__(self, context_shape, **kwargs):
    super().__init__(**kwargs)
    self.context_shape = tuple(int(d) for d in context_shape)
    self.mean = self.add_weight(shape=self.context_shape, initializer="zeros",
                                trainable=False, name="mean")
    self.scale = self.add_weight(shape=self.context_shape, initializer="ones",
                                 trainable=False, name="scale")
    self.add_initialized_flag()
    self.built = True

  def initialize(self, context):
    """Sets m, s from contexts `[N >= 2, *context_shape]` (eagerly, once)."""
    values = np.asarray(keras.ops.convert_to_numpy(context), dtype=np.float64)
    if values.shape[1:] != self.context_shape or len(values) < 2:
      raise ValueError(f"ContextStandardization.initialize: expected contexts of shape "
                       f"[N >= 2, {', '.join(map(str, self.context_shape))}]; received "
                       f"shape {list(values.shape)}.")
    bad = ~np.all(np.isfinite(values.reshape(len(values), -1)), axis=1)
    if bad.any():
      raise ValueError(f"ContextStandardization.initialize: the contexts hold NaN/inf "
                       f"values (rows {np.flatnonzero(bad)[:5].tolist()}).")
    scale = values.std(axis=0)
    scale = np.where(scale > 1e-12, scale, 1.0)
    self.mean.assign(values.mean(axis=0).astype(self.mean.dtype))
    self.scale.assign(scale.astype(self.scale.dtype))
    self.initialized.assign(1.0)

  def call(self, context):
    return (context - tf.cast(self.mean, context.dtype)) / tf.cast(self.scale, context.dtype)

  def get_config(self):
    return {**super().get_config(), "context_shape": list(self.context_shape)}
