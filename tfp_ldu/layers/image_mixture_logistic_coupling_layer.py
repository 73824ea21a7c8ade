"""Keras layer owning the convolutional conditioner of one image Flow++ coupling."""
import functools

import keras
import numpy as np
import tensorflow as tf

from tfp_ldu.bijectors.mixture_logistic_coupling import MixtureLogisticCoupling
from tfp_ldu.bijectors.mixture_logistic_parameters import (
    mixture_logistic_parameters, num_mixture_logistic_parameters)
from tfp_ldu.bijectors.shape_checks import check_image_shape, check_transform_mask
from tfp_ldu.layers.bijector_layer import RENAMED_ARGUMENTS
from tfp_ldu.layers.bijector_layer import BijectorLayer
from tfp_ldu.layers.precision import conditioner_policy
from tfp_ldu.nets.gated_conv_attention import GatedConvAttentionNet

__all__ = ["ImageMixtureLogisticCouplingLayer"]


@keras.saving.register_keras_serializable(package="tfp_ldu")
class ImageMixtureLogisticCouplingLayer(BijectorLayer):
  """Flow++ coupling on images: a `GatedConvAttentionNet` conditions a mixture-logistic CDF.

  For an image x `[H, W, C]` and a static mask m (True where transformed,
  e.g. `checkerboard_mask` or `channel_mask`), the bijector is the
  `MixtureLogisticCoupling`

      z[~m] = x[~m]
      z[m]  = logit(sum_k pi_k sigma((x[m] - mu_k) e^{-s_k})) e^{a} + b

  whose parameters come from the network applied to the masked image plus
  one indicator channel, the fraction of pass-through channels at each pixel
  (1 / 0 on a checkerboard's conditioning / transformed pixels, 1/2
  everywhere for a channel split, where it tells the zero padding apart):

      h   = concat([where(m, 0, x), pass_fraction], channels)   `[N, H, W, C + 1]`
      out = net(h, context)                                     `[N, H, W, C (3K + 2)]`
      theta = gather(reshape(out, [N, H W C, 3K + 2]), flat indices of m)

  read as (logits, locs, log_scales, tanh(.) = a, b) by
  `mixture_logistic_parameters` (the vector `MixtureLogisticCouplingLayer`'s
  parameterisation).  The network's output starts near 0, so the coupling
  starts near the identity.  Under a mixed policy (`tfp_ldu.layers.precision`)
  the network computes in its `conditioner_policy` and its output is cast
  back before the mixture.  Sampling (`forward`) uses `MixtureLogisticCDF`'s
  bisection.  The whole image is processed at full resolution (Flow++ runs
  its network on the half image of a column split instead).

  Context: with `context_channels` set, `bijector(training, context)` and
  `call(x, training, context)` take features `[N, H, W, context_channels]`
  that every gated convolution of the network adds (Flow++'s variational
  dequantiser conditions q(u | x) this way); they must then be given.  A
  conditional flow's vector features `[N, context_channels]` (rank 2) are
  broadcast over the image first, so the same layer serves p(x | c).

  Shapes: `[N, H, W, C] -> [N, H, W, C]`.

  Args:
    event_shape: (H, W, C).
    transform_mask: `[H, W, C]` bools, True where transformed (at least one
      True and one False).
    num_components: K logistic components per transformed element.
    filters, conditioner_blocks (its `num_blocks`), num_heads, dropout, attention,
      context_channels: of
      the `GatedConvAttentionNet`.
    min_log_scale, tolerance, num_halvings: of the `MixtureLogisticCDF`.
  """

  # Saved configs: Flow++'s conditioner depth was `num_blocks`.
  renamed_arguments = {**RENAMED_ARGUMENTS, "num_blocks": "conditioner_blocks"}

  def __init__(self, event_shape, transform_mask, num_components=4, filters=96, conditioner_blocks=10,
               num_heads=4, dropout=0.0, attention=True, context_channels=None,
               min_log_scale=-7.0, tolerance=None, num_halvings=64, **kwargs):
    super().__init__(**kwargs)
    owner = "ImageMixtureLogisticCouplingLayer"
    self.image_shape = check_image_shape(owner, event_shape)
    self.transform_mask = mask = check_transform_mask(owner, transform_mask, self.image_shape)
    self.num_components = int(num_components)
    self.filters = int(filters)
    self.conditioner_blocks = int(conditioner_blocks)
    self.num_heads = int(num_heads)
    self.dropout = float(dropout)
    self.attention = bool(attention)
    self.context_channels = None if context_channels is None else int(context_channels)
    self.min_log_scale = float(min_log_scale)
    self.tolerance = tolerance
    self.num_halvings = int(num_halvings)
    height, width, channels = self.image_shape
    self._num_parameters = num_mixture_logistic_parameters(self.num_components)
    self._transformed_indices = np.flatnonzero(mask.reshape(-1))
    self._pass_fraction = np.mean(~mask, axis=-1, keepdims=True)      # [H, W, 1]
    self.network = GatedConvAttentionNet(
        channels * self._num_parameters, filters=self.filters,
        num_blocks=self.conditioner_blocks,
        num_heads=self.num_heads, dropout=self.dropout, attention=self.attention,
        context_channels=self.context_channels, name="network",
        dtype=conditioner_policy(self.dtype_policy))
    self.network.build((None, height, width, channels + 1))
    self.built = True

  def mixture_parameters(self, masked, context=None, training=None):
    """(logits, locs, log_scales `[..., D_t, K]`, log_a, b `[..., D_t]`) from the
    image `[..., H, W, C]` with its transformed elements zeroed."""
    if (context is None) != (self.context_channels is None):
      raise ValueError(
          f"{self.name}: built with context_channels={self.context_channels}, so the "
          f"bijector needs {'no' if self.context_channels is None else 'a'} context.")
    height, width, channels = self.image_shape
    batch_shape = tf.shape(masked)[:-3]
    images = tf.reshape(masked, [-1, height, width, channels])
    indicator = tf.broadcast_to(tf.constant(self._pass_fraction, images.dtype),
                                tf.stack([tf.shape(images)[0], height, width, 1]))
    network_dtype = self.network.compute_dtype
    if context is not None:
      context = tf.convert_to_tensor(context)
    if context is not None and context.shape.rank == 2:  # A flow's [N, C] features.
      context = tf.broadcast_to(
          context[..., tf.newaxis, tf.newaxis, :],
          tf.concat([batch_shape, [height, width, self.context_channels]], 0))
    if context is not None:
      context = tf.cast(tf.reshape(context, [-1, height, width, self.context_channels]),
                        network_dtype)
    out = self.network(tf.cast(tf.concat([images, indicator], axis=-1), network_dtype),
                       context=context, training=training)
    out = tf.cast(out, masked.dtype)
    out = tf.reshape(out, [-1, height * width * channels, self._num_parameters])
    out = tf.gather(out, self._transformed_indices, axis=1)
    out = tf.reshape(out, tf.concat(
        [batch_shape, [len(self._transformed_indices), self._num_parameters]], axis=0))
    return mixture_logistic_parameters(out, self.num_components)

  @property
  def context_size(self):
    """The context features this coupling reads (0: none)."""
    return self.context_channels or 0

  def bijector(self, training=None, context=None):
    """A fresh `MixtureLogisticCoupling` over the current weights (and `context`)."""
    return MixtureLogisticCoupling(
        functools.partial(self.mixture_parameters, context=context, training=training),
        self.transform_mask, min_log_scale=self.min_log_scale, tolerance=self.tolerance,
        num_halvings=self.num_halvings)

  def call(self, x, training=None, context=None):
    """Data -> latent, `[N, H, W, C] -> [N, H, W, C]`."""
    return self.bijector(training, context).inverse(x)

  def get_config(self):
    return {**super().get_config(), "event_shape": list(self.image_shape),
            "transform_mask": self.transform_mask.tolist(),
            "num_components": self.num_components, "filters": self.filters,
            "conditioner_blocks": self.conditioner_blocks, "num_heads": self.num_heads,
            "dropout": self.dropout, "attention": self.attention,
            "context_channels": self.context_channels,
            "min_log_scale": self.min_log_scale, "tolerance": self.tolerance,
            "num_halvings": self.num_halvings}
