"""SavedModel export of a trained flow: `log_prob` and `sample` endpoints.

`save(model, path)` writes a TensorFlow SavedModel that needs neither
`tfp_ldu`, the application packages nor TensorFlow Probability to run:

```python
tfp_ldu.export.save(flow, "/tmp/gas_flow")
# ... later, in any process with TensorFlow:
exported = tf.saved_model.load("/tmp/gas_flow")
exported.log_prob(tf.zeros([10, 8]))                       # float32 [10]
exported.sample(tf.constant(5))                            # float32 [5, 8]
exported.sample_with_seed(tf.constant(5), tf.constant([1, 2]))  # reproducible
```

Endpoints (also exported as signatures of the same names):

* `log_prob(x: float32[None, D]) -> float32[None]`, log-density in nats
  (for images: of flat NHWC rows of dequantised pixels in [0, 1), the
  density bits/dim is computed from);
* for image models only, `log_prob_images(x: float32[None, H, W, C])`, the
  same on image-shaped input (a plain endpoint, not a signature);
* `sample(n: int32[]) -> float32[n, *event_shape]`, drawn from TensorFlow's
  global random state;
* `sample_with_seed(n: int32[], seed: int32[2]) -> float32[n, *event_shape]`,
  stateless: the same seed gives the same samples, and `[0, s]` gives the
  samples of `model.sample(n, seed=s)` (`tfp_ldu.random_seeds`);
* for models of discrete data (with a dequantiser: images), also
  `sample_levels(n)` and `sample_levels_with_seed(n, seed)` -> int32
  `[n, *event_shape]` levels floor(y L) clipped to [0, L - 1], the pixel
  values to show or save.  `sample` returns the continuous y: with the
  logit preprocessing it lies in (-alpha / (1 - 2 alpha), 1 + alpha /
  (1 - 2 alpha)), a little wider than [0, 1); a Glow without it has all of
  R^D.  `exported.num_levels` holds L (0 for continuous data).

**Conditional models** (`model.conditional`) take raw contexts as the last
argument of every endpoint and signature, float32 `[B, *context_shape]`:
`log_prob(x, context)` with one context row per row of x (or one row for
all), `sample(n, context)` and `sample_with_seed(n, seed, context)` ->
`[n, B, *event_shape]`, n samples per context (the samplers'
shape rule of `model.sample`).  `exported.context_shape` holds the context
shape (`[]` for an unconditional model).

The serving signatures name their outputs: `log_prob` gives `{"log_prob": ...}`,
the samplers `{"samples": ...}`.  `exported.event_shape` holds the event
shape.  Wrong-shaped inputs and negative counts fail with a message that says
so.  `log_prob` is -inf outside the model's support (e.g. raw levels given to
an image model with the logit preprocessing).  For TFLite, convert the
`log_prob` and `sample` signatures
(`TFLiteConverter.from_saved_model(path, signature_keys=["log_prob", "sample"])`;
tested for the vector flows); the seeded samplers need TensorFlow's
stateless random ops, which the stock TFLite interpreter lacks, and a
residual flow's `log_prob` needs TensorFlow ("Flex") ops.

A model that computes in float64 is cast at the boundary: inputs and outputs
are float32 whatever the model's compute dtype.  The export is atomic: it is
written into a temporary sibling directory and renamed into place only once
complete, so an interrupted save leaves any previous export at `path` intact.
"""
import os
import shutil
import uuid

import tensorflow as tf

from tfp_ldu.flows.flow_model import FlowModel
from tfp_ldu.layers.pixel_levels import levels_of

__all__ = ["save", "load", "FlowExport"]

_BOUNDARY_DTYPE = tf.float32


class FlowExport(tf.Module):
  """The exported object: a flow's variables and its `tf.function` endpoints.

  Holds the model's variables (as plain `tf.Variable`s, which SavedModel
  tracks), `event_shape` (an int32 variable, so it survives the round trip)
  and three endpoints with fixed input signatures; see the module docstring.
  D is the model's `event_size`.  The Keras model is reached only through the
  endpoints' closures, so it is not itself part of the export.
  """

  def __init__(self, model):
    super().__init__(name="flow_export")
    self.event_shape = tf.Variable(list(model.event_shape), dtype=tf.int32,
                                   trainable=False, name="event_shape")
    # Keras 3 variables wrap a `tf.Variable` in `.value`; those are what
    # SavedModel checkpoints and what the traced graphs read.
    self.model_variables = [variable.value for variable in model.variables]
    boundary = _BOUNDARY_DTYPE
    event_size = model.event_size
    self.context_shape = tf.Variable(list(model.context_shape), dtype=tf.int32,
                                     trainable=False, name="context_shape")
    # Conditional models: every endpoint takes raw contexts as its last argument.
    contexts = ([tf.TensorSpec([None, *model.context_shape], boundary, name="context")]
                if model.conditional else [])

    def model_context(context, num_rows=None):
      """The boundary's `[N or 1, *context_shape]` contexts, broadcast to `num_rows`."""
      if not context:
        return None
      context = tf.cast(context[0], model.compute_dtype)
      if num_rows is not None:
        context = tf.broadcast_to(context, tf.concat([[num_rows], model.context_shape], 0))
      return context

    def checked_count(n):
      check = tf.debugging.assert_non_negative(
          n, message="sample: n must be a non-negative integer")
      with tf.control_dependencies([check]):
        return tf.identity(n)

    @tf.function(autograph=False, input_signature=[
        tf.TensorSpec([None, event_size], boundary, name="x"), *contexts])
    def log_prob(x, *context):
      """`[N, D]` float32 data (flat NHWC rows for images) -> `[N]` log-density (nats)."""
      check = tf.debugging.assert_equal(
          tf.shape(x)[-1], event_size,
          message=f"log_prob: expected x of shape [N, {event_size}]")
      with tf.control_dependencies([check]):
        # identity: a cast to x's own dtype returns x itself, without the dependency.
        x = tf.identity(tf.cast(x, model.compute_dtype))
      return tf.cast(model.log_prob(x, context=model_context(context, tf.shape(x)[0])),
                     boundary)

    @tf.function(autograph=False,
                 input_signature=[tf.TensorSpec([], tf.int32, name="n"), *contexts])
    def sample(n, *context):
      """int32 scalar n -> `[n, *event_shape]` float32 samples (stateful random)."""
      return tf.cast(model.sample(checked_count(n), context=model_context(context)), boundary)

    @tf.function(autograph=False,
                 input_signature=[tf.TensorSpec([], tf.int32, name="n"),
                                  tf.TensorSpec([2], tf.int32, name="seed"), *contexts])
    def sample_with_seed(n, seed, *context):
      """int32 scalar n, int32 `[2]` seed -> `[n, *event_shape]` samples (stateless)."""
      return tf.cast(model.sample(checked_count(n), seed=seed, context=model_context(context)),
                     boundary)

    self.num_levels = tf.Variable(model.num_levels or 0, dtype=tf.int32, trainable=False,
                                  name="num_levels")
    self.log_prob = log_prob
    if len(model.event_shape) > 1:
      @tf.function(autograph=False, input_signature=[
          tf.TensorSpec([None, *model.event_shape], boundary, name="x"), *contexts])
      def log_prob_images(x, *context):
        """`[N, *event_shape]` float32 images -> `[N]` log-density (nats)."""
        return log_prob(tf.reshape(x, [-1, event_size]), *context)

      self.log_prob_images = log_prob_images
    self.sample = sample
    self.sample_with_seed = sample_with_seed
    # Serving signatures name their outputs (`log_prob`, `samples`).
    self._signature_functions = dict(
        log_prob=_named(log_prob, "log_prob"), sample=_named(sample, "samples"),
        sample_with_seed=_named(sample_with_seed, "samples"))
    if model.num_levels:
      num_levels = model.num_levels

      @tf.function(autograph=False, input_signature=sample.input_signature)
      def sample_levels(n, *context):
        """int32 scalar n -> int32 `[n, *event_shape]` levels (stateful random)."""
        return levels_of(sample(n, *context), num_levels)

      @tf.function(autograph=False, input_signature=sample_with_seed.input_signature)
      def sample_levels_with_seed(n, seed, *context):
        """int32 scalar n, int32 `[2]` seed -> int32 `[n, *event_shape]` levels."""
        return levels_of(sample_with_seed(n, seed, *context), num_levels)

      self.sample_levels = sample_levels
      self.sample_levels_with_seed = sample_levels_with_seed
      self._signature_functions.update(
          sample_levels=_named(sample_levels, "levels"),
          sample_levels_with_seed=_named(sample_levels_with_seed, "levels"))

  def serving_signatures(self):
    """Serving signatures: one per endpoint, `log_prob` as the default.

    A method, not a property: SavedModel's object traversal evaluates
    properties, which traced every signature a second time.
    """
    # tf.functions with input signatures, not concrete functions: SavedModel
    # traces them inside its save context, where it traces the endpoints
    # anyway; concrete functions traced here made it trace everything twice.
    return dict(serving_default=self._signature_functions["log_prob"],
                **self._signature_functions)


def _named(endpoint, output_name):
  """A `tf.function` returning `{output_name: endpoint(*args)}` (a serving signature)."""
  return tf.function(lambda *args: {output_name: endpoint(*args)}, autograph=False,
                     input_signature=endpoint.input_signature)


def _check_exportable(model):
  """Raises a clear error unless `model` is a built, initialised `FlowModel`."""
  if not isinstance(model, FlowModel):
    raise TypeError(f"tfp_ldu.export.save: expected a tfp_ldu.flows.FlowModel; received "
                    f"{type(model).__name__}.")
  if not model.variables:
    raise ValueError(f"tfp_ldu.export.save: {type(model).__name__} has no variables "
                     f"yet; build it (call it on a batch or `fit` it) before exporting.")
  if model.needs_initialization:
    raise ValueError(f"tfp_ldu.export.save: {type(model).__name__} has ActNorm layers "
                     f"that were never initialised from data; call "
                     f"`model.initialize(batch)` or `model.fit(...)` before exporting.")


def save(model, path):
  """Writes `model` as a SavedModel at `path`, atomically.

  Args:
    model: a built `tfp_ldu.flows.FlowModel` (e.g. `LDUFlow`) whose ActNorm layers
      are initialised; it may compute in float32 or float64.
    path: directory to write.  An existing export there is replaced only after
      the new one is completely written.

  Returns:
    The `FlowExport` module that was saved.

  Raises:
    TypeError: if `model` is not a `FlowModel`.
    ValueError: if `model` has no variables or uninitialised ActNorm layers,
      or if `path` exists and is not a directory.
  """
  _check_exportable(model)
  path = os.path.abspath(os.fspath(path))
  if os.path.exists(path) and not os.path.isdir(path):
    raise ValueError(f"tfp_ldu.export.save: {path} exists and is not a directory.")
  os.makedirs(os.path.dirname(path), exist_ok=True)

  module = FlowExport(model)
  staging = _unique_sibling(path, "partial")
  os.mkdir(staging)  # Unlike `tempfile.mkdtemp`, honours the umask (not 0700).
  try:
    tf.saved_model.save(module, staging, signatures=module.serving_signatures())
    _replace_directory(staging, path)
  except BaseException:
    shutil.rmtree(staging, ignore_errors=True)
    raise
  return module


def _unique_sibling(path, purpose):
  """A fresh hidden name next to `path`, e.g. `.flow.partial-3f2a...`."""
  parent, base = os.path.split(path)
  return os.path.join(parent, f".{base}.{purpose}-{uuid.uuid4().hex}")


def _replace_directory(source, destination):
  """Renames directory `source` to `destination`, replacing an existing one.

  POSIX cannot rename a directory over a non-empty one, so the old export is
  first renamed aside and deleted only after the new one is in place; if the
  second rename fails, the old export is put back.
  """
  if not os.path.exists(destination):
    os.rename(source, destination)
    return
  retired = _unique_sibling(destination, "retired")
  os.rename(destination, retired)
  try:
    os.rename(source, destination)
  except BaseException:
    os.rename(retired, destination)
    raise
  shutil.rmtree(retired, ignore_errors=True)


def load(path):
  """Loads an export written by `save` (plain `tf.saved_model.load`).

  Returns:
    The restored object with `log_prob`, `sample` and `sample_with_seed`.
    Keep a reference to it while calling its endpoints: they read variables
    that the object owns.
  """
  return tf.saved_model.load(os.fspath(path))
