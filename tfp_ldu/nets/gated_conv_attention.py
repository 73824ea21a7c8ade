"""Flow++'s conditioner: gated residual convolutions and gated self-attention.

References:
  Ho, Chen, Srinivas, Duan, Abbeel (2019), "Flow++: Improving Flow-Based
    Generative Models with Variational Dequantization and Architecture
    Design", https://arxiv.org/abs/1902.00275 (section 3.3; the official TF
    code's `gated_conv`, `gated_attn` and `MixLogisticAttnCoupling`).
  Salimans, Karpathy, Chen, Kingma (2017), "PixelCNN++",
    https://arxiv.org/abs/1701.05517 (concat_elu, gated residual blocks).
  Vaswani et al. (2017), "Attention Is All You Need",
    https://arxiv.org/abs/1706.03762 (multi-head self-attention).
"""
import math

import keras
import tensorflow as tf

__all__ = ["concat_elu", "GatedConvBlock", "GatedAttentionBlock", "GatedConvContextNet",
           "GatedConvAttentionNet"]


def concat_elu(x):
  """elu([x, -x]) on the channel axis: `[..., F] -> [..., 2F]`."""
  return tf.nn.elu(tf.concat([x, -x], axis=-1))


def _small_initializer(scale):
  """Glorot-uniform times `scale` (standard deviation): outputs start near 0.

  Flow++ rescales such layers from data to output standard deviation 0.1;
  a fixed small scale gives the same start without an initialisation pass,
  and unlike zeros every earlier weight still gets a gradient at step one.
  """
  return keras.initializers.VarianceScaling(scale=scale ** 2, mode="fan_avg",
                                            distribution="uniform")


def _glu(x):
  """Gated linear unit on the channel axis: `[..., 2F] -> [..., F]`."""
  value, gate = tf.split(x, 2, axis=-1)
  return value * tf.sigmoid(gate)


@keras.saving.register_keras_serializable(package="tfp_ldu")
class GatedConvBlock(keras.layers.Layer):
  """Gated residual convolution, `[N, H, W, F] -> [N, H, W, F]`:

      c = conv_kxk(concat_elu(x)) [+ conv_1x1(concat_elu(a))]    `[N, H, W, F]`
      c = dropout(concat_elu(c))                                 `[N, H, W, 2F]`
      y = x + GLU(conv_1x1(c))          GLU([u, v]) = u * sigmoid(v), 1x1: 2F -> 2F

  `a` is an optional context `[N, H, W, context_channels]` (the variational
  dequantiser's features of the discrete image).  The gate convolution
  starts small (`gate_init_scale`), so the block starts near the identity.
  """

  def __init__(self, filters, context_channels=None, dropout=0.0, kernel_size=3,
               gate_init_scale=0.1, **kwargs):
    super().__init__(**kwargs)
    if not 0.0 <= float(dropout) < 1.0:
      raise ValueError(f"GatedConvBlock: dropout must be in [0, 1); got {dropout}.")
    self.filters = int(filters)
    self.context_channels = None if context_channels is None else int(context_channels)
    self.dropout = float(dropout)
    self.kernel_size = int(kernel_size)
    self.gate_init_scale = float(gate_init_scale)
    self.conv = keras.layers.Conv2D(self.filters, self.kernel_size, padding="same",
                                    name="conv", dtype=self.dtype_policy)
    self.context_conv = (None if self.context_channels is None else keras.layers.Conv2D(
        self.filters, 1, name="context_conv", dtype=self.dtype_policy))
    self.dropout_layer = keras.layers.Dropout(self.dropout) if self.dropout else None
    self.gate = keras.layers.Conv2D(
        2 * self.filters, 1, kernel_initializer=_small_initializer(self.gate_init_scale),
        name="gate", dtype=self.dtype_policy)

  def build(self, input_shape):
    if len(input_shape) != 4 or input_shape[-1] != self.filters:
      raise ValueError(f"{self.name}: expected input of shape [N, H, W, {self.filters}]; "
                       f"received shape {list(input_shape)}.")
    spatial = tuple(input_shape[:-1])
    self.conv.build(spatial + (2 * self.filters,))
    if self.context_conv is not None:
      self.context_conv.build(spatial + (2 * self.context_channels,))
    self.gate.build(spatial + (2 * self.filters,))

  def call(self, x, context=None, training=None):
    if (context is None) != (self.context_conv is None):
      raise ValueError(f"{self.name}: built with context_channels="
                       f"{self.context_channels}, so it needs "
                       f"{'no' if self.context_conv is None else 'a'} context.")
    c = self.conv(concat_elu(x))
    if context is not None:
      c = c + self.context_conv(concat_elu(context))
    c = concat_elu(c)
    if self.dropout_layer is not None:
      c = self.dropout_layer(c, training=training)
    return x + _glu(self.gate(c))

  def compute_output_shape(self, input_shape):
    return tuple(input_shape)

  def get_config(self):
    return {**super().get_config(), "filters": self.filters,
            "context_channels": self.context_channels, "dropout": self.dropout,
            "kernel_size": self.kernel_size, "gate_init_scale": self.gate_init_scale}


@keras.saving.register_keras_serializable(package="tfp_ldu")
class GatedAttentionBlock(keras.layers.Layer):
  """Gated multi-head self-attention over all positions, `[N, H, W, F] -> [N, H, W, F]`:

      [q, k, v] = W_qkv (x + p)                       1x1: F -> 3F, p `[H, W, F]`
      o_h = softmax(q_h k_h^T / sqrt(d)) v_h          per head h, over the H W
                                                      positions (non-causal), d = F / heads
      y = x + GLU(W_out dropout(concat_h o_h))        1x1: F -> 2F, then the gate

  p is the network's learned positional embedding, passed to `call`.  The
  output projection starts small (`gate_init_scale`).
  """

  def __init__(self, filters, num_heads=4, dropout=0.0, gate_init_scale=0.1, **kwargs):
    super().__init__(**kwargs)
    if int(filters) % int(num_heads):
      raise ValueError(f"GatedAttentionBlock: filters ({filters}) must be a multiple of "
                       f"num_heads ({num_heads}).")
    if not 0.0 <= float(dropout) < 1.0:
      raise ValueError(f"GatedAttentionBlock: dropout must be in [0, 1); got {dropout}.")
    self.filters = int(filters)
    self.num_heads = int(num_heads)
    self.dropout = float(dropout)
    self.gate_init_scale = float(gate_init_scale)
    self.qkv = keras.layers.Dense(3 * self.filters, name="qkv", dtype=self.dtype_policy)
    self.dropout_layer = keras.layers.Dropout(self.dropout) if self.dropout else None
    self.gate = keras.layers.Dense(
        2 * self.filters, kernel_initializer=_small_initializer(self.gate_init_scale),
        name="gate", dtype=self.dtype_policy)

  def build(self, input_shape):
    if len(input_shape) != 4 or input_shape[-1] != self.filters:
      raise ValueError(f"{self.name}: expected input of shape [N, H, W, {self.filters}]; "
                       f"received shape {list(input_shape)}.")
    self.qkv.build(tuple(input_shape))
    self.gate.build(tuple(input_shape))

  def call(self, x, position_embedding, training=None):
    shape = tf.shape(x)
    height, width = x.shape[1], x.shape[2]
    head_size = self.filters // self.num_heads
    qkv = self.qkv(x + position_embedding)
    qkv = tf.reshape(qkv, [shape[0], height * width, 3, self.num_heads, head_size])
    query, key, value = tf.unstack(qkv, axis=2)               # each [N, HW, heads, d]
    logits = tf.einsum("nqhd,nkhd->nhqk", query, key) / math.sqrt(head_size)
    attended = tf.einsum("nhqk,nkhd->nqhd", tf.nn.softmax(logits, axis=-1), value)
    attended = tf.reshape(attended, shape)
    if self.dropout_layer is not None:
      attended = self.dropout_layer(attended, training=training)
    return x + _glu(self.gate(attended))

  def compute_output_shape(self, input_shape):
    return tuple(input_shape)

  def get_config(self):
    return {**super().get_config(), "filters": self.filters, "num_heads": self.num_heads,
            "dropout": self.dropout, "gate_init_scale": self.gate_init_scale}


@keras.saving.register_keras_serializable(package="tfp_ldu")
class GatedConvContextNet(keras.layers.Layer):
  """Features of a conditioning image, `[N, H, W, C] -> [N, H, W, F]`:

      h = conv_3x3(x)                     C -> F
      h = GatedConvBlock(F)(h)            x num_blocks

  The context network of Flow++'s variational dequantiser (F = 32, 3 blocks),
  whose output is the `context` of every coupling network of q(u | x).
  """

  def __init__(self, filters=32, num_blocks=3, dropout=0.0, **kwargs):
    super().__init__(**kwargs)
    self.filters = int(filters)
    self.num_blocks = int(num_blocks)
    self.dropout = float(dropout)
    self.proj_in = keras.layers.Conv2D(self.filters, 3, padding="same", name="proj_in",
                                       dtype=self.dtype_policy)
    self.blocks = [GatedConvBlock(self.filters, dropout=self.dropout, name=f"block_{j}",
                                  dtype=self.dtype_policy)
                   for j in range(self.num_blocks)]

  def build(self, input_shape):
    if len(input_shape) != 4:
      raise ValueError(f"{self.name}: expected input of shape [N, H, W, C]; received "
                       f"shape {list(input_shape)}.")
    self.proj_in.build(tuple(input_shape))
    for block in self.blocks:
      block.build(tuple(input_shape[:-1]) + (self.filters,))

  def call(self, x, training=None):
    h = self.proj_in(x)
    for block in self.blocks:
      h = block(h, training=training)
    return h

  def compute_output_shape(self, input_shape):
    return tuple(input_shape[:-1]) + (self.filters,)

  def get_config(self):
    return {**super().get_config(), "filters": self.filters,
            "num_blocks": self.num_blocks, "dropout": self.dropout}


@keras.saving.register_keras_serializable(package="tfp_ldu")
class GatedConvAttentionNet(keras.layers.Layer):
  """Flow++'s coupling network, `[N, H, W, C_in] -> [N, H, W, output_channels]`:

      h = conv_3x3(x)                                      C_in -> F
      repeat num_blocks times:
        h = LayerNorm(GatedConvBlock(F)(h, context))       over channels
        h = LayerNorm(GatedAttentionBlock(F, heads)(h, p)) (if `attention`)
      out = conv_3x3(h)                                    F -> output_channels

  p `[H, W, F]` is a learned positional embedding (initialised N(0, 0.01^2)),
  added to the attention's input only (so it exists only with `attention`).
  The output convolution starts small (`output_init_scale` times Glorot's
  standard deviation, zero bias), so a coupling whose parameters it gives
  starts near the identity.  `attention=False` keeps only the convolutions
  (CPU-cheap presets; attention costs O((H W)^2 F) per block).

  Args:
    output_channels: channels of the output.
    filters: F (Flow++: 96 for the flow, 96 with 2 blocks in the dequantiser).
    num_blocks: number of (conv, attention) blocks (Flow++: 10).
    num_heads: attention heads (F must be a multiple).
    dropout: rate inside the gated blocks (Flow++: 0.2).
    attention: whether each block has its self-attention part.
    context_channels: channels of the optional `context` input fed to every
      gated convolution (None: no context).
    output_init_scale: scale of the output convolution's initial weights.
  """

  def __init__(self, output_channels, filters=96, num_blocks=10, num_heads=4, dropout=0.0,
               attention=True, context_channels=None, output_init_scale=0.1, **kwargs):
    super().__init__(**kwargs)
    if int(num_blocks) < 1 or int(filters) < 1 or int(output_channels) < 1:
      raise ValueError(f"GatedConvAttentionNet: need output_channels, filters and "
                       f"num_blocks >= 1; got {output_channels}, {filters}, {num_blocks}.")
    self.output_channels = int(output_channels)
    self.filters = int(filters)
    self.num_blocks = int(num_blocks)
    self.num_heads = int(num_heads)
    self.dropout = float(dropout)
    self.attention = bool(attention)
    self.context_channels = None if context_channels is None else int(context_channels)
    self.output_init_scale = float(output_init_scale)
    layer_args = dict(dtype=self.dtype_policy)
    self.proj_in = keras.layers.Conv2D(self.filters, 3, padding="same", name="proj_in",
                                       **layer_args)
    self.conv_blocks = [
        GatedConvBlock(self.filters, context_channels=self.context_channels,
                       dropout=self.dropout, name=f"conv_block_{j}", **layer_args)
        for j in range(self.num_blocks)]
    self.conv_norms = [keras.layers.LayerNormalization(name=f"conv_norm_{j}", **layer_args)
                       for j in range(self.num_blocks)]
    self.attention_blocks, self.attention_norms = [], []
    if self.attention:
      self.attention_blocks = [
          GatedAttentionBlock(self.filters, self.num_heads, dropout=self.dropout,
                              name=f"attention_block_{j}", **layer_args)
          for j in range(self.num_blocks)]
      self.attention_norms = [
          keras.layers.LayerNormalization(name=f"attention_norm_{j}", **layer_args)
          for j in range(self.num_blocks)]
    self.proj_out = keras.layers.Conv2D(
        self.output_channels, 3, padding="same", name="proj_out",
        kernel_initializer=_small_initializer(self.output_init_scale), **layer_args)

  def build(self, input_shape):
    if len(input_shape) != 4 or any(d is None for d in input_shape[1:]):
      raise ValueError(f"{self.name}: expected input of shape [N, H, W, C] with known "
                       f"H, W, C; received shape {list(input_shape)}.")
    height, width = int(input_shape[1]), int(input_shape[2])
    features = tuple(input_shape[:-1]) + (self.filters,)
    self.proj_in.build(tuple(input_shape))
    for layer in [*self.conv_blocks, *self.conv_norms, *self.attention_blocks,
                  *self.attention_norms, self.proj_out]:
      layer.build(features)
    self.position_embedding = None
    if self.attention:
      self.position_embedding = self.add_weight(
          shape=(height, width, self.filters), name="position_embedding",
          initializer=keras.initializers.RandomNormal(stddev=0.01))

  def call(self, x, context=None, training=None):
    h = self.proj_in(x)
    for j in range(self.num_blocks):
      h = self.conv_norms[j](self.conv_blocks[j](h, context=context, training=training))
      if self.attention:
        h = self.attention_blocks[j](h, self.position_embedding, training=training)
        h = self.attention_norms[j](h)
    return self.proj_out(h)

  def compute_output_shape(self, input_shape):
    return tuple(input_shape[:-1]) + (self.output_channels,)

  def get_config(self):
    return {**super().get_config(), "output_channels": self.output_channels,
            "filters": self.filters, "num_blocks": self.num_blocks,
            "num_heads": self.num_heads, "dropout": self.dropout,
            "attention": self.attention, "context_channels": self.context_channels,
            "output_init_scale": self.output_init_scale}
