"""The protocol of every layer that owns a bijector's weights.

`BijectorLayer` is the protocol; `needs_initialization(layer)` and
`initialize_in_order(layers, x)` are the two functions every owner of a
sequence of layers (a flow, a block, a dequantiser) uses to walk it.
"""
import functools
import inspect

import keras
import numpy as np
import tensorflow as tf

from tfp_ldu.bijectors.conditional_bijector import ConditionalBijector

__all__ = ["BijectorLayer", "needs_initialization", "initialize_in_order",
           "walk_in_order", "vector_event_size", "upgraded_config", "RENAMED_ARGUMENTS"]

# Constructor arguments renamed since configs were saved: old name -> new name.
# `from_config` reads configs written under the old names.
# Classes whose renames differ set `renamed_arguments` (e.g. Flow++'s conditioner
# depth, `num_blocks` -> `conditioner_blocks`).
RENAMED_ARGUMENTS = {"event_size": "event_shape", "image_shape": "event_shape",
                     "num_mixtures": "num_components"}


def upgraded_config(config, renamed=None):
  """`config` with the arguments of `renamed` (default `RENAMED_ARGUMENTS`) renamed."""
  config = dict(config)
  for old, new in (RENAMED_ARGUMENTS if renamed is None else renamed).items():
    if old in config and new not in config:
      config[new] = config.pop(old)
  return config


def vector_event_size(owner, event_shape):
  """D from a vector layer's `event_shape`: `(D,)` or an int D >= 1, else a `ValueError`."""
  dims = (event_shape,) if np.ndim(event_shape) == 0 else tuple(event_shape)
  try:
    size = int(dims[0]) if len(dims) == 1 else None
  except (TypeError, ValueError):
    size = None
  if size is None or size < 1 or size != dims[0]:
    raise ValueError(f"{owner}: event_shape must be (D,) or D with D >= 1 (the layer acts "
                     f"on vectors); got {event_shape!r}.")
  return size


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
  * `needs_initialization`: whether any layer inside still waits for data;
  * `after_training(x)`: sets statistics that evaluation reads from data
    (batch normalisation's population moments), a no-op unless
    `collects_statistics`.

  **The context slot.** `bijector(training=None, context=None)`: a
  conditional layer (zuko's `LazyTransform.forward(c)`) builds its bijector
  for a context `c` `[N, *context_shape]` (e.g. the features a variational
  dequantiser computes from the discrete image).  A subclass whose
  `bijector` has no `context` parameter is unconditional: the base class
  wraps it to take and ignore the context (as zuko's unconditional
  transforms do), so one context can be passed down a chain that mixes
  conditional layers (couplings) with unconditional ones (ActNorm).
  `conditional_bijector()` gives TFP's convention instead, the context
  passed at call time as `conditional_input` (routed by `tfb.Chain` by
  bijector name, TFP #1410/#1801).

  Shapes: `x` is `[N, *event_shape]` (`[N, D]` for vectors).
  """

  # Whether `after_training` sets statistics from data (batch normalisation).
  collects_statistics = False
  # Constructor arguments renamed since configs were saved (`from_config`).
  renamed_arguments = RENAMED_ARGUMENTS

  def __init_subclass__(cls, **kwargs):
    super().__init_subclass__(**kwargs)
    method = cls.__dict__.get("bijector")
    if method is not None and "context" not in inspect.signature(method).parameters:
      cls.bijector = _ignoring_context(method)
    method = cls.__dict__.get("initialize")
    if method is not None and "context" not in inspect.signature(method).parameters:
      cls.initialize = _initializing_without_context(method)

  @classmethod
  def from_config(cls, config):
    """`cls(**config)`, reading configs saved under renamed arguments (`renamed_arguments`)."""
    return super().from_config(upgraded_config(config, cls.renamed_arguments))

  def bijector(self, training=None, context=None):
    """A fresh `tfb.Bijector` over the current weights (latent -> data as `forward`)."""
    raise NotImplementedError(f"{type(self).__name__} must implement bijector().")

  def call(self, x, training=None, context=None):
    """Data -> latent through this layer's bijector."""
    return self.bijector(training, context=context).inverse(x)

  def conditional_bijector(self):
    """This layer's evaluation-mode bijector taking its context at call time, named `self.name`.

    A `tfp_ldu.bijectors.ConditionalBijector`: `b.inverse(x, conditional_input=c)`
    is `bijector(training=False, context=c).inverse(x)`, over the weights of
    that moment.  A `tfb.Chain` of them routes each layer's context by name,
    TFP's convention for conditional flows:

    ```python
    features = model.embed_context(c)                     # [N, context_size]
    chain = tfb.Chain([layer.conditional_bijector() for layer in model.flow_layers])
    kwargs = {layer.name: {"conditional_input": features} for layer in model.flow_layers}
    tfd.TransformedDistribution(model.base_distribution(), chain).log_prob(
        x, bijector_kwargs=kwargs)                         # == model.log_prob(x, context=c)
    ```

    An unconditional layer's bijector takes and ignores `conditional_input`.
    """
    context_size = getattr(self, "context_size", 0)
    probe_context = (tf.zeros([1, context_size], self.compute_dtype) if context_size
                     else None)
    probe = self.bijector(training=False, context=probe_context)
    return ConditionalBijector(
        lambda context: self.bijector(training=False, context=context),
        forward_min_event_ndims=probe.forward_min_event_ndims,
        inverse_min_event_ndims=probe.inverse_min_event_ndims, dtype=probe.dtype,
        name=self.name)

  def initialize(self, x, context=None):
    """Data-dependent initialisation of the layers inside, from a batch `x`.

    `context`: the features the layer's bijector takes for this batch (the
    context slot); a subclass whose `initialize` has no `context` parameter
    is wrapped to take and ignore it, as `bijector` is.
    """
    del context
    for layer in self._direct_sublayers():
      if needs_initialization(layer):
        layer.initialize(x)

  @property
  def needs_initialization(self):
    """True while this layer or one inside it waits for `initialize`."""
    return any(needs_initialization(layer) for layer in self._direct_sublayers())

  def after_training(self, x):
    """Sets data statistics of evaluation mode from a batch `x` of this layer's inputs."""
    del x

  def _direct_sublayers(self):
    return self._flatten_layers(include_self=False, recursive=False)


def _ignoring_context(method):
  """`method(self, training)` as `bijector(self, training=None, context=None)`."""
  @functools.wraps(method)
  def bijector(self, training=None, context=None):
    del context  # An unconditional layer: the same bijector for every context.
    return method(self, training)
  return bijector


def _initializing_without_context(method):
  """`method(self, x)` as `initialize(self, x, context=None)`."""
  @functools.wraps(method)
  def initialize(self, x, context=None):
    del context  # Its parts' initialisation does not depend on the context.
    return method(self, x)
  return initialize


def needs_initialization(layer):
  """True for a layer that has data-dependent initialisation still to run.

  A layer says so by a `needs_initialization` attribute (every
  `BijectorLayer`, `tfp_ldu.nets.InitializedFlag`); any other Keras layer
  needs it if a layer directly inside it does.
  """
  flag = getattr(layer, "needs_initialization", None)
  if flag is not None:
    return bool(flag)
  return any(needs_initialization(inner)
             for inner in layer._flatten_layers(include_self=False, recursive=False))


def walk_in_order(layers, x, visit, context=None):
  """Pushes `x` through `layers` in data -> latent order, calling `visit(layer, h)` first.

  Each layer sees the batch `h` the previous ones produced (evaluation mode,
  `bijector(training=False, context=context).inverse`), which is what
  data-dependent initialisation and statistics need.

  Returns:
    The output of the last layer.
  """
  h = x
  for layer in layers:
    visit(layer, h)
    h = layer.bijector(training=False, context=context).inverse(h)
  return h


def initialize_in_order(layers, x, context=None):
  """Initialises each layer that needs it from the batch it sees; returns the output.

  Args:
    layers: `BijectorLayer`s in data -> latent order.
    x: a batch of the first layer's inputs.
    context: the conditioning context the layers' bijectors take, if any.
  """
  def visit(layer, h):
    if needs_initialization(layer):
      layer.initialize(h, context=context)
  return walk_in_order(layers, x, visit, context)
