"""Gated residual MLP (the tabular form of Flow++'s gated residual conditioner)."""
import keras
import tensorflow as tf
from keras import ops

__all__ = ["GatedResidualBlock", "GatedResidualMLP"]


@keras.saving.register_keras_serializable(package="tfp_ldu")
class GatedResidualBlock(keras.layers.Layer):
  """One gated residual block, `[..., W_in] -> [..., W]`:

      h = W_1 act(x) + c_1                                  `[..., W]`
      [g_a, g_b] = W_2 dropout(act(h)) + c_2                `[..., 2W]`
      y = skip(x) + g_a * sigmoid(g_b)                      (GLU gate)
      y = LayerNorm(y)                                      (if `layer_norm`)

  skip is the identity when W_in = W and a bias-free linear map otherwise.
  """

  def __init__(self, units, activation="relu", dropout=0.0, layer_norm=True, **kwargs):
    super().__init__(**kwargs)
    if not 0.0 <= float(dropout) < 1.0:
      raise ValueError(f"GatedResidualBlock: dropout must be in [0, 1); got {dropout}.")
    self.units = int(units)
    self.activation = keras.activations.get(activation)
    self.dropout = float(dropout)
    self.layer_norm = bool(layer_norm)
    dense = lambda units, name, **kw: keras.layers.Dense(
        units, name=name, dtype=self.dtype_policy, **kw)
    self.hidden = dense(self.units, "hidden")
    self.gate = dense(2 * self.units, "gate")
    self.dropout_layer = keras.layers.Dropout(self.dropout) if self.dropout else None
    self.normalization = (keras.layers.LayerNormalization(name="layer_norm",
                                                          dtype=self.dtype_policy)
                          if self.layer_norm else None)
    self.skip = None

  def build(self, input_shape):
    input_units = input_shape[-1]
    if input_units != self.units:
      self.skip = keras.layers.Dense(self.units, use_bias=False, name="skip",
                                     dtype=self.dtype_policy)
      self.skip.build(input_shape)
    self.hidden.build(input_shape)
    self.gate.build(tuple(input_shape[:-1]) + (self.units,))
    if self.normalization is not None:
      self.normalization.build(tuple(input_shape[:-1]) + (self.units,))

  def call(self, x, training=None):
    h = self.activation(self.hidden(self.activation(x)))
    if self.dropout_layer is not None:
      h = self.dropout_layer(h, training=training)
    value, gate = ops.split(self.gate(h), 2, axis=-1)
    y = (x if self.skip is None else self.skip(x)) + value * ops.sigmoid(gate)
    return y if self.normalization is None else self.normalization(y)

  def compute_output_shape(self, input_shape):
    return tuple(input_shape[:-1]) + (self.units,)

  def get_config(self):
    return {**super().get_config(), "units": self.units,
            "activation": keras.activations.serialize(self.activation),
            "dropout": self.dropout, "layer_norm": self.layer_norm}


@keras.saving.register_keras_serializable(package="tfp_ldu")
class GatedResidualMLP(keras.layers.Layer):
  """Residual MLP of `GatedResidualBlock`s with a `[rows, columns]` output.

      h_0 = W_in x + c_in                                   `[..., hidden_units[0]]`
      h_j = GatedResidualBlock(hidden_units[j])(h_{j-1})    j = 0 .. len - 1
      out = reshape(W_out h_last + c_out, [..., rows, columns])

  Input `[..., input_dim]`, output `[..., rows, columns]`.  The output layer
  starts with small random weights (standard deviation `output_init_scale`
  times Glorot's) and zero biases: the output starts near 0, so a conditioned
  transformer starts near its zero-parameter form, while every weight still
  gets a non-zero gradient from the first step.
  """

  def __init__(self, input_dim, output_rows, output_columns, hidden_units=(64, 64),
               activation="relu", dropout=0.0, layer_norm=True, output_init_scale=1e-2,
               **kwargs):
    super().__init__(**kwargs)
    hidden_units = tuple(int(h) for h in hidden_units)
    if int(input_dim) < 1 or not hidden_units or min(hidden_units) < 1:
      raise ValueError(f"GatedResidualMLP: need input_dim >= 1 and at least one "
                       f"positive hidden width; got input_dim={input_dim}, "
                       f"hidden_units={hidden_units}.")
    self.input_dim = int(input_dim)
    self.output_rows = int(output_rows)
    self.output_columns = int(output_columns)
    self.hidden_units = hidden_units
    self.activation = activation
    self.dropout = float(dropout)
    self.layer_norm = bool(layer_norm)
    self.output_init_scale = float(output_init_scale)
    self.stem = keras.layers.Dense(hidden_units[0], name="stem", dtype=self.dtype_policy)
    self.blocks = [GatedResidualBlock(units, activation=activation, dropout=self.dropout,
                                      layer_norm=self.layer_norm, name=f"block_{j}",
                                      dtype=self.dtype_policy)
                   for j, units in enumerate(hidden_units)]
    self.head = keras.layers.Dense(
        self.output_rows * self.output_columns, name="head", dtype=self.dtype_policy,
        kernel_initializer=keras.initializers.VarianceScaling(
            scale=self.output_init_scale ** 2, mode="fan_avg", distribution="uniform"))

  def build(self, input_shape):
    if input_shape[-1] is not None and input_shape[-1] != self.input_dim:
      raise ValueError(f"GatedResidualMLP: expected input of shape [..., "
                       f"{self.input_dim}]; received shape {list(input_shape)}.")
    shape = tuple(input_shape)
    self.stem.build(shape)
    shape = shape[:-1] + (self.hidden_units[0],)
    for block in self.blocks:
      block.build(shape)
      shape = block.compute_output_shape(shape)
    self.head.build(shape)

  def call(self, x, training=None):
    h = self.stem(x)
    for block in self.blocks:
      h = block(h, training=training)
    out = self.head(h)
    return tf.reshape(out, tf.concat(
        [tf.shape(out)[:-1], [self.output_rows, self.output_columns]], axis=0))

  def compute_output_shape(self, input_shape):
    return tuple(input_shape[:-1]) + (self.output_rows, self.output_columns)

  def get_config(self):
    return {**super().get_config(), "input_dim": self.input_dim,
            "output_rows": self.output_rows, "output_columns": self.output_columns,
            "hidden_units": list(self.hidden_units), "activation": self.activation,
            "dropout": self.dropout, "layer_norm": self.layer_norm,
            "output_init_scale": self.output_init_scale}
