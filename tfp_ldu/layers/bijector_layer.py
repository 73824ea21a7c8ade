"""The protocol of every layer that owns a bijector's weights."""
import keras

__all__ = ["BijectorLayer"]


class BijectorLayer(keras.layers.Layer):
  """A Keras layer that owns weights and builds a fresh TFP bijector from them.

  The layer is the owner (Keras 3 tracks and trains its weights); the
  bijector is a light object built on every call, whose `inverse` is the
  layer's data -> latent map.  Subclasses implement `bijector(training)`;
  this class provides

  * `call(x, training)`: the data -> latent map, `bijector(training).inverse(x)`;
  * `initialize(x)`: data-dependent initialisation from a batch of this
    layer's inputs, walked through nested layers (ActNorm, PixelCNN
    normalisations, ...).  The default initialises every direct sub-layer
    that needs it with the same `x`; a layer whose parts see other inputs
    (e.g. `LDUBlock`, whose lower shift sees the D-scales' output) overrides
    it and passes each part its own input;
  * `needs_initialization`: whether any layer inside still waits for data.

  Shapes: `x` is `[N, *event_shape]` (`[N, D]` for vectors).
  """

  def bijector(self, training=None):
    """A fresh `tfb.Bijector` over the current weights (latent -> data as `forward`)."""
    raise NotImplementedError(f"{type(self).__name__} must implement bijector().")

  def call(self, x, training=None):
    """Data -> latent through this layer's bijector."""
    return self.bijector(training).inverse(x)

  def initialize(self, x):
    """Data-dependent initialisation of the layers inside, from a batch `x`."""
    for layer in self._direct_sublayers():
      if _needs_initialization(layer):
        layer.initialize(x)

  @property
  def needs_initialization(self):
    """True while this layer or one inside it waits for `initialize`."""
    return any(_needs_initialization(layer) for layer in self._direct_sublayers())

  def _direct_sublayers(self):
    return self._flatten_layers(include_self=False, recursive=False)


def _needs_initialization(layer):
  """True for a layer that has data-dependent initialisation still to run."""
  flag = getattr(layer, "needs_initialization", None)
  if flag is not None:
    return bool(flag)
  return any(_needs_initialization(inner)
             for inner in layer._flatten_layers(include_self=False, recursive=False))
