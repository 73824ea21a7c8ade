"""Glow's coupling network: conv3x3 - ReLU - conv1x1 - ReLU - zero-initialised conv3x3."""
import keras
import tensorflow as tf

__all__ = ["CouplingConvNet", "map_images"]


def map_images(network, x):
  """Applies a Keras layer on `[N, H, W, C]` to `x` `[..., H, W, C]` (any batch dims).

  The batch dimensions are merged into one for the layer and restored after;
  H, W, C must be static.  Returns `[..., H', W', C']`.
  """
  image_shape = x.shape[-3:]
  if x.shape.rank is None or not image_shape.is_fully_defined():
    raise ValueError(f"map_images: expected images [..., H, W, C] with static H, W, C; "
                     f"received shape {x.shape}.")
  batch_shape = tf.shape(x)[:-3]
  out = network(tf.reshape(x, [-1, *image_shape]))
  result = tf.reshape(out, tf.concat([batch_shape, tf.shape(out)[1:]], axis=0))
  result.set_shape(x.shape[:-3].concatenate(out.shape[1:]))
  return result


@keras.saving.register_keras_serializable(package="tfp_ldu")
class CouplingConvNet(keras.layers.Layer):
  """NN of Glow's coupling (openai/glow `model.py::f`), `[.., H, W, C_in] -> [.., H, W, C_out]`:

      h = ReLU(conv3x3(x, hidden_channels))
      h = ReLU(conv1x1(h, hidden_channels))
      y = conv3x3(h, output_channels)            zero-initialised kernel and bias

  "same" padding everywhere, so the spatial size is kept.  The zero output
  makes a coupling built on it start as the identity (Glow, section 3.3);
  Glow's actnorms inside the network and its learned output scale are left
  out.  Any number of batch dimensions (merged for the convolutions).

  Args:
    hidden_channels: width of the hidden feature maps (Glow: 512).
    output_channels: C_out.
    kernel_size: of the first and last convolutions (Glow: 3).
    **kwargs: standard Keras layer arguments.

  #### References

  [1] Kingma, Dhariwal. Glow: Generative Flow with Invertible 1x1
      Convolutions. NeurIPS 2018. https://arxiv.org/abs/1807.03039
  """

  def __init__(self, hidden_channels, output_channels, kernel_size=3, **kwargs):
    super().__init__(**kwargs)
    self.hidden_channels = int(hidden_channels)
    self.output_channels = int(output_channels)
    self.kernel_size = int(kernel_size)
    if min(self.hidden_channels, self.output_channels, self.kernel_size) < 1:
      raise ValueError(f"CouplingConvNet: hidden_channels, output_channels and "
                       f"kernel_size must be >= 1; got {hidden_channels}, "
                       f"{output_channels}, {kernel_size}.")
    conv = lambda filters, size, name, **extra: keras.layers.Conv2D(
        filters, size, padding="same", name=name, dtype=self.dtype_policy, **extra)
    self.convs = [conv(self.hidden_channels, self.kernel_size, "conv_in", activation="relu"),
                  conv(self.hidden_channels, 1, "conv_hidden", activation="relu"),
                  conv(self.output_channels, self.kernel_size, "conv_out",
                       kernel_initializer="zeros", bias_initializer="zeros")]

  def build(self, input_shape):
    shape = (None, *tuple(input_shape)[-3:])
    for conv in self.convs:
      conv.build(shape)
      shape = conv.compute_output_shape(shape)

  def call(self, x):
    def network(images):
      for conv in self.convs:
        images = conv(images)
      return images

    return map_images(network, x)

  def compute_output_shape(self, input_shape):
    return (*tuple(input_shape)[:-1], self.output_channels)

  def get_config(self):
    return {**super().get_config(), "hidden_channels": self.hidden_channels,
            "output_channels": self.output_channels, "kernel_size": self.kernel_size}
