"""Variational dequantisation (Flow++): a learned, conditional noise flow q(u | x[, c])."""
import math

import keras
import tensorflow as tf

from tfp_ldu.bijectors.masks import checkerboard_mask
from tfp_ldu.bijectors.shape_checks import check_image_shape
from tfp_ldu.layers.bijector_layer import initialize_in_order
from tfp_ldu.layers.bijector_layer import RENAMED_ARGUMENTS
from tfp_ldu.layers.bijector_layer import upgraded_config
from tfp_ldu.layers.bijector_layer import needs_initialization
from tfp_ldu.layers.image_actnorm import ImageActNorm
from tfp_ldu.layers.image_mixture_logistic_coupling_layer import (
    ImageMixtureLogisticCouplingLayer)
from tfp_ldu.layers.invertible_conv1x1 import InvertibleConv1x1
from tfp_ldu.layers.pixel_levels import assert_levels
from tfp_ldu.layers.precision import conditioner_policy
from tfp_ldu.nets.context_inputs import check_context
from tfp_ldu.nets.context_inputs import concat_context
from tfp_ldu.nets.gated_conv_attention import GatedConvContextNet

__all__ = ["VariationalDequantizer"]


@keras.saving.register_keras_serializable(package="tfp_ldu")
class VariationalDequantizer(keras.layers.Layer):
  """y = (x + u) / L with u ~ q(u | x), a conditional flow on (0, 1)^D.

  For an image x `[H, W, C]` of levels {0, ..., L - 1} (L = `num_levels`):

      a   = GatedConvContextNet(x / L - 1/2)                context `[H, W, F_c]`
      eps ~ N(0, I)                                          `[H, W, C]`
      h   = g_a(eps)      g = J couplings, each after a per-position
                          `ImageActNorm` and (C >= 2) an `InvertibleConv1x1`;
                          coupling j is an `ImageMixtureLogisticCouplingLayer`
                          on the checkerboard of parity j % 2, whose network
                          adds the context a in every gated convolution
      u   = sigmoid(h)                                       in (0, 1)^D
      y   = (x + u) / L                                      in the cell [x/L, (x+1)/L)

      log q(u | x) = log N(eps; 0, I) - log|det dh/deps| - sum log sigmoid'(h)
      log q(y | x) = log q(u | x) + D log L

  (sigmoid'(h) = sigmoid(h) sigmoid(-h)).  Every map eps -> u is the closed-form
  (data -> latent, `inverse`) direction of its bijector, so drawing u costs
  no numeric solve.  `call(x, training) -> (y, log q(y | x))` is the
  interface of `UniformDequantizer` (which is the case q(u | x) = 1), so
  `FlowModel(dequantizer=VariationalDequantizer(...))` trains the bound

      log P(x) >= E_q[log p(y) - log q(y | x)]

  jointly in the flow's and q's weights; a better q tightens it (Ho et al.,
  2019, section 3.1).  The noise comes from a `keras.random.SeedGenerator`,
  whose state advances inside compiled `fit` steps.  The actnorms are
  initialised from data by `initialize(x)` (`FlowModel.initialize` calls it);
  `needs_initialization` says whether that is still due.  Flow++'s own q uses
  a column split and 4 couplings of F = 96 filters, 2 blocks, K = 32 on a
  context of 32 channels from 3 gated blocks (the defaults here).

  Conditional q(u | x, c) (`context_size=C_c > 0`): the context features c
  `[N, C_c]` of a conditional flow p(x | c) (`FlowModel` passes its
  standardised, embedded contexts) are broadcast over the pixels and
  concatenated to the input of the context network,
  a = GatedConvContextNet([x / L - 1/2, c]), so every coupling of q reads
  them through a; `call(x, training, context=c)`.  The bound above then
  holds given c: log P(x | c) >= E_q[log p(y | c) - log q(y | x, c)].

  Shapes: x `[N, H, W, C]` (float or int levels), y `[N, H, W, C]`, log_q `[N]`.

  Args:
    event_shape: (H, W, C).
    num_levels: L (256 for 8-bit images, 17 for scikit-learn's digits).
    num_couplings: J >= 1.
    filters, conditioner_blocks, num_components, num_heads, attention, dropout: of the
      couplings' `GatedConvAttentionNet`s and mixtures.
    context_filters, num_context_blocks: of the `GatedConvContextNet`.
    seed: initial seed of the noise and of the 1x1 convolutions (None: random).
    context_size: C_c, context features of a conditional q (0: q(u | x)).
    **kwargs: standard Keras layer arguments.

  #### References

  [1] Ho, Chen, Srinivas, Duan, Abbeel. Flow++: Improving Flow-Based
      Generative Models with Variational Dequantization and Architecture
      Design. https://arxiv.org/abs/1902.00275
  """

  # Saved configs: Flow++'s conditioner depth was `num_blocks`.
  renamed_arguments = {**RENAMED_ARGUMENTS, "num_blocks": "conditioner_blocks"}

  def __init__(self, event_shape, num_levels=256, num_couplings=4, filters=96, conditioner_blocks=2,
               num_components=32, num_heads=4, attention=True, dropout=0.0, context_filters=32,
               num_context_blocks=3, seed=None, context_size=0, **kwargs):
    super().__init__(**kwargs)
    self.image_shape = check_image_shape("VariationalDequantizer", event_shape)
    if self.image_shape[0] * self.image_shape[1] < 2:
      raise ValueError("VariationalDequantizer: a checkerboard coupling needs at least "
                       f"two pixels; got image_shape {self.image_shape}.")
    if int(num_levels) < 2 or int(num_couplings) < 1:
      raise ValueError(f"VariationalDequantizer: need num_levels >= 2 and num_couplings "
                       f">= 1; got {num_levels} and {num_couplings}.")
    self.num_levels = int(num_levels)
    self.num_couplings = int(num_couplings)
    self.filters = int(filters)
    self.conditioner_blocks = int(conditioner_blocks)
    self.num_components = int(num_components)
    self.num_heads = int(num_heads)
    self.attention = bool(attention)
    self.dropout = float(dropout)
    self.context_filters = int(context_filters)
    self.num_context_blocks = int(num_context_blocks)
    self.seed = seed
    self.context_size = int(context_size)
    self.seed_generator = keras.random.SeedGenerator(seed, name="dequantization_seed")
    layer_args = dict(dtype=self.dtype_policy)
    self.context_network = GatedConvContextNet(
        self.context_filters, self.num_context_blocks, dropout=self.dropout,
        name="context_network", dtype=conditioner_policy(self.dtype_policy))
    self.context_network.build(
        (None, *self.image_shape[:-1], self.image_shape[-1] + self.context_size))
    channels = self.image_shape[-1]
    self.noise_layers = []
    for j in range(self.num_couplings):
      self.noise_layers.append(ImageActNorm(self.image_shape, per="position",
                                            name=f"actnorm_{j}", **layer_args))
      if channels > 1:  # With one channel a 1x1 convolution is only a scale.
        self.noise_layers.append(InvertibleConv1x1(
            channels, seed=None if seed is None else int(seed) + j,
            name=f"conv1x1_{j}", **layer_args))
      self.noise_layers.append(ImageMixtureLogisticCouplingLayer(
          self.image_shape, checkerboard_mask(self.image_shape, parity=j % 2),
          num_components=self.num_components, filters=self.filters,
          conditioner_blocks=self.conditioner_blocks, num_heads=self.num_heads, dropout=self.dropout,
          attention=self.attention, context_channels=self.context_filters,
          name=f"coupling_{j}", **layer_args))
    self.built = True

  @property
  def event_size(self):
    """D = H W C."""
    return math.prod(self.image_shape)

  def _context(self, x, training, context=None):
    """`[N, H, W, context_filters]` features of the discrete image (and of c `[N, C_c]`)."""
    check_context(type(self).__name__, self.context_size, context)
    scaled = tf.cast(x / self.num_levels - 0.5, self.context_network.compute_dtype)
    return self.context_network(concat_context(scaled, context, spatial_axes=2),
                                training=training)

  def _noise(self, x):
    return keras.random.normal(tf.shape(x), dtype=x.dtype, seed=self.seed_generator)

  def noise_log_prob(self, x, eps, training=None, context=None):
    """(u, log q(u | x[, c])) for given noise `eps` `[N, H, W, C]`: the map eps -> u."""
    x = tf.convert_to_tensor(x, self.compute_dtype)
    context = self._context(x, training, context)
    log_q = tf.reduce_sum(-0.5 * tf.square(eps), axis=[-3, -2, -1]) - (
        0.5 * self.event_size * math.log(2. * math.pi))
    h = eps
    for layer in self.noise_layers:
      bijector = layer.bijector(training, context=context)
      log_q -= bijector.inverse_log_det_jacobian(h, event_ndims=3)
      h = bijector.inverse(h)
    log_q -= tf.reduce_sum(tf.math.log_sigmoid(h) + tf.math.log_sigmoid(-h),
                           axis=[-3, -2, -1])
    return tf.sigmoid(h), log_q

  def call(self, x, training=None, context=None):
    """(y, log q(y | x[, c])) for discrete `x` (and context features `[N, C_c]`)."""
    x = assert_levels(tf.convert_to_tensor(x, self.compute_dtype), self.num_levels,
                      type(self).__name__)
    u, log_q = self.noise_log_prob(x, self._noise(x), training, context)
    return (x + u) / self.num_levels, log_q + self.event_size * math.log(self.num_levels)

  def initialize(self, x, context=None):
    """Initialises the actnorms of the noise flow, in order, from a discrete batch `x`."""
    x = tf.convert_to_tensor(x, self.compute_dtype)
    initialize_in_order(self.noise_layers, self._noise(x),
                        context=self._context(x, False, context))

  @property
  def needs_initialization(self):
    """True while an actnorm of the noise flow waits for `initialize`."""
    return any(needs_initialization(layer) for layer in self.noise_layers)

  @classmethod
  def from_config(cls, config):
    """Reads configs saved under renamed arguments (`renamed_arguments`)."""
    return super().from_config(upgraded_config(config, cls.renamed_arguments))

  def get_config(self):
    return {**super().get_config(), "event_shape": list(self.image_shape),
            "num_levels": self.num_levels, "num_couplings": self.num_couplings,
            "filters": self.filters, "conditioner_blocks": self.conditioner_blocks,
            "num_components": self.num_components, "num_heads": self.num_heads,
            "attention": self.attention, "dropout": self.dropout,
            "context_filters": self.context_filters,
            "num_context_blocks": self.num_context_blocks, "seed": self.seed,
            **({"context_size": self.context_size} if self.context_size else {})}
