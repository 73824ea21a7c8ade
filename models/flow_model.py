"""Base Keras model for normalizing flows trained by maximum likelihood."""
import inspect

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_ldu.layers.actnorm import ActNorm

tfb = tfp.bijectors
tfd = tfp.distributions

__all__ = ["FlowModel"]


class FlowModel(keras.Model):
  """A density p(x) = N(T(x); 0, I) |det dT/dx| with T a chain of flow layers.

  Subclasses set `self.flow_layers`: Keras layers in data -> latent order, each
  with a `bijector()` method returning a fresh TFP bijector whose `inverse` is
  that layer's data -> latent map.  This class provides:

  * `call(x)` -> per-example log-density `[N]` (so `fit` needs no labels: the
    loss is -mean log-likelihood, see `compute_loss`);
  * `log_prob(x)`, `sample(n, seed=None)`, `bijector`, `distribution`;
  * `fit` that first initialises every `ActNorm` from the first batch;
  * `sample_with_diagnostics(n)` reporting the numeric inverses' iterations.

  Shapes: `x` is `[N, D]` with D = `event_dim`.
  """

  def __init__(self, event_dim, **kwargs):
    super().__init__(**kwargs)
    self.event_dim = int(event_dim)
    if self.event_dim < 1:
      raise ValueError(f"{type(self).__name__}: event_dim must be >= 1; got {event_dim}.")
    self._flow_layers = []

  @property
  def flow_layers(self):
    """The flow's layers in data -> latent order."""
    return self._flow_layers

  @flow_layers.setter
  def flow_layers(self, layers):
    # The layers create their weights eagerly, so the model is built once it has them.
    self._flow_layers = list(layers)
    self.built = bool(self._flow_layers)

  # ---- the density -------------------------------------------------------
  def flow_bijector(self, training=None):
    """latent -> data `tfb.Chain`; its `inverse` is the data -> latent map T.

    Layers whose `bijector` takes a `training` argument (e.g. residual blocks,
    whose log-det estimator differs between training and evaluation) get it.
    """
    # Chain([b1, ..., bn]).inverse applies b1.inverse first: data -> latent order.
    return tfb.Chain([_layer_bijector(layer, training) for layer in self.flow_layers],
                     name="flow")

  @property
  def bijector(self):
    """The evaluation-mode `flow_bijector()`."""
    return self.flow_bijector()

  def base_distribution(self):
    dtype = self.compute_dtype
    return tfd.MultivariateNormalDiag(loc=tf.zeros([self.event_dim], dtype=dtype))

  def _distribution(self, training=None):
    return tfd.TransformedDistribution(self.base_distribution(),
                                       self.flow_bijector(training))

  @property
  def distribution(self):
    """`tfd.TransformedDistribution(N(0, I), bijector)` over the current weights."""
    return self._distribution()

  def _check_input(self, x):
    shape = tf.TensorShape(x.shape)
    if shape.rank != 2 or (shape[-1] is not None and shape[-1] != self.event_dim):
      raise ValueError(f"{type(self).__name__}: expected data of shape [N, "
                       f"{self.event_dim}]; received shape {shape.as_list()}.")

  def call(self, x, training=None):
    x = tf.convert_to_tensor(x, dtype=self.compute_dtype)
    self._check_input(x)
    return self._distribution(training).log_prob(x)

  def log_prob(self, x):
    """Per-example log-density `[N]` in nats."""
    return self(x, training=False)

  def sample(self, n, seed=None):
    """`[n, D]` samples, drawn through the numeric inverses."""
    return self.distribution.sample(n, seed=seed)

  def sample_with_diagnostics(self, n, seed=None):
    """Samples and the solve diagnostics.

    Returns:
      dict with `samples` `[n, D]`, `latents` `[n, D]`, `max_iterations`
      (largest iteration count of any numeric inverse) and `num_unconverged`.
    """
    latents = self.base_distribution().sample(n, seed=seed)
    x = latents
    max_iterations = tf.constant(0, tf.int32)
    num_unconverged = tf.constant(0, tf.int32)
    for layer in reversed(self.flow_layers):
      part = layer.bijector()
      if hasattr(part, "solve_forward"):
        solved = part.solve_forward(x)
        x = solved.value
        max_iterations = tf.maximum(max_iterations, solved.num_iterations)
        num_unconverged += solved.num_unconverged
      else:
        x = part.forward(x)
    return dict(samples=x, latents=latents, max_iterations=max_iterations,
                num_unconverged=num_unconverged)

  # ---- training ----------------------------------------------------------
  def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
    """-mean log-likelihood (nats), scaled for `tf.distribute`, plus layer losses."""
    del x, y, training
    log_likelihood = y_pred
    if sample_weight is not None:
      sample_weight = tf.cast(sample_weight, y_pred.dtype)
      loss = -tf.reduce_sum(log_likelihood * sample_weight) / tf.reduce_sum(sample_weight)
    else:
      loss = -tf.reduce_mean(log_likelihood)
    loss = loss / tf.cast(tf.distribute.get_strategy().num_replicas_in_sync, loss.dtype)
    for extra in self.losses:
      loss += tf.cast(tf.reduce_sum(extra), loss.dtype)
    return loss

  def initialize(self, batch):
    """Data-dependent initialisation of every `ActNorm`, in data -> latent order.

    Args:
      batch: `[N, D]` array-like, N >= 2.  Called by `fit` on its first batch;
        call it yourself before a custom training loop.
    """
    h = tf.convert_to_tensor(np.asarray(batch), dtype=self.compute_dtype)
    self._check_input(h)
    for layer in self.flow_layers:
      if isinstance(layer, ActNorm) and not layer.is_initialized:
        layer.initialize(h.numpy())
      h = layer.bijector().inverse(h)

  @property
  def needs_initialization(self):
    return any(isinstance(layer, ActNorm) and not layer.is_initialized
               for layer in self.flow_layers)

  def fit(self, x=None, y=None, batch_size=None, **kwargs):
    if self.needs_initialization:
      self.initialize(_first_batch(x, batch_size))
    return super().fit(x, y, batch_size=batch_size, **kwargs)


def _layer_bijector(layer, training):
  """`layer.bijector(training=...)` if it takes the flag, else `layer.bijector()`."""
  if "training" in inspect.signature(layer.bijector).parameters:
    return layer.bijector(training=training)
  return layer.bijector()


def _first_batch(x, batch_size):
  """The first training batch of `fit`'s `x` (array, tensor or tf.data)."""
  if isinstance(x, tf.data.Dataset):
    element = next(iter(x.take(1)))
    return element[0] if isinstance(element, (tuple, list)) else element
  data = np.asarray(x)
  return data[: max(batch_size or 32, 2)]
