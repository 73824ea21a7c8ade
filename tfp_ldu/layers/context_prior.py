"""Glow's class-conditional prior of the top latent, as a standardising layer."""
import keras
import tensorflow as tf

from tfp_ldu.bijectors.elementwise_affine import ElementwiseAffine
from tfp_ldu.bijectors.shape_checks import check_image_shape
from tfp_ldu.layers.bijector_layer import BijectorLayer
from tfp_ldu.nets.context_inputs import check_context

__all__ = ["ContextPrior"]


@keras.saving.register_keras_serializable(package="tfp_ldu")
class ContextPrior(BijectorLayer):
  """Standardises an image `[N, H, W, C]` under N(mu(c), sigma(c)), per channel.

  openai/glow's `prior` with `ycond`: (mu, log sigma) = a zero-initialised
  linear map of the context (the one-hot class there) to 2C numbers,
  broadcast over the spatial axes.  As a change of variables at the end of
  the flow (so the base stays N(0, I)):

      eps = (z - mu(c)) * exp(-log sigma(c))                (data -> latent)
      inverse_log_det_jacobian = -H W sum_c log sigma_c(c)

  and N(eps; 0, I) times this Jacobian is N(z; mu(c), sigma(c)).  Starting
  at zero, the prior starts as N(0, I) for every context.

  Args:
    event_shape: `(H, W, C)`.
    context_size: C_ctx >= 1, the context features (`bijector(context=c)`,
      c `[N, C_ctx]`).
    **kwargs: standard Keras layer arguments.

  #### References

  [1] Kingma, Dhariwal. Glow: Generative Flow with Invertible 1x1
      Convolutions. NeurIPS 2018 (class-conditional CIFAR-10 and celebA
      attributes). https://arxiv.org/abs/1807.03039
  """

  def __init__(self, event_shape, context_size, **kwargs):
    super().__init__(**kwargs)
    self.image_shape = check_image_shape("ContextPrior", event_shape)
    self.context_size = int(context_size)
    if self.context_size < 1:
      raise ValueError(f"ContextPrior: context_size must be >= 1; got {context_size}.")
    channels = self.image_shape[-1]
    self.projection = keras.layers.Dense(2 * channels, kernel_initializer="zeros",
                                         bias_initializer="zeros", name="projection",
                                         dtype=self.dtype_policy)
    self.projection.build((None, self.context_size))
    self.built = True

  def prior_parameters(self, context):
    """(mu, log sigma), each `[N, 1, 1, C]`, from the context `[N, C_ctx]`."""
    channels = self.image_shape[-1]
    out = self.projection(context)[:, tf.newaxis, tf.newaxis, :]
    return out[..., :channels], out[..., channels:]

  def bijector(self, training=None, context=None):
    """A fresh `ElementwiseAffine` for `context` (latent -> data: eps sigma + mu)."""
    del training
    check_context(type(self).__name__, self.context_size, context)
    mean, log_sigma = self.prior_parameters(context)
    return ElementwiseAffine(shift=mean, log_scale=log_sigma, event_ndims=3,
                             name="context_prior")

  def get_config(self):
    return {**super().get_config(), "event_shape": list(self.image_shape),
            "context_size": self.context_size}
