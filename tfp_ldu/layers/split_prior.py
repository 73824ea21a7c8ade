"""Glow's learned prior of a factored-out half, as a standardising coupling."""
import keras
import tensorflow as tf

from tfp_ldu.bijectors.elementwise_affine import ElementwiseAffine
from tfp_ldu.bijectors.masked_coupling import MaskedCoupling
from tfp_ldu.bijectors.masks import channel_mask
from tfp_ldu.layers.bijector_layer import BijectorLayer
from tfp_ldu.nets.coupling_conv_net import map_images

__all__ = ["SplitPrior"]


@keras.saving.register_keras_serializable(package="tfp_ldu")
class SplitPrior(BijectorLayer):
  """Standardises the second channel half z2 under N(mu(z1), sigma(z1)), keeps z1.

  Glow (openai/glow `split2d`) factors out the second half z2 of the channels
  of `[N, H, W, C]` after each level and models it with a conditional prior
  N(z2; mu(z1), sigma(z1)), where (mu, log sigma) = a zero-initialised 3x3
  convolution of the kept half z1.  Here that prior is the change of
  variables (a `MaskedCoupling` on `channel_mask`), so the latent stays one
  standard normal over all D dimensions:

      z1 unchanged
      eps2 = (z2 - mu(z1)) * exp(-log sigma(z1))          (data -> latent)
      inverse_log_det_jacobian = -sum log sigma(z1)

  and N(eps2; 0, I) times this Jacobian is exactly N(z2; mu, sigma).  The
  convolution starts at zero: the prior starts as N(0, I) (the identity).
  The convolution's output channels are (mu, log sigma) = (`[0, C2)`,
  `[C2, 2 C2)`), C2 = C - C // 2.

  Args:
    event_shape: `(H, W, C)`, C >= 2.
    kernel_size: of the convolution (Glow: 3).
    **kwargs: standard Keras layer arguments.

  #### References

  [1] Kingma, Dhariwal. Glow: Generative Flow with Invertible 1x1
      Convolutions. NeurIPS 2018. https://arxiv.org/abs/1807.03039
  [2] Dinh, Sohl-Dickstein, Bengio. Density estimation using Real NVP.
      ICLR 2017, section 3.6 (multi-scale architecture).
      https://arxiv.org/abs/1605.08803
  """

  def __init__(self, event_shape, kernel_size=3, **kwargs):
    super().__init__(**kwargs)
    self.image_shape = tuple(int(d) for d in event_shape)
    self.transform_mask = channel_mask(self.image_shape)
    self.kernel_size = int(kernel_size)
    channels = self.image_shape[-1]
    self.kept_channels = channels // 2
    self.factored_channels = channels - self.kept_channels
    self.conv = keras.layers.Conv2D(2 * self.factored_channels, self.kernel_size,
                                    padding="same", kernel_initializer="zeros",
                                    bias_initializer="zeros", name="prior_conv",
                                    dtype=self.dtype_policy)
    self.conv.build((None, *self.image_shape[:2], self.kept_channels))
    self.built = True

  def prior_parameters(self, masked):
    """(mu, log sigma), each `[..., H * W * C2]` in flat order, from `[..., H, W, C]`."""
    kept = masked[..., :self.kept_channels]
    out = tf.cast(map_images(self.conv, kept), masked.dtype)
    flat_shape = tf.concat([tf.shape(masked)[:-3], [-1]], axis=0)
    return (tf.reshape(out[..., :self.factored_channels], flat_shape),
            tf.reshape(out[..., self.factored_channels:], flat_shape))

  @staticmethod
  def _standardiser(mean, log_sigma):
    return ElementwiseAffine(shift=mean, log_scale=log_sigma, event_ndims=1,
                             name="split_prior")

  def bijector(self, training=None):
    """A fresh `MaskedCoupling` over the current weights."""
    del training
    return MaskedCoupling(self.prior_parameters, self._standardiser, self.transform_mask)

  def get_config(self):
    return {**super().get_config(), "event_shape": list(self.image_shape),
            "kernel_size": self.kernel_size}
