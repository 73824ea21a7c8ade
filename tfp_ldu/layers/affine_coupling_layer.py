"""Glow's affine (and NICE/RealNVP's additive) coupling on images, any static mask."""
import keras
import numpy as np
import tensorflow as tf

from tfp_ldu.bijectors.elementwise_affine import ElementwiseAffine
from tfp_ldu.bijectors.masked_coupling import MaskedCoupling
from tfp_ldu.bijectors.shape_checks import check_image_shape, check_transform_mask
from tfp_ldu.layers.bijector_layer import BijectorLayer
from tfp_ldu.layers.precision import conditioner_policy
from tfp_ldu.nets.context_inputs import check_context
from tfp_ldu.nets.context_inputs import concat_context
from tfp_ldu.nets.coupling_conv_net import CouplingConvNet

__all__ = ["AffineCouplingLayer"]


@keras.saving.register_keras_serializable(package="tfp_ldu")
class AffineCouplingLayer(BijectorLayer):
  """Owns a `CouplingConvNet`; `bijector()` builds a `MaskedCoupling` with an affine transformer.

  With m = `transform_mask` (`[H, W, C]` bools, e.g.
  `tfp_ldu.bijectors.masks.checkerboard_mask` or `channel_mask`), the network
  sees the image with the transformed elements zeroed, concatenated with the
  mask as C more channels (`[N, H, W, 2C]`), and returns per element a shift
  t and a scale logit h (`[N, H, W, 2C]`: t in channels `[0, C)`, h in
  `[C, 2C)`), of which the transformed elements are gathered in flat NHWC
  order.  Data -> latent (the bijector's `inverse`) on the transformed
  elements x[m]:

      affine (Glow):      z[m] = (x[m] + t) * sigmoid(h + 2)
                          inverse_log_det_jacobian = sum log sigmoid(h + 2)
      additive (NICE):    z[m] = x[m] + t,   log-det 0

  and z[~m] = x[~m].  The bounded scale sigmoid(h + 2) in (0, 1) (about
  0.88 at h = 0) is what Glow's code uses instead of the paper's exp(h): it
  keeps the inverse stable.  The network's last convolution starts at zero,
  so the coupling starts as a fixed scaling (affine) or the identity
  (additive).  Sampling (`forward`) is closed form: x[m] = z[m] / s - t.

  Args:
    event_shape: `(H, W, C)`.
    transform_mask: `[H, W, C]` bools, True where transformed (both parts
      non-empty).
    hidden_channels: width of the network (Glow: 512).
    additive: NICE's additive coupling instead of the affine one.
    context_size: C_ctx > 0 for a conditional coupling: the network also
      reads the context features `[N, C_ctx]`, broadcast over the image as
      C_ctx more channels (`bijector(context=c)`; `concat_context`).
    **kwargs: standard Keras layer arguments.

  #### References

  [1] Kingma, Dhariwal. Glow: Generative Flow with Invertible 1x1
      Convolutions. NeurIPS 2018. https://arxiv.org/abs/1807.03039
  [2] Dinh, Sohl-Dickstein, Bengio. Density estimation using Real NVP.
      ICLR 2017. https://arxiv.org/abs/1605.08803
  [3] Dinh, Krueger, Bengio. NICE: Non-linear Independent Components
      Estimation. 2015. https://arxiv.org/abs/1410.8516
  """

  def __init__(self, event_shape, transform_mask, hidden_channels=512, additive=False,
               context_size=0, **kwargs):
    super().__init__(**kwargs)
    self.image_shape = check_image_shape("AffineCouplingLayer", event_shape)
    self.transform_mask = mask = check_transform_mask("AffineCouplingLayer", transform_mask,
                                                      self.image_shape)
    self.hidden_channels = int(hidden_channels)
    self.additive = bool(additive)
    self.context_size = int(context_size)
    channels = self.image_shape[-1]
    self.network = CouplingConvNet(self.hidden_channels,
                                   channels if self.additive else 2 * channels,
                                   name="network",
                                   dtype=conditioner_policy(self.dtype_policy))
    self.network.build((None, *self.image_shape[:2], 2 * channels + self.context_size))
    self._transformed_indices = np.flatnonzero(mask.reshape(-1))
    self.built = True

  def coupling_parameters(self, masked, context=None):
    """(t,) or (t, h), each `[..., D_t]`, from the image `[..., H, W, C]` with x[m] zeroed
    (and the context `[N, C_ctx]`)."""
    mask = tf.broadcast_to(tf.constant(self.transform_mask, masked.dtype), tf.shape(masked))
    inputs = concat_context(tf.concat([masked, mask], axis=-1), context, spatial_axes=2)
    out = tf.cast(self.network(inputs), masked.dtype)
    flat_shape = tf.concat([tf.shape(masked)[:-3], [-1]], axis=0)
    channels = self.image_shape[-1]
    parts = (out,) if self.additive else (out[..., :channels], out[..., channels:])
    return tuple(tf.gather(tf.reshape(part, flat_shape), self._transformed_indices, axis=-1)
                 for part in parts)

  @staticmethod
  def _affine(shift, scale_logit):
    # z = (x + t) * s  <=>  x = z * exp(-log s) - t.
    return ElementwiseAffine(shift=-shift, log_scale=-tf.math.log_sigmoid(scale_logit + 2.0),
                             event_ndims=1, name="affine")

  @staticmethod
  def _additive(shift):
    return ElementwiseAffine(shift=-shift, event_ndims=1, name="additive")

  def bijector(self, training=None, context=None):
    """A fresh `MaskedCoupling` over the current weights (given `context`)."""
    del training
    check_context(type(self).__name__, self.context_size, context)
    transformer = self._additive if self.additive else self._affine
    return MaskedCoupling(lambda masked: self.coupling_parameters(masked, context),
                          transformer, self.transform_mask)

  def get_config(self):
    return {**super().get_config(), "event_shape": list(self.image_shape),
            "transform_mask": self.transform_mask.tolist(),
            "hidden_channels": self.hidden_channels, "additive": self.additive,
            "context_size": self.context_size}
