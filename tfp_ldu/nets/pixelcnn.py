"""PixelCNN: the strictly autoregressive shift network of image LDU flows.

References:
  van den Oord, Kalchbrenner, Kavukcuoglu (2016), "Pixel Recurrent Neural
    Networks", https://arxiv.org/abs/1601.06759 (masked convolutions, types A/B).
  van den Oord, Kalchbrenner, Vinyals, Espeholt, Graves, Kavukcuoglu (2016),
    "Conditional Image Generation with PixelCNN Decoders",
    https://arxiv.org/abs/1606.05328 (the blind spot of the plain masked stack).
  Wei (2021), "Sinusoidal Flow: A Fast Invertible Autoregressive Flow",
    https://arxiv.org/abs/2110.13344 (PixelCNN shifts in LDU blocks; 16 feature
    maps, 2 residual blocks).
"""
import keras
import numpy as np
import tensorflow as tf

from tfp_ldu.nets.context_inputs import check_context
from tfp_ldu.nets.initialized_flag import InitializedFlag
from tfp_ldu.nets.masked_conv2d import MaskedConv2D

__all__ = ["PixelActNorm", "PixelCNN", "PixelCNNResidualBlock"]


@keras.saving.register_keras_serializable(package="tfp_ldu")
class PixelActNorm(InitializedFlag, keras.layers.Layer):
  """Per-position activation normalisation of a feature map `[N, H, W, F]`:

      y[n, h, w, f] = (x[n, h, w, f] - loc[h, w, f]) * exp(-log_scale[h, w, f])

  One location and one log-scale per (row, column, feature map), both 0 (the
  identity) until `initialize(x)` sets them from a batch: loc = batch mean,
  log_scale = log(batch std), so the output has zero mean and unit standard
  deviation at every position over that batch.  Positions whose batch
  variance is at most `min_variance` are only centred (log_scale = 0): they
  are (nearly) constant features, e.g. the first channel group of the first
  pixel, which sees no input at all, and dividing by their std would amplify
  rounding noise and the drift of `loc` during training.

  The map is element-wise (nothing mixes positions or feature maps), so it
  preserves any autoregressive structure of its input.
  """

  def __init__(self, min_variance=1e-6, **kwargs):
    super().__init__(**kwargs)
    self.min_variance = float(min_variance)

  def build(self, input_shape):
    if len(input_shape) != 4 or any(d is None for d in input_shape[1:]):
      raise ValueError(f"{self.name}: expected input of shape [N, H, W, F] with known "
                       f"H, W, F; received shape {list(input_shape)}.")
    shape = tuple(int(d) for d in input_shape[1:])
    self.loc = self.add_weight(shape=shape, initializer="zeros", name="loc")
    self.log_scale = self.add_weight(shape=shape, initializer="zeros", name="log_scale")
    self.add_initialized_flag()

  def initialize(self, x):
    """Sets loc, log_scale from `x` `[N >= 2, H, W, F]`, eagerly; no-op if already set."""
    if self.is_initialized:
      return
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 4 or x.shape[1:] != tuple(self.loc.shape) or len(x) < 2:
      raise ValueError(f"{self.name}.initialize: expected a batch of shape [N >= 2, "
                       f"{', '.join(str(d) for d in self.loc.shape)}]; received shape "
                       f"{list(x.shape)}.")
    if not np.all(np.isfinite(x)):
      raise ValueError(f"{self.name}.initialize: the batch holds non-finite values.")
    variance = x.var(axis=0)
    log_scale = np.where(variance > self.min_variance,
                         0.5 * np.log(np.maximum(variance, self.min_variance)), 0.0)
    self.loc.assign(x.mean(axis=0).astype(self.loc.dtype))
    self.log_scale.assign(log_scale.astype(self.log_scale.dtype))
    self.initialized.assign(1.0)

  def call(self, x):
    return (x - self.loc) * tf.exp(-tf.convert_to_tensor(self.log_scale))

  def compute_output_shape(self, input_shape):
    return tuple(input_shape)

  def get_config(self):
    return {**super().get_config(), "min_variance": self.min_variance}


@keras.saving.register_keras_serializable(package="tfp_ldu")
class PixelCNNResidualBlock(keras.layers.Layer):
  """Pre-activation bottleneck residual block of type-B masked convolutions:

      h_1 = conv_1x1(act(norm_1(x)))          `[N, H, W, filters] -> [.., bottleneck]`
      h_2 = conv_kxk(act(norm_2(h_1)))        `[.., bottleneck] -> [.., bottleneck]`
      y   = x + conv_1x1(act(norm_3(h_2)))    `[.., bottleneck] -> [.., filters]`

  norm = `PixelActNorm`; the convolutions are bias-free (the next norm's loc
  plays that role) with type-B masks over `image_channels` groups, so feature
  group c at pixel p keeps depending only on image values before (p, c).
  """

  def __init__(self, filters, bottleneck_filters, image_channels, kernel_size=3,
               activation="relu", kernel_initializer="glorot_uniform", **kwargs):
    super().__init__(**kwargs)
    self.filters = int(filters)
    self.bottleneck_filters = int(bottleneck_filters)
    self.image_channels = int(image_channels)
    self.kernel_size = int(kernel_size)
    self.activation = activation
    self.kernel_initializer = keras.initializers.get(kernel_initializer)
    self._activation = keras.activations.get(activation)
    conv = lambda filters, kernel_size, name: MaskedConv2D(
        filters, kernel_size, "B", self.image_channels, use_bias=False,
        kernel_initializer=self.kernel_initializer, name=name, dtype=self.dtype_policy)
    self.norms = [PixelActNorm(name=f"norm_{i}", dtype=self.dtype_policy) for i in range(3)]
    self.convs = [conv(self.bottleneck_filters, 1, "reduce"),
                  conv(self.bottleneck_filters, self.kernel_size, "spatial"),
                  conv(self.filters, 1, "restore")]

  def build(self, input_shape):
    if len(input_shape) != 4 or input_shape[-1] != self.filters:
      raise ValueError(f"{self.name}: expected input of shape [N, H, W, {self.filters}]; "
                       f"received shape {list(input_shape)}.")
    shape = tuple(input_shape)
    for norm, conv in zip(self.norms, self.convs):
      norm.build(shape)
      conv.build(shape)
      shape = conv.compute_output_shape(shape)

  def _forward(self, x, initialize, context_bias=None):
    h = x
    for index, (norm, conv) in enumerate(zip(self.norms, self.convs)):
      if initialize:
        norm.initialize(h)
      h = conv(self._activation(norm(h)))
      if index == 0 and context_bias is not None:  # The same shift at every pixel.
        h = h + context_bias[:, tf.newaxis, tf.newaxis, :]
    return x + h

  def call(self, x, context_bias=None):
    """`x` `[N, H, W, filters]`; `context_bias` `[N, bottleneck]` is added after the
    first convolution (a conditional PixelCNN's projection of its context)."""
    return self._forward(x, initialize=False, context_bias=context_bias)

  def initialize(self, x, context_bias=None):
    """Initialises the norms in order on `x` `[N, H, W, filters]` (eagerly); returns y."""
    return self._forward(x, initialize=True, context_bias=context_bias)

  def compute_output_shape(self, input_shape):
    return tuple(input_shape)

  def get_config(self):
    return {**super().get_config(), "filters": self.filters,
            "bottleneck_filters": self.bottleneck_filters,
            "image_channels": self.image_channels, "kernel_size": self.kernel_size,
            "activation": self.activation,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer)}


@keras.saving.register_keras_serializable(package="tfp_ldu")
class PixelCNN(keras.layers.Layer):
  """Strictly autoregressive shift s(x) of an image in raster (flat NHWC) order.

  For an image `x` of shape `[H, W, C]` with flat index k = (h * W + w) * C + c:

      lower (upper=False):  s(x)_k depends only on x_j, j < k
      upper (upper=True):   s(x) = rev(s'(rev(x))), s(x)_k depends only on x_j, j > k

  where rev reverses the flat vector, i.e. flips H, W and C together (raster
  index k -> HWC - 1 - k), and s' is this network's lower map.  This is the
  `shift_fn` of `tfp_ldu.bijectors.TriangularShift(net, upper=net.upper,
  event_size=H * W * C)`.

  Network (F = `filters`, stream width 2F, bottleneck F; ldu-flow's layout):

      h = MaskedConv(k x k, type A, C -> 2F, no bias)(x)
      h = PixelCNNResidualBlock(2F, bottleneck F, kernel r x r)(h)   x num_residual_blocks
      h = MaskedConv(1 x 1, type B, 2F -> F, no bias)(act(norm(h)))
      s = MaskedConv(1 x 1, type B, F -> C, bias)(act(norm(h)))

  with k = `kernel_size`, r = `residual_kernel_size`, norm = `PixelActNorm`
  (per position), masks from `tfp_ldu.nets.masked_conv2d.pixelcnn_mask` with C
  channel groups (feature map f in group f % C).  Why strictly autoregressive:
  type A lets group c at pixel p read earlier pixels and image channels < c of
  p; type B lets group c read earlier pixels and groups <= c of p; activations,
  per-position norms and the residual sums act element-wise.  By induction
  every feature of group c at p depends only on image values before (p, c),
  and the output channel c (group c) at p is s_k for k = index of (p, c).
  Receptive field: PixelCNN's blind spot is kept (arXiv:1606.05328) -- on the
  row directly above, columns further than k // 2 to the right are not seen;
  triangularity is unaffected.

  Initialisation: the output convolution starts with small random weights
  (standard deviation `output_init_scale` times Glorot's) and a zero bias, so
  s starts near 0 while every weight gets a non-zero gradient from the first
  step (a zero output kernel would make every earlier gradient vanish, since
  they all flow through it).  The norms are set from data by `initialize(x)`,
  which the flow calls eagerly once on the batch this network sees.

  Conditional (`context_size=C_ctx > 0`, as PixelCNN++'s conditional gated
  resnets): each residual block adds a learned projection of the context
  features `[..., C_ctx]` after its first convolution, the same at every
  pixel, so s(x, c) stays strictly autoregressive in x while depending on
  all of c.  The projections start at zero (the unconditional network).

  Shapes: input flat `[..., H * W * C]` (flat NHWC rows) or images
  `[..., H, W, C]`; output has the input's shape; the context broadcasts
  against the input's batch axes.  Feature widths need
  `filters >= C` so every channel group owns a feature map (groups are
  interleaved, so F need not be a multiple of C: F = 16 with C = 3 works).
  """

  def __init__(self, image_shape, filters=16, num_residual_blocks=2, kernel_size=7,
               residual_kernel_size=3, activation="relu", upper=False,
               output_init_scale=1e-2, kernel_initializer="glorot_uniform", context_size=0,
               **kwargs):
    super().__init__(**kwargs)
    image_shape = tuple(int(d) for d in image_shape)
    if len(image_shape) != 3 or min(image_shape) < 1:
      raise ValueError(f"PixelCNN: image_shape must be (H, W, C) with positive sizes; "
                       f"got {image_shape}.")
    height, width, channels = image_shape
    if int(filters) < channels:
      raise ValueError(f"PixelCNN: filters must be >= the image's channel count C = "
                       f"{channels} (each of the C channel groups needs a feature map); "
                       f"got filters={filters}.")
    if int(num_residual_blocks) < 0:
      raise ValueError(f"PixelCNN: num_residual_blocks must be >= 0; got "
                       f"{num_residual_blocks}.")
    for name, size in (("kernel_size", kernel_size),
                       ("residual_kernel_size", residual_kernel_size)):
      if int(size) < 1 or int(size) % 2 == 0:
        raise ValueError(f"PixelCNN: {name} must be a positive odd integer; got {size}.")
    if not float(output_init_scale) > 0.0:
      raise ValueError(f"PixelCNN: output_init_scale must be > 0 (a zero output kernel "
                       f"gives every earlier weight a zero gradient); got "
                       f"{output_init_scale}.")
    self.image_shape = image_shape
    self.event_size = height * width * channels
    self.filters = int(filters)
    self.num_residual_blocks = int(num_residual_blocks)
    self.kernel_size = int(kernel_size)
    self.residual_kernel_size = int(residual_kernel_size)
    self.activation = activation
    self.upper = bool(upper)
    self.output_init_scale = float(output_init_scale)
    self.kernel_initializer = keras.initializers.get(kernel_initializer)
    self._activation = keras.activations.get(activation)
    self.context_size = int(context_size)

    stream = 2 * self.filters
    conv = lambda filters, kernel_size, mask_type, name, **kw: MaskedConv2D(
        filters, kernel_size, mask_type, channels, name=name, dtype=self.dtype_policy, **kw)
    self.input_conv = conv(stream, self.kernel_size, "A", "input_conv", use_bias=False,
                           kernel_initializer=self.kernel_initializer)
    self.blocks = [PixelCNNResidualBlock(
        stream, self.filters, channels, kernel_size=self.residual_kernel_size,
        activation=activation, kernel_initializer=self.kernel_initializer,
        name=f"block_{i}", dtype=self.dtype_policy) for i in range(self.num_residual_blocks)]
    self.context_projections = [
        keras.layers.Dense(self.filters, use_bias=False, kernel_initializer="zeros",
                           name=f"context_projection_{i}", dtype=self.dtype_policy)
        for i in range(self.num_residual_blocks)] if self.context_size else []
    for projection in self.context_projections:
      projection.build((None, self.context_size))
    self.head_norm = PixelActNorm(name="head_norm", dtype=self.dtype_policy)
    self.head_conv = conv(self.filters, 1, "B", "head_conv", use_bias=False,
                          kernel_initializer=self.kernel_initializer)
    self.output_norm = PixelActNorm(name="output_norm", dtype=self.dtype_policy)
    self.output_conv = conv(channels, 1, "B", "output_conv", use_bias=True,
                            kernel_initializer=keras.initializers.VarianceScaling(
                                scale=self.output_init_scale ** 2, mode="fan_avg",
                                distribution="uniform"))

    shape = (None,) + image_shape
    self.input_conv.build(shape)
    shape = self.input_conv.compute_output_shape(shape)
    for block in self.blocks:
      block.build(shape)
    self.head_norm.build(shape)
    self.head_conv.build(shape)
    shape = self.head_conv.compute_output_shape(shape)
    self.output_norm.build(shape)
    self.output_conv.build(shape)
    self.built = True

  @property
  def norms(self):
    """Every `PixelActNorm`, in the order the data meets them."""
    return ([norm for block in self.blocks for norm in block.norms]
            + [self.head_norm, self.output_norm])

  @property
  def is_initialized(self):
    return all(norm.is_initialized for norm in self.norms)

  @property
  def needs_initialization(self):
    return not self.is_initialized

  def _to_images(self, x, owner):
    """`[..., D]` or `[..., H, W, C]` -> `[N, H, W, C]` (raster order as stored)."""
    shape = tf.TensorShape(x.shape)
    is_flat = shape.rank is not None and shape.rank >= 1 and shape[-1] == self.event_size
    is_image = shape.rank is not None and shape.rank >= 3 and \
        tuple(shape[-3:]) == self.image_shape
    if not (is_flat or is_image):
      height, width, channels = self.image_shape
      raise ValueError(f"{owner}: expected input of shape [..., {self.event_size}] (flat "
                       f"NHWC rows) or [..., {height}, {width}, {channels}]; received "
                       f"shape {shape.as_list() if shape.rank is not None else shape}.")
    images = tf.reshape(x, (-1,) + self.image_shape)
    return tf.reverse(images, axis=[1, 2, 3]) if self.upper else images

  def _context_rows(self, x, context):
    """`context` broadcast to `x`'s batch axes and flattened to `[N, C_ctx]`, or None."""
    check_context(self.name, self.context_size, context)
    if context is None:
      return None
    shape = tf.TensorShape(x.shape)
    event_rank = 1 if shape[-1] == self.event_size else 3
    batch_shape = tf.shape(x)[:shape.rank - event_rank]
    context = tf.cast(context, self.compute_dtype)
    context = tf.broadcast_to(context, tf.concat([batch_shape, [self.context_size]], 0))
    return tf.reshape(context, [-1, self.context_size])

  def _network(self, images, initialize, context=None):
    """The lower (raster-order) network on `[N, H, W, C]` (contexts `[N, C_ctx]`)."""
    def normalise(norm, h):
      if initialize:
        norm.initialize(h)
      return self._activation(norm(h))

    h = self.input_conv(images)
    biases = ([projection(context) for projection in self.context_projections]
              if context is not None else [None] * len(self.blocks))
    for block, bias in zip(self.blocks, biases):
      h = block.initialize(h, bias) if initialize else block(h, context_bias=bias)
    h = self.head_conv(normalise(self.head_norm, h))
    s = self.output_conv(normalise(self.output_norm, h))
    return tf.reverse(s, axis=[1, 2, 3]) if self.upper else s

  def call(self, x, context=None):
    s = self._network(self._to_images(x, self.name), initialize=False,
                      context=self._context_rows(x, context))
    return tf.reshape(s, tf.shape(x))

  def initialize(self, x, context=None):
    """Data-dependent initialisation of every norm, in data order (eager only).

    Args:
      x: the batch this shift network sees, `[N >= 2, D]` or `[N >= 2, H, W, C]`
        (for `upper=True` the un-reversed input: the reversal happens inside).
        Norms already initialised (e.g. restored from a checkpoint) are left
        as they are, so a second call changes nothing.
      context: the batch's context features `[N, C_ctx]` (conditional networks).
    """
    if not tf.executing_eagerly():
      raise RuntimeError("PixelCNN.initialize must run eagerly (call it once on the "
                         "first batch, outside tf.function).")
    x = tf.convert_to_tensor(np.asarray(x), dtype=self.compute_dtype)
    self._network(self._to_images(x, f"{self.name}.initialize"), initialize=True,
                  context=self._context_rows(x, context))

  def compute_output_shape(self, input_shape):
    return tuple(input_shape)

  def get_config(self):
    return {**super().get_config(), "image_shape": list(self.image_shape),
            "filters": self.filters, "num_residual_blocks": self.num_residual_blocks,
            "kernel_size": self.kernel_size,
            "residual_kernel_size": self.residual_kernel_size,
            "activation": self.activation, "upper": self.upper,
            "output_init_scale": self.output_init_scale,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "context_size": self.context_size}
