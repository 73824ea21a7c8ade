"""Base Keras model of every flow: p(x) = base(T(x)) |det dT/dx|, trained by `fit`."""
import math
import warnings

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_ldu.bijectors.numeric_inverse_bijector import solve_forward
from tfp_ldu.flows.concise_errors import concise_errors
from tfp_ldu.flows.training import FlowTraining
from tfp_ldu.flows.training import NonFiniteLossError
from tfp_ldu.layers.bijector_layer import RENAMED_ARGUMENTS
from tfp_ldu.layers.bijector_layer import initialize_in_order
from tfp_ldu.layers.bijector_layer import needs_initialization
from tfp_ldu.layers.bijector_layer import upgraded_config
from tfp_ldu.layers.bijector_layer import walk_in_order
from tfp_ldu.layers.context_standardization import ContextStandardization
from tfp_ldu.layers.logit_preprocessing import LogitPreprocessing
from tfp_ldu.layers.pixel_levels import level_problem
from tfp_ldu.layers.pixel_levels import levels_of
from tfp_ldu.layers.precision import flow_dtype_policy
from tfp_ldu.random_seeds import stateless_seed
from tfp_ldu.solvers.truncation import truncated_solves

tfb = tfp.bijectors
tfd = tfp.distributions

__all__ = ["FlowModel", "NonFiniteLossError"]


@keras.saving.register_keras_serializable(package="tfp_ldu")
class FlowModel(FlowTraining, keras.Model):
  """A density p(x) = base(T(x)) |det dT/dx| with T a chain of bijector layers.

  Subclasses set `self.flow_layers`: `tfp_ldu.layers.BijectorLayer`s in
  data -> latent order, each building a fresh TFP bijector whose `inverse`
  is that layer's data -> latent map.  This class provides:

  * `call(x)` -> per-example log-likelihood `[N]` in nats, so `fit` needs no
    labels (the loss is its negative mean, see `compute_loss`).  With a
    `dequantizer` it is the dequantisation bound
    log p(y) - log q(y | x), y = dequantized x; otherwise log p(x);
  * `log_prob(x)` (density of continuous x), `sample(n, seed)` and
    `sample_with_diagnostics(n, seed)`: run as compiled `tf.function`s when
    called eagerly (one trace per dtype and input rank, no retracing);
  * `bijector` (evaluation mode) and `distribution`, a live
    `tfd.TransformedDistribution` that reads the current weights on every
    call, so it can be kept, trained through (`tfp.vi.fit_surrogate_posterior`)
    and lists its `trainable_variables`; an int seed is stateless
    everywhere (`sample(n, seed=1)` and `distribution.sample(n, seed=1)`
    repeat their samples; `tfp_ldu.random_seeds.stateless_seed`);
  * `fit`: initialises data-dependent layers (ActNorm, ...) from the first
    batch, honours `sample_weight` without labels, and stops with
    `NonFiniteLossError` at the first non-finite loss or gradient, leaving
    the weights as they were before that step.

  Shapes: `x` is `[N, *event_shape]` (`event_shape=(D,)` for vectors,
  `(H, W, C)` for images; image models also take flat `[N, H*W*C]` rows);
  the latent is `[N, *latent_shape]` (default: `event_shape`).  Models whose
  layers act on flat vectors (MADE-style: LDU, MAF, ...) start their
  `flow_layers` with `tfp_ldu.layers.FlattenEvent` (an image event becomes
  `[D]`, NHWC order) and pass `latent_shape=(D,)`.

  #### Example

  ```python
  from tfp_ldu.flows import LDUFlow
  x = np.random.default_rng(0).normal(size=(256, 2)).astype("float32")
  flow = LDUFlow(2, num_blocks=2, num_d_scales=1, hidden_units=(16,))
  flow.compile(keras.optimizers.Adam(1e-3))
  flow.fit(x, batch_size=64, epochs=1, verbose=0)
  flow.log_prob(x[:5])                   # [5] nats
  flow.sample(3, seed=1)                 # [3, 2], through the numeric inverses
  ```
  """

  # Constructor arguments renamed since configs were saved: old -> new (`from_config`).
  renamed_arguments = RENAMED_ARGUMENTS
  # Whether the constructor gives its layers the context (`context_shape`).
  takes_context = False
  # The entries of `sample_with_diagnostics` shaped `[n, (B,) ...]` (per sample).
  sample_outputs = ("samples", "latents")

  def __init__(self, event_shape, latent_shape=None, dequantizer=None, logit_alpha=None,
               context_shape=None, context_net=None, preprocessing=None, **kwargs):
    """Builds the model.

    Args:
      event_shape: int D or a tuple of ints, the shape of one data point.
      latent_shape: shape of one latent point (default: `event_shape`).
      dequantizer: optional layer mapping discrete data x to
        `(y, log q(y | x))` (e.g. `tfp_ldu.layers.UniformDequantizer`); then
        `call` and the training loss use the dequantisation bound.
      logit_alpha: if set, the flow starts with
        `tfp_ldu.layers.LogitPreprocessing(logit_alpha)`, h = logit(alpha +
        (1 - 2 alpha) y), with its log-det counted, so `log_prob` stays the
        density of dequantised pixels y in [0, 1)^D (MAF: 1e-6 for MNIST,
        0.05 for CIFAR-10).
      context_shape: the shape of one context c for a conditional density
        p(x | c) (e.g. `(3,)`, or `(10,)` for one-hot labels); None or `()`
        for an unconditional one.  Contexts are z-scored inside the model
        (`tfp_ldu.layers.ContextStandardization`, statistics from the
        training contexts), so users pass raw values.
      preprocessing: optional bijector layers without weights that the flow
        starts with, in data -> latent order, their log-dets counted (after
        the dequantiser, before the logit preprocessing); e.g.
        `[tfp_ldu.layers.Standardization(mean, std)]` so that the model takes
        and returns data in its own units.
      context_net: optional Keras layer applied to the standardised context
        and trained end to end (e.g. a small CNN for image-shaped contexts,
        as sbi's `embedding_net`); its output, flattened, is what the
        conditional layers receive (`context_size` features).
      **kwargs: `keras.Model` arguments (`name`, `dtype`, ...).

    Mixed precision: a `mixed_bfloat16` policy (as `dtype`, or the global
    policy) runs the conditioner networks (MADE, PixelCNN, MLPs) in bfloat16
    while the model, every bijector layer, log-determinant, the base density
    and the numeric solves stay float32: the model's policy becomes a
    `tfp_ldu.layers.precision.FlowDTypePolicy` (float32, carrying the mixed
    policy for the networks).

    Raises:
      ValueError: for a non-positive event shape, a `mixed_float16` policy
        (float16 needs loss scaling; use `mixed_bfloat16`), or a dequantizer
        under a mixed policy.
    """
    super().__init__(**kwargs)
    self.event_shape = _as_shape(event_shape, "event_shape", type(self).__name__)
    if latent_shape is None:
      latent_shape = self.event_shape
    self.latent_shape = _as_shape(latent_shape, "latent_shape", type(self).__name__)
    # A mixed policy becomes a FlowDTypePolicy: the model and its bijector
    # layers compute in the variable dtype (float32), the conditioner networks
    # inside them in the mixed policy (`tfp_ldu.layers.precision`).
    self.dtype_policy = flow_dtype_policy(self.dtype_policy, type(self).__name__)
    if dequantizer is not None and (dequantizer.dtype_policy.compute_dtype
                                    != dequantizer.dtype_policy.variable_dtype):
      raise ValueError(
          f"{type(self).__name__}: the dequantizer computes in "
          f"{dequantizer.dtype_policy.compute_dtype}, but log q(y | x) is a "
          f"log-density and must stay {dequantizer.dtype_policy.variable_dtype}: "
          f"build it with dtype='float32' (or under "
          f"keras.config.set_dtype_policy(tfp_ldu.layers.precision.flow_dtype_policy("
          f"'mixed_bfloat16'))).")
    if dequantizer is not None and dequantizer.dtype_policy.variable_dtype != (
        self.dtype_policy.variable_dtype):
      if dequantizer.weights:
        raise ValueError(
            f"{type(self).__name__}: the dequantizer's weights are "
            f"{dequantizer.dtype_policy.variable_dtype} but the model computes in "
            f"{self.dtype_policy.variable_dtype}; build the dequantizer with "
            f"dtype={self.dtype_policy.variable_dtype!r}.")
      # A dequantiser without weights follows the model's dtype.
      dequantizer.dtype_policy = self.dtype_policy
    self.dequantizer = dequantizer
    self.logit_alpha = None if logit_alpha is None else float(logit_alpha)
    self.preprocessing = list(preprocessing or [])
    if self.preprocessing and self.logit_alpha is not None:
      raise ValueError(f"{type(self).__name__}: pass preprocessing or logit_alpha, not both "
                       f"(the logit transform is for dequantised pixels in [0, 1)).")
    for layer in self.preprocessing:
      if layer.weights:
        raise ValueError(f"{type(self).__name__}: preprocessing layers have no weights; "
                         f"{layer.name} has {len(layer.weights)} (make it a flow layer).")
      layer.dtype_policy = self.dtype_policy
    logit = ([] if self.logit_alpha is None else
             [LogitPreprocessing(self.logit_alpha, name="logit", dtype=self.dtype_policy)])
    self._preprocessing = [*self.preprocessing, *logit]
    # The layers whose support is not all of R^D (`outside_support`): the
    # logit's, or a table's bounded columns (`ColumnBounds`, which comes first).
    self._bounded = [layer for layer in self._preprocessing[:1]
                     if hasattr(layer, "outside_support")]
    self._flow_layers = []
    self._build_context(context_shape, context_net)
    # Not a dict: TensorFlow tracks dict attributes, and a tracked dict with
    # tuple keys makes `model.export` / `tf.saved_model.save` refuse the model.
    self.compiled_calls = CompiledCalls()

  @property
  def event_size(self):
    """D = the number of scalars in one data point."""
    return math.prod(self.event_shape)

  # ---- the context of a conditional density ------------------------------
  def _build_context(self, context_shape, context_net):
    """Sets `context_shape`, the standardisation, the embedding and `context_size`."""
    owner = type(self).__name__
    if context_shape is None or (np.ndim(context_shape) == 1 and len(context_shape) == 0):
      if context_net is not None:
        raise ValueError(f"{owner}: a context_net needs a context_shape.")
      self.context_shape, self.context_net, self.context_size = (), None, 0
      self.context_standardization = None
      return
    self.context_shape = _as_shape(context_shape, "context_shape", owner)
    self.context_standardization = ContextStandardization(
        self.context_shape, name="context_standardization", dtype=self.dtype_policy)
    self.context_net = context_net
    embedded = tf.zeros([1, *self.context_shape], self.compute_dtype)
    if context_net is not None:
      embedded = context_net(embedded)
    self.context_size = math.prod(embedded.shape[1:])

  @property
  def conditional(self):
    """True for a conditional density p(x | c) (built with a `context_shape`)."""
    return bool(self.context_shape)

  def embed_context(self, context, training=None):
    """`[N, *context_shape]` raw contexts -> `[N, context_size]` features for the layers.

    Standardised (`context_standardization`), then through `context_net` if
    any, then flattened.  None for None.
    """
    if context is None:
      return None
    h = self.context_standardization(tf.cast(context, self.compute_dtype))
    if self.context_net is not None:
      h = tf.cast(self.context_net(h, training=training), self.compute_dtype)
    return tf.reshape(h, [-1, self.context_size])

  def split_inputs(self, inputs):
    """`(x, context)` from `x` or `{"x": x, "context": c}`, with a clear error on a mismatch.

    A conditional model needs the context, an unconditional one refuses it.
    """
    owner = type(self).__name__
    context = None
    if isinstance(inputs, dict):
      unknown = sorted(set(inputs) - {"x", "context"})
      if unknown or "x" not in inputs:
        raise ValueError(f'{owner}: expected inputs {{"x": x, "context": c}}; got keys '
                         f"{sorted(inputs)}.")
      inputs, context = inputs["x"], inputs.get("context")
    self._check_context_given(context, owner)
    return inputs, context

  def _check_context_given(self, context, owner):
    if self.conditional and context is None:
      raise ValueError(
          f"{owner} is conditional (context_shape={self.context_shape}): pass the context, "
          f'e.g. log_prob(x, context=c), sample(n, context=c), fit({{"x": x, "context": c}}).')
    if not self.conditional and context is not None:
      raise ValueError(f"{owner} is unconditional: it takes no context (build it with "
                       f"context_shape=... for a conditional density p(x | c)).")

  def _as_context(self, context, num_rows=None):
    """`context` as `[N, *context_shape]` (one context broadcast to `num_rows`), or an error."""
    owner = type(self).__name__
    self._check_context_given(context, owner)
    if context is None:
      return None
    context = context if tf.is_tensor(context) else np.asarray(context)
    dtype = tf.as_dtype(context.dtype) if context.dtype != object else None
    if dtype is None or not (dtype.is_floating or dtype.is_integer or dtype.is_bool):
      raise TypeError(f"{owner}: expected a numeric context; received dtype {context.dtype}.")
    context = tf.cast(context, self.compute_dtype)
    shape = tf.TensorShape(context.shape)
    expected = tf.TensorShape(self.context_shape)
    if shape.rank == expected.rank and shape.is_compatible_with(expected):
      context = context[tf.newaxis]  # One context for every row.
      if num_rows is not None:
        context = tf.broadcast_to(context, tf.concat([[num_rows], self.context_shape], 0))
      return context
    if shape.rank != 1 + expected.rank or not shape[1:].is_compatible_with(expected):
      dims = ", ".join(str(d) for d in self.context_shape)
      raise ValueError(f"{owner}: expected a context of shape [N, {dims}] or [{dims}]; "
                       f"received shape {shape.as_list()}.")
    if isinstance(num_rows, int) and shape[0] is not None and shape[0] != num_rows:
      raise ValueError(f"{owner}: {num_rows} rows of x but {shape[0]} contexts; pass one "
                       f"context per row, or one context for all.")
    return context

  @property
  def needs_context_statistics(self):
    """True for a conditional model whose context standardisation is not yet set."""
    return self.conditional and self.context_standardization.needs_initialization

  def set_context_statistics(self, context):
    """Sets the context standardisation from training contexts `[N, *context_shape]`.

    `fit` calls it on the whole array of contexts it is given (or on the
    first batch of a dataset) before training; call it yourself before a
    custom training loop.
    """
    if not self.conditional:
      raise ValueError(f"{type(self).__name__} is unconditional: it has no context "
                       f"statistics.")
    self.context_standardization.initialize(self._as_context(context))

  @property
  def flow_layers(self):
    """The flow's layers in data -> latent order (the logit preprocessing first)."""
    return self._flow_layers

  @flow_layers.setter
  def flow_layers(self, layers):
    # The layers create their weights eagerly, so the model is built once it has them.
    self._flow_layers = [*self._preprocessing, *layers]
    self.built = bool(self._flow_layers)
    if self.conditional and not self.reads_context:
      raise ValueError(
          f"{type(self).__name__} is not conditional yet: none of its layers reads a "
          f"context, so context_shape={self.context_shape} would be ignored.  Conditional "
          f"flows: {', '.join(conditional_flow_names())}.")

  @property
  def reads_context(self):
    """Whether some layer (or the base) reads the context: its `context_size` > 0."""
    return any(getattr(layer, "context_size", 0) for layer in self._flow_layers)

  # ---- the density -------------------------------------------------------
  def flow_bijector(self, training=None, context=None):
    """latent -> data `tfb.Chain`; its `inverse` is the data -> latent map T.

    For a conditional model, the map T(.; c) of raw contexts `context`
    `[N, *context_shape]` (row i of x goes with row i of c; one row
    broadcasts over all of x).
    """
    self._check_context_given(context, f"{type(self).__name__}.flow_bijector")
    return self._chain(training, self.embed_context(context, training))

  def _chain(self, training, features):
    """The chain of the layers' bijectors for embedded context features (or None)."""
    # Chain([b1, ..., bn]).inverse applies b1.inverse first: data -> latent order.
    parts = [layer.bijector(training=training, context=features)
             for layer in self.flow_layers]
    return tfb.Chain(parts, name="flow")

  @property
  def bijector(self):
    """The evaluation-mode `flow_bijector()` over the current weights (unconditional models)."""
    return self.flow_bijector()

  def base_distribution(self, features=None):
    """The latent distribution: a standard normal over `latent_shape`.

    In the variable dtype (float32 under mixed precision): its log-density
    sums D terms and must not take a bfloat16 compute dtype.  Given
    embedded context features `[B, context_size]` (`embed_context`), it has
    batch shape `[B]`, one latent distribution per context: the same normal
    broadcast here; a subclass whose base reads the context (`MAF(base="mog")`)
    builds p(z | c) from them.
    """
    dtype = self.dtype_policy.variable_dtype
    if len(self.latent_shape) == 1:
      base = tfd.MultivariateNormalDiag(loc=tf.zeros(self.latent_shape, dtype=dtype))
    else:
      base = tfd.Independent(tfd.Normal(tf.zeros(self.latent_shape, dtype), 1.),
                             reinterpreted_batch_ndims=len(self.latent_shape))
    return base if features is None else tfd.BatchBroadcast(base, tf.shape(features)[:1])

  def transformed_distribution(self, training=None, context=None):
    """A `tfd.TransformedDistribution(base, flow_bijector(training))` over the current weights.

    The snapshot `call` and the estimators use (`distribution` is its live,
    evaluation-mode wrapper); `training=True` puts dropout and batch norm in
    training mode.  With raw contexts `context` `[B, *context_shape]` it is
    p(. | c) with batch shape `[B]` (one row of x per context; `sample(n)`
    gives `[n, B, *event_shape]`).
    """
    self._check_context_given(context, f"{type(self).__name__}.distribution")
    features = None
    if context is not None:
      features = self.embed_context(self._as_context(context), training)
    return self._distribution_given(features, training)

  def _distribution_given(self, features, training=None):
    """`transformed_distribution` for embedded context features `[B, context_size]` (or None)."""
    return tfd.TransformedDistribution(self._base_given(features),
                                       self._chain(training, features))

  def _base_given(self, features):
    """`base_distribution(features)`; `base_distribution()` without a context, so that
    subclasses of unconditional models may keep overriding it without the argument."""
    return self.base_distribution() if features is None else self.base_distribution(features)

  @property
  def distribution(self):
    """A live `tfd.TransformedDistribution(base, bijector)` (evaluation mode).

    Every method call rebuilds the distribution from the current weights, so a
    kept reference follows further training, gradients reach every variable,
    and `distribution.trainable_variables` lists the model's trainable
    variables (as `tfp.vi.fit_surrogate_posterior` needs).
    """
    if self.conditional:
      return _ContextRequired(self)
    return self.conditioned(None)

  def conditioned(self, context):
    """The live distribution p(. | c) for raw contexts `context` (see `distribution`).

    `context` `[B, *context_shape]` gives batch shape `[B]` (sample(n) ->
    `[n, B, *event_shape]`, log_prob of `[B, *event_shape]` -> `[B]`); one
    context `[*context_shape]` gives batch shape `[1]`.  Also reached as
    `model.distribution(context=c)`.
    """
    def build(*variables):
      del variables  # Passed so that the module tracks them; read by the layers.
      return self.transformed_distribution(context=context)

    self._check_context_given(context, f"{type(self).__name__}.conditioned")
    return _LiveDistribution(build, *[v.value for v in self.variables])

  def _as_input(self, x):
    """`x` as a `[N, *event_shape]` tensor of the compute dtype, or a clear error."""
    x = x if tf.is_tensor(x) else np.asarray(x)
    try:
      dtype = tf.as_dtype(x.dtype)
    except TypeError:
      dtype = None
    if dtype is None or not (dtype.is_floating or dtype.is_integer):
      raise TypeError(f"{type(self).__name__}: expected numeric data; received "
                      f"dtype {x.dtype}.")
    x = tf.cast(x, self.compute_dtype)
    shape = tf.TensorShape(x.shape)
    if (len(self.event_shape) > 1 and shape.rank == 2
        and shape[-1] in (self.event_size, None)):
      x = tf.reshape(x, tf.concat([tf.shape(x)[:1], self.event_shape], axis=0))
      shape = tf.TensorShape(x.shape)
    self._check_static_shape(shape)
    if not shape[1:].is_fully_defined():
      # An unknown event dimension (a tf.data spec of [None, None], or a traced
      # function generalised by Keras) is checked at run time and fixed
      # statically for the layers.
      expected = ", ".join(str(d) for d in self.event_shape)
      check = tf.debugging.assert_equal(
          tf.shape(x)[1:], tf.constant(self.event_shape, tf.int32),
          message=f"{type(self).__name__}: expected data of shape [N, {expected}]")
      with tf.control_dependencies([check]):
        x = tf.ensure_shape(x, [None, *self.event_shape])
    return x

  def check_input_shape(self, x):
    """Raises a clear `ValueError`/`TypeError` unless `x` can be `[N, *event_shape]` data.

    `x` may be `{"x": x, "context": c}` (conditional models): then c must be
    `[N, *context_shape]` too.
    """
    self._as_inputs(x)

  def _as_inputs(self, inputs):
    """`(x, context)` tensors from `x` or `{"x": x, "context": c}`: `[N, *event_shape]` and
    `[N, *context_shape]` (None for an unconditional model), or a clear error."""
    x, context = self.split_inputs(inputs)
    x = self._as_input(x)
    return x, self._as_context(context, _num_rows(x))

  def _check_static_shape(self, shape):
    """Raises a `ValueError` unless `shape` can be `[N, *event_shape]`."""
    shape, event = tf.TensorShape(shape), tf.TensorShape(self.event_shape)
    if shape.rank != 1 + event.rank or not shape[1:].is_compatible_with(event):
      expected = ", ".join(str(d) for d in self.event_shape)
      raise ValueError(f"{type(self).__name__}: expected data of shape [N, {expected}]; "
                       f"received shape {shape.as_list()}.")

  def call(self, inputs, training=None):
    """`[N]` log-likelihoods of `x` or `{"x": x, "context": c}` (what `fit` maximises)."""
    x, context = self._as_inputs(inputs)
    features = None if context is None else self.embed_context(context, training)
    distribution = self._distribution_given(features, training)
    if self.dequantizer is None:
      return distribution.log_prob(x)
    y, log_q = self._dequantize(x, features, training)
    return distribution.log_prob(y) - log_q

  def dequantize(self, x, context=None, training=None):
    """`(y, log q(y | x[, c]))` of the dequantiser for discrete `x` `[N, *event_shape]`.

    A dequantiser that reads a context (`VariationalDequantizer(context_size=...)`,
    as `FlowPlusPlus` builds for a conditional model) gets the model's
    embedded features of the raw contexts `context`; others ignore it.
    """
    x, context = self._as_inputs(x if context is None else {"x": x, "context": context})
    features = None if context is None else self.embed_context(context, training)
    return self._dequantize(x, features, training)

  def _dequantize(self, x, features, training=None):
    """The dequantiser's `(y, log q)`, given the context features if it reads them."""
    return self.dequantizer(x, training=training, **self._dequantizer_context(features))

  def _dequantizer_context(self, features):
    """`{"context": features}` for a dequantiser that reads a context, else `{}`."""
    return {"context": features} if getattr(self.dequantizer, "context_size", 0) else {}

  @concise_errors
  def log_prob(self, x, context=None):
    """Per-example log-density `[N]` in nats of continuous data `x` (given `context`).

    A conditional model takes raw contexts `context` `[N, *context_shape]`
    (row i of x given row i of c) or one context `[*context_shape]` for
    every row: log p(x_i | c_i).

    For images (with a dequantiser) this is the density of dequantised
    pixels y = (x + u) / L, not of levels x: log P(x) >= log p(y) - D log L.
    With the logit preprocessing the density lives on
    (-alpha / (1 - 2 alpha), 1 + alpha / (1 - 2 alpha))^D, and events outside
    it get -inf (`LogitPreprocessing`).
    """
    x = self._as_input(x)
    context = self._as_context(context, _num_rows(x))
    if not tf.executing_eagerly():
      return self.evaluation_log_prob(x, context)
    if context is None:
      return self._compiled_function("log_prob")(x)
    return self._compiled_function("log_prob")(x, context)

  def importance_weighted_log_likelihood(self, x, num_samples, batch_size=256, context=None):
    """`[N]` importance-weighted lower bound on log P(x[ | c]) (nats, float64) for discrete x.

    With the dequantiser's q(y | x) as proposal and K = `num_samples` draws
    y_k ~ q(. | x) (Burda et al., 2016; Flow++'s test-set estimate, K = 4096):

        L_K(x) = log (1/K) sum_k exp(log p(y_k) - log q(y_k | x))

    E[L_K] <= log P(x) = log of the probability the model assigns to the cell
    of x; E[L_K] is non-decreasing in K and tends to log P(x) as K grows.
    K = 1 is the training bound that `call` returns.  The log-mean-exp is
    taken in float64, and the K samples are processed in chunks of at most
    `batch_size` dequantised rows (N rows per sample, at least one sample
    per chunk), so K = 4096 needs the memory of one chunk; pass a few images
    at a time for large K.  Each chunk runs as a compiled function (traced
    once per chunk size).

    Args:
      x: `[N, *event_shape]` discrete data (levels, as `call` takes).
      num_samples: K >= 1.
      batch_size: the largest number of dequantised rows evaluated together.
      context: conditional models: raw contexts `[N, *context_shape]` (or
        one); q (if it reads the context) and p are both given c.

    Returns:
      float64 `[N]` tensor, in nats (divide by D ln 2 and add log2 of the
      level count as for `call` to get bits/dim).

    Raises:
      ValueError: without a dequantiser (`log_prob` is then exact), or for
        K < 1.
    """
    if self.dequantizer is None:
      raise ValueError(f"{type(self).__name__}.importance_weighted_log_likelihood needs a "
                       f"dequantizer (it estimates log P(x) of discrete x); without one, "
                       f"log_prob(x) is the exact density.")
    num_samples = int(num_samples)
    if num_samples < 1 or int(batch_size) < 1:
      raise ValueError(f"{type(self).__name__}.importance_weighted_log_likelihood: "
                       f"num_samples and batch_size must be >= 1; got {num_samples} and "
                       f"{batch_size}.")
    x, context = self._as_inputs(x if context is None else {"x": x, "context": context})
    rows = x.shape[0] or int(batch_size)
    chunk = min(num_samples, max(1, int(batch_size) // max(rows, 1)))
    tile = lambda t, count: tf.reshape(  # noqa: E731  [N, ...] -> [count N, ...]
        tf.tile(t[tf.newaxis], [count] + [1] * t.shape.rank), [-1, *t.shape[1:]])

    def chunk_function(count):
      def log_sum_of_weights(data, *contexts):
        """float64 `[N]` log sum_k of `count` importance weights."""
        features = (tile(self.embed_context(contexts[0], training=False), count)
                    if contexts else None)  # Each context embedded once.
        y, log_q = self._dequantize(tile(data, count), features, training=False)
        log_weights = tf.cast(self._distribution_given(features, False).log_prob(y) - log_q,
                              tf.float64)
        return tf.reduce_logsumexp(tf.reshape(log_weights, [count, -1]), axis=0)

      contexts = ([tf.TensorSpec([None, *self.context_shape], self.compute_dtype)]
                  if self.conditional else [])
      return self.compiled_calls.get(
          ("importance_weighted", count, self.compute_dtype),
          lambda: tf.function(log_sum_of_weights, autograph=False, input_signature=[
              tf.TensorSpec([None, *self.event_shape], self.compute_dtype), *contexts]))

    arguments = [x] if context is None else [x, context]
    total = None
    for start in range(0, num_samples, chunk):
      part = chunk_function(min(chunk, num_samples - start))(*arguments)
      total = part if total is None else tf.reduce_logsumexp(tf.stack([total, part]), axis=0)
    return total - math.log(num_samples)

  def sample(self, n, seed=None, temperature=1.0, context=None):
    """`[n, *event_shape]` samples, drawn through the numeric inverses.

    `n` may also be a sample shape (`[2, 3]` gives `[2, 3, *event_shape]`,
    TFP's convention).  A conditional model takes raw contexts: `context`
    `[B, *context_shape]` gives n samples per context, `[n, B, *event_shape]`
    (sample shape first, as TFP and zuko); one context `[*context_shape]`
    gives `[n, *event_shape]`.  See `sample_with_diagnostics`.
    """
    return self.sample_with_diagnostics(n, seed, temperature, context)["samples"]

  @property
  def num_levels(self):
    """L, the number of discrete levels per scalar (from the dequantiser), or None."""
    return getattr(self.dequantizer, "num_levels", None)

  def sample_levels(self, n, seed=None, temperature=1.0, context=None):
    """int32 samples as discrete levels: floor(y L) clipped to [0, L - 1].

    What a model of discrete data (images) generates: `sample` returns the
    continuous y, whose support is not [0, 1) (the logit preprocessing's
    support is a little wider, a Glow without it has all of R^D), while
    these are the pixel values the sample grids show.  Arguments as `sample`.

    Raises:
      ValueError: for a model without a dequantiser (no number of levels).
    """
    if self.num_levels is None:
      raise ValueError(f"{type(self).__name__}.sample_levels needs a dequantizer with "
                       f"num_levels (a model of discrete data); use sample().")
    return levels_of(self.sample(n, seed=seed, temperature=temperature, context=context),
                     self.num_levels)

  @concise_errors
  def sample_with_diagnostics(self, n, seed=None, temperature=1.0, context=None):
    """Samples and the diagnostics of their numeric solves.

    Args:
      n: number of samples (an int >= 0), or a sample shape (a sequence of
        such ints): the outputs then have the shape `[*n, ...]`.
      seed: None (stateful randomness) or a stateless seed: an int (the same
        int gives the same samples, in any process) or an int32 `[2]` pair
        (`tfp_ldu.random_seeds.stateless_seed`).
      temperature: T > 0; the latents are T times base samples (T < 1 gives
        the smoother samples of Glow's reduced-temperature figures).
      context: conditional models only: raw contexts `[B, *context_shape]`
        (n samples for each, solved row by row in one batch, so a new
        batch of contexts does not recompile), or one `[*context_shape]`.

    Returns:
      dict with `samples` `[n, *event_shape]` (`[n, B, *event_shape]` for B
      contexts), `latents` `[n, *latent_shape]` (likewise), `max_iterations`
      (largest iteration count of any numeric inverse) and `num_unconverged`
      (problems that hit an iteration cap).
    """
    sample_shape = _sample_shape(n, f"{type(self).__name__}.sample")
    if sample_shape is not None:
      result = self.sample_with_diagnostics(math.prod(sample_shape), seed, temperature,
                                            context)
      for name in self.sample_outputs:
        result[name] = tf.reshape(result[name],
                                  [*sample_shape, *result[name].shape[1:]])
      return result
    n = _sample_count(n, f"{type(self).__name__}.sample")
    seed = stateless_seed(seed)
    if not tf.is_tensor(temperature) and not float(temperature) > 0:
      raise ValueError(f"{type(self).__name__}.sample: temperature must be > 0; got "
                       f"{temperature!r}.")
    temperature = tf.cast(temperature, self.compute_dtype)
    one_context = (context is not None
                   and np.ndim(context) == len(self.context_shape))
    context = self._as_context(context)
    if not tf.executing_eagerly():
      result = self.draw_with_diagnostics(n, seed, temperature, context)
    else:
      arguments = [n, tf.zeros([], tf.int32) if seed is None else seed, temperature]
      if context is not None:
        arguments.append(context)
      result = self._compiled_function("sample", seeded=seed is not None)(*arguments)
    if one_context:  # [n, 1, ...] -> [n, ...]
      result = {**result, **{name: result[name][:, 0] for name in self.sample_outputs}}
    return result

  def draw_with_diagnostics(self, n, seed, temperature=1.0, context=None):
    """The traceable sampler behind `sample_with_diagnostics` (no checks, not compiled).

    `n` an int32 scalar, `seed` None or an int32 `[2]` stateless seed,
    `temperature` a scalar, `context` None or raw contexts `[B, *context_shape]`
    (then `samples` is `[n, B, *event_shape]`: the n * B latents are solved
    as one batch of rows, each with its context); returns the same dict.
    Subclasses that sample differently (`AugmentedFlow`) override this method.
    """
    if context is None:
      latents = self.base_distribution().sample(n, seed=seed) * temperature
      solved = solve_forward(self.flow_bijector(), latents)
      return dict(samples=solved.value, latents=latents,
                  max_iterations=solved.num_iterations,
                  num_unconverged=solved.num_unconverged)
    count = tf.shape(context)[0]
    # Each context embedded once (a `context_net` may be a CNN), then its
    # features repeated for its n rows: row i * B + j has context j.
    features = tf.tile(self.embed_context(context), [n, 1])
    # One latent per row (n * count), from p(z | c) when the base reads the context.
    latents = self._base_given(features).sample(seed=seed) * temperature
    solved = solve_forward(self._chain(None, features), latents)
    unflatten = lambda t: tf.reshape(t, tf.concat([[n, count], tf.shape(t)[1:]], 0))
    return dict(samples=unflatten(solved.value), latents=unflatten(latents),
                max_iterations=solved.num_iterations,
                num_unconverged=solved.num_unconverged)

  def sampling_residual(self, result, context=None):
    """max |T(sample) - latent| of a `sample_with_diagnostics` result (closed-form T).

    A conditional model's result `[n, *event_shape]` goes with `context`
    `[n, *context_shape]`, row by row.
    """
    again = self.flow_bijector(context=context).inverse(tf.identity(result["samples"]))
    return tf.reduce_max(tf.abs(again - result["latents"]))

  def reconstruct(self, x, max_iterations, context=None):
    """The round trip x -> z = T(x) -> x_k with every numeric solve cut at k iterations.

    For analyses of the numeric inverse (Sinusoidal Flow's Appendix C): each
    solve inside `sample`'s direction stops after `max_iterations` = k
    iterations and returns its last iterate, converged or not
    (`tfp_ldu.solvers.truncated_solves`).  `sample` and `bijector.forward`
    stay strict.  Runs as one compiled function for every k.

    Args:
      x: `[N, *event_shape]` continuous data (for images: dequantised pixels,
        what `log_prob` takes).
      max_iterations: k >= 0.
      context: conditional models: raw contexts `[N, *context_shape]` (or one).

    Returns:
      dict with `reconstructions` `[N, *event_shape]` (x_k), `latents`
      `[N, *latent_shape]` (z), `latent_residual` `[N]` = max |T(x_k) - z|
      over each example, and `num_unconverged` (problems not converged
      after k iterations).
    """
    x = self._as_input(x)
    k = _sample_count(max_iterations, f"{type(self).__name__}.reconstruct")
    context = self._as_context(context, _num_rows(x))
    if not tf.executing_eagerly():
      return self._reconstruct(x, k, context)
    arguments = [x, k] if context is None else [x, k, context]
    return self._compiled_function("reconstruct")(*arguments)

  def _reconstruct(self, x, k, context=None):
    bijector = self.flow_bijector(training=False, context=context)
    latents = bijector.inverse(x)
    with truncated_solves(k):
      solved = solve_forward(bijector, tf.identity(latents))
    again = bijector.inverse(tf.identity(solved.value))
    axes = list(range(1, len(self.latent_shape) + 1))
    return dict(reconstructions=solved.value, latents=latents,
                latent_residual=tf.reduce_max(tf.abs(again - latents), axis=axes),
                num_unconverged=solved.num_unconverged)

  def evaluation_log_prob(self, x, context=None):
    """The traceable `[N]` log-density behind `log_prob`, for `[N, *event_shape]` tensors.

    `context` None or raw contexts `[N, *context_shape]`.  -inf outside the
    logit preprocessing's support.  Subclasses whose `log_prob` is an
    estimate (`AugmentedFlow`) override this method.
    """
    log_prob = self.transformed_distribution(False, context).log_prob(x)
    for layer in self._bounded:  # Outside the support: density 0.
      outside = layer.outside_support(x, len(self.event_shape))
      log_prob = tf.where(outside, tf.constant(-np.inf, log_prob.dtype), log_prob)
    return log_prob

  def _unseeded_draw_with_diagnostics(self, n, seed, temperature, context=None):
    del seed
    return self.draw_with_diagnostics(n, None, temperature, context)

  def _compiled_function(self, kind, seeded=False):
    """A `tf.function` per public call, traced once per dtype and input rank.

    The library's loops are explicit `tf.while_loop`s, so AutoGraph is off:
    it would only re-parse the sources on every trace.
    """
    def build():
      count_and_seed = [tf.TensorSpec([], tf.int32), tf.TensorSpec([2], tf.int32)]
      temperature = tf.TensorSpec([], self.compute_dtype)
      data = tf.TensorSpec([None, *self.event_shape], self.compute_dtype)
      contexts = ([tf.TensorSpec([None, *self.context_shape], self.compute_dtype)]
                  if self.conditional else [])
      if kind == "log_prob":
        python_function, signature = self.evaluation_log_prob, [data, *contexts]
      elif kind == "reconstruct":
        python_function, signature = self._reconstruct, [data, count_and_seed[0], *contexts]
      elif seeded:
        python_function = self.draw_with_diagnostics
        signature = [*count_and_seed, temperature, *contexts]
      else:
        python_function = self._unseeded_draw_with_diagnostics
        signature = [count_and_seed[0], tf.TensorSpec(None, tf.int32), temperature,
                     *contexts]
      return tf.function(python_function, input_signature=signature, autograph=False)

    return self.compiled_calls.get((kind, seeded, self.compute_dtype), build)

  def initialize(self, batch):
    """Data-dependent initialisation of every layer that needs it, in order.

    The dequantiser comes first (a variational one initialises its own
    layers from the discrete batch); the flow's layers then see its output.

    A conditional model first sets its context statistics from the batch's
    contexts, unless they are already set (`set_context_statistics`, which
    `fit` calls on all the training contexts it is given).

    Args:
      batch: `[N, *event_shape]` array-like, N >= 2, or `{"x": x, "context":
        c}`.  `fit` calls this on its first batch; call it yourself before a
        custom training loop.
    """
    h, context = self._as_inputs(batch)
    if context is not None and self.needs_context_statistics:
      self.context_standardization.initialize(context)
    if self.dequantizer is None:
      for layer in self._bounded:  # Say so here, not as NaNs in a later layer.
        if bool(tf.reduce_any(layer.outside_support(h, len(self.event_shape)))):
          hint = (f"the logit preprocessing (alpha = {layer.alpha}): pass dequantised "
                  f"pixels y in [0, 1)" if isinstance(layer, LogitPreprocessing) else
                  f"{layer.name}: keep every value strictly inside its column's bounds")
          raise ValueError(
              f"{type(self).__name__}.initialize: the batch holds values in "
              f"[{float(tf.reduce_min(h)):.4g}, {float(tf.reduce_max(h)):.4g}], outside "
              f"the support of {hint}.")
    features = self.embed_context(context, training=False)
    if self.dequantizer is not None:
      if needs_initialization(self.dequantizer):
        self.dequantizer.initialize(h, **self._dequantizer_context(features))
      h, _ = self._dequantize(h, features, training=False)
    initialize_in_order(self.flow_layers, h, features)

  def after_training(self, x):
    """Sets the statistics evaluation reads from data, e.g. batch norm's, from `x`.

    The post-training hook (`train/fit.py` calls it after restoring the best
    checkpoint): `x` `[N, *event_shape]` (the training set, as `fit` takes
    it) is pushed through the flow in evaluation mode and every layer that
    `collects_statistics` (`tfp_ldu.layers.BatchNormalization`: the MAF
    authors' population moments instead of moving averages) sets them from
    the batch it sees.  A no-op, without a pass over `x`, for flows without
    such layers.
    """
    if not any(layer.collects_statistics for layer in self.flow_layers):
      return
    h, context = self._as_inputs(x)
    features = self.embed_context(context, training=False)
    if self.dequantizer is not None:
      h, _ = self._dequantize(h, features, training=False)
    walk_in_order(self.flow_layers, h,
                  lambda layer, inputs: layer.after_training(inputs), features)

  def test_log_likelihood(self, x):
    """`[N]` the model's honest held-out log-likelihood of data `x`, in nats.

    Without a dequantiser: the exact log p(x) (`log_prob`).  With one (discrete
    data): the dequantisation bound log p(y) - log q(y | x) of one draw
    y ~ q(. | x), a lower bound on log P(x) of the discrete levels, the
    quantity bits/dim are computed from.  `test_log_likelihood_kind` says
    which; `tfp_ldu.flows.AugmentedFlow` overrides both.  Traceable (no
    compiled cache of its own).
    """
    if self.dequantizer is None:
      x, context = self.split_inputs(x)
      return self.log_prob(x, context=context)
    return self(x, training=False)

  @property
  def test_log_likelihood_kind(self):
    """What `test_log_likelihood` estimates, for reports."""
    if self.dequantizer is None:
      return "exact log-likelihood"
    return ("dequantisation bound on log P(x) of the discrete levels (one draw of q), "
            "nats per image")

  def check_levels(self, x):
    """Raises a `ValueError` unless `x` holds integer levels in [0, L) (with a dequantiser).

    `fit` runs it on array inputs (and on a dataset's first batch) before
    training, since XLA drops the dequantiser's graph assertions.  Warns when
    the data use fewer than a quarter of the L levels (e.g. 17-level digits
    under the default L = 256), since bits/dim depend on L.
    """
    if self.num_levels is None:
      return
    x, _ = self.split_inputs(x)
    values = keras.ops.convert_to_numpy(x) if tf.is_tensor(x) else np.asarray(x)
    problem = level_problem(values, self.num_levels)
    if problem:
      raise ValueError(f"{type(self).__name__}: {problem}")
    if values.size and np.max(values) + 1 <= self.num_levels // 4:
      warnings.warn(
          f"{type(self).__name__}: the data use levels up to {int(np.max(values))} of "
          f"num_levels={self.num_levels}; if the data have {int(np.max(values)) + 1} "
          f"levels, pass num_levels={int(np.max(values)) + 1} (bits/dim depend on it).",
          stacklevel=3)

  @property
  def needs_initialization(self):
    """True while a layer (or the dequantiser) waits for data-dependent initialisation."""
    dequantizer = [] if self.dequantizer is None else [self.dequantizer]
    context = [] if self.context_standardization is None else [self.context_standardization]
    return any(needs_initialization(layer)
               for layer in [*context, *dequantizer, *self.flow_layers])

  def export(self, filepath, format="tf_saved_model", input_signature=None, **kwargs):
    """Keras 3 export with the input signature `[None, *event_shape]` by default.

    `tfp_ldu.export.save` writes the richer export (`log_prob`, `sample`).
    """
    if input_signature is None:
      input_signature = [tf.TensorSpec([None, *self.event_shape], self.compute_dtype,
                                       name="x")]
      if self.conditional:
        input_signature = [{"x": input_signature[0], "context": tf.TensorSpec(
            [None, *self.context_shape], self.compute_dtype, name="context")}]
    return super().export(filepath, format=format, input_signature=input_signature,
                          **kwargs)

  def get_config(self):
    config = {**super().get_config(), "event_shape": list(self.event_shape),
              "logit_alpha": self.logit_alpha}
    if self.dequantizer is not None:
      config["dequantizer"] = keras.saving.serialize_keras_object(self.dequantizer)
    if self.preprocessing:  # Configs without it stay as they were.
      config["preprocessing"] = [keras.saving.serialize_keras_object(layer)
                                 for layer in self.preprocessing]
    if self.conditional:  # Unconditional configs stay as they were.
      config["context_shape"] = list(self.context_shape)
      if self.context_net is not None:
        config["context_net"] = keras.saving.serialize_keras_object(self.context_net)
    return config

  @classmethod
  def from_config(cls, config):
    config = upgraded_config(config, cls.renamed_arguments)  # Saved under older names.
    for name in ("dequantizer", "context_net"):
      if config.get(name) is not None:
        config[name] = keras.saving.deserialize_keras_object(config[name])
    if config.get("preprocessing"):
      config["preprocessing"] = [keras.saving.deserialize_keras_object(layer)
                                 for layer in config["preprocessing"]]
    return cls(**config)


def conditional_flow_names():
  """Names of the flow classes whose constructors build conditional layers."""
  return sorted(cls.__name__ for cls in _all_subclasses(FlowModel) if cls.takes_context)


def _all_subclasses(cls):
  for subclass in cls.__subclasses__():
    yield subclass
    yield from _all_subclasses(subclass)


class CompiledCalls:
  """A cache of the model's compiled `tf.function`s, keyed by tuples.

  A plain object rather than a dict attribute: TensorFlow's object tracking
  wraps dicts assigned to a Keras model, and a wrapped dict with non-string
  keys cannot be saved, so `model.export(path)` and
  `tf.saved_model.save(model, path)` failed once `log_prob` or `sample` had
  run.  The cached functions are rebuilt on demand and are not part of the
  model's state.
  """

  def __init__(self):
    self._functions = {}

  def get(self, key, build):
    """The function cached under `key`, built by `build()` the first time."""
    if key not in self._functions:
      self._functions[key] = build()
    return self._functions[key]

  def __getitem__(self, key):
    return self._functions[key]

  def values(self):
    """The cached functions."""
    return self._functions.values()


def _as_shape(shape, what, owner):
  """A tuple of positive ints from an int or a sequence."""
  dims = (int(shape),) if np.ndim(shape) == 0 else tuple(int(d) for d in shape)
  if not dims or any(d < 1 for d in dims):
    raise ValueError(f"{owner}: {what} must be a positive int or a tuple of positive "
                     f"ints; got {shape!r}.")
  return dims


def _sample_shape(n, owner):
  """The sample shape as a tuple of ints if `n` is a sequence, else None."""
  if tf.is_tensor(n) and not tf.executing_eagerly():
    return None
  value = keras.ops.convert_to_numpy(n) if tf.is_tensor(n) else np.asarray(n, dtype=object)
  if value.ndim != 1:
    return None
  for count in value:
    _sample_count(count, owner)
  return tuple(int(count) for count in value)


class _LiveDistribution(tfp.experimental.util.DeferredModule):
  """`FlowModel.distribution`: a `DeferredModule` whose int seeds are stateless.

  TFP takes an int seed as a stateful op seed; the model's samplers promise
  that the same int gives the same samples, and so does this distribution.
  """

  def sample(self, sample_shape=(), seed=None, name="sample", **kwargs):
    return self._build_module().sample(sample_shape, seed=stateless_seed(seed), name=name,
                                       **kwargs)

  def experimental_sample_and_log_prob(self, sample_shape=(), seed=None, name=None,
                                       **kwargs):
    return self._build_module().experimental_sample_and_log_prob(
        sample_shape, seed=stateless_seed(seed), name=name or "sample_and_log_prob",
        **kwargs)


class _ContextRequired:
  """`distribution` of a conditional model: call it with a context.

  `model.distribution(context=c)` is `model.conditioned(c)`; any other use
  says that a context is needed.
  """

  def __init__(self, model):
    self._model = model

  def __call__(self, context=None):
    return self._model.conditioned(context)

  def __getattr__(self, name):
    raise AttributeError(
        f"{type(self._model).__name__}.distribution.{name}: the model is conditional "
        f"(context_shape={self._model.context_shape}); use "
        f"model.distribution(context=c).{name} (or model.conditioned(c)).")


def _num_rows(x):
  """N of `[N, ...]` data: an int when static, else a scalar tensor."""
  return x.shape[0] if x.shape[0] is not None else tf.shape(x)[0]


def _sample_count(n, owner):
  """`n` as an int32 scalar tensor, with a clear error for negative or non-integer n."""
  if tf.is_tensor(n) and not tf.executing_eagerly():
    return tf.cast(n, tf.int32)
  value = keras.ops.convert_to_numpy(n) if tf.is_tensor(n) else np.asarray(n)
  if value.ndim != 0 or not float(value).is_integer() or float(value) < 0:
    raise ValueError(f"{owner}: expected a non-negative integer; got {n!r}.")
  return tf.constant(int(value), tf.int32)
