"""Activation normalisation of images: per channel (Glow) or per position (Flow++)."""
import keras
import numpy as np
import tensorflow as tf

from tfp_ldu.bijectors.elementwise_affine import ElementwiseAffine
from tfp_ldu.bijectors.shape_checks import check_image_shape
from tfp_ldu.layers.bijector_layer import BijectorLayer
from tfp_ldu.nets.initialized_flag import InitializedFlag

__all__ = ["ImageActNorm"]


@keras.saving.register_keras_serializable(package="tfp_ldu")
class ImageActNorm(InitializedFlag, BijectorLayer):
  """Element-wise affine normalisation of `[N, H, W, C]` images with data-dependent init.

  Data -> latent (the bijector's `inverse`):

      z[n, h, w, c] = (x[n, h, w, c] - m) * exp(-s)
      per="channel":   m = loc[c],       s = log_scale[c]        (Glow)
      per="position":  m = loc[h, w, c], s = log_scale[h, w, c]  (Flow++ `Norm`)
      inverse_log_det_jacobian = -H * W * sum_c log_scale[c]   (per channel)
                               = -sum_{h,w,c} log_scale[h, w, c]  (per position)

  `loc` and `log_scale` (shape `[C]` or `[H, W, C]`) start at 0 (identity);
  `initialize(x)` sets them from a first batch `[N, H, W, C]` to its mean
  and log standard deviation over the batch (and, per channel, over the
  pixels), so the output starts with mean 0 and standard deviation 1 per
  channel (per position).  `FlowModel.fit` calls it; the `initialized` flag
  is saved with the weights, so a reloaded model is not re-initialised.
  Glow stores the log-scale divided by 3 ("logscale_factor"); here it is
  stored as it is.

  Args:
    event_shape: `(H, W, C)`.
    per: "channel" or "position".
    **kwargs: standard Keras layer arguments.

  #### References

  [1] Kingma, Dhariwal. Glow: Generative Flow with Invertible 1x1
      Convolutions. NeurIPS 2018, section 3.1. https://arxiv.org/abs/1807.03039
  [2] Ho, Chen, Srinivas, Duan, Abbeel. Flow++. ICML 2019.
      https://arxiv.org/abs/1902.00275
  """

  def __init__(self, event_shape, per="channel", **kwargs):
    super().__init__(**kwargs)
    self.image_shape = check_image_shape("ImageActNorm", event_shape)
    if per not in ("channel", "position"):
      raise ValueError(f'ImageActNorm: per must be "channel" or "position"; got {per!r}.')
    self.per = per
    shape = self.image_shape[-1:] if per == "channel" else self.image_shape
    self.loc = self.add_weight(shape=shape, initializer="zeros", name="loc")
    self.log_scale = self.add_weight(shape=shape, initializer="zeros", name="log_scale")
    self.add_initialized_flag()
    self.built = True

  def initialize(self, x):
    """Sets loc, log_scale from a batch `x` `[N, H, W, C]` (eagerly, once)."""
    x = np.asarray(keras.ops.convert_to_numpy(x), dtype=np.float64)
    if x.ndim != 4 or x.shape[1:] != self.image_shape or len(x) < 2:
      raise ValueError(f"ImageActNorm.initialize: expected a batch of shape [N >= 2, "
                       f"{', '.join(str(d) for d in self.image_shape)}]; received shape "
                       f"{list(x.shape)}.")
    if not np.all(np.isfinite(x)):
      raise ValueError("ImageActNorm.initialize: the batch holds non-finite values.")
    axes = (0, 1, 2) if self.per == "channel" else (0,)
    self.loc.assign(x.mean(axis=axes).astype(self.loc.dtype))
    self.log_scale.assign(np.log(x.std(axis=axes) + 1e-6).astype(self.log_scale.dtype))
    self.initialized.assign(1.0)

  def bijector(self, training=None):
    """latent -> data: x = z * exp(log_scale) + loc, on `[..., H, W, C]`."""
    del training
    return ElementwiseAffine(shift=tf.convert_to_tensor(self.loc),
                             log_scale=tf.convert_to_tensor(self.log_scale),
                             event_ndims=3, name="image_actnorm")

  def get_config(self):
    return {**super().get_config(), "event_shape": list(self.image_shape), "per": self.per}
