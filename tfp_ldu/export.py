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
  stateless: the same seed gives the same samples.

The serving signatures name their outputs: `log_prob` gives `{"log_prob": ...}`,
the two samplers `{"samples": ...}`.  `exported.event_shape` holds the event
shape.  Wrong-shaped inputs and negative counts fail with a message that says
so.  For TFLite, convert the `log_prob` and `sample` signatures
(`TFLiteConverter.from_saved_model(path, signature_keys=["log_prob", "sample"])`);
`sample_with_seed` needs TensorFlow's stateless random ops, which the stock
TFLite interpreter lacks.

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

    def checked_count(n):
      check = tf.debugging.assert_non_negative(
          n, message="sample: n must be a non-negative integer")
      with tf.control_dependencies([check]):
        return tf.identity(n)

    @tf.function(autograph=False,
                 input_signature=[tf.TensorSpec([None, event_size], boundary, name="x")])
    def log_prob(x):
      """`[N, D]` float32 data (flat NHWC rows for images) -> `[N]` log-density (nats)."""
      check = tf.debugging.assert_equal(
          tf.shape(x)[-1], event_size,
          message=f"log_prob: expected x of shape [N, {event_size}]")
      with tf.control_dependencies([check]):
        x = tf.cast(x, model.compute_dtype)
      return tf.cast(model.log_prob(x), boundary)

    @tf.function(autograph=False, input_signature=[tf.TensorSpec([], tf.int32, name="n")])
    def sample(n):
      """int32 scalar n -> `[n, *event_shape]` float32 samples (stateful random)."""
      return tf.cast(model.sample(checked_count(n)), boundary)

    @tf.function(autograph=False,
                 input_signature=[tf.TensorSpec([], tf.int32, name="n"),
                                  tf.TensorSpec([2], tf.int32, name="seed")])
    def sample_with_seed(n, seed):
      """int32 scalar n, int32 `[2]` seed -> `[n, *event_shape]` samples (stateless)."""
      return tf.cast(model.sample(checked_count(n), seed=seed), boundary)

    self.log_prob = log_prob
    if len(model.event_shape) > 1:
      @tf.function(autograph=False, input_signature=[
          tf.TensorSpec([None, *model.event_shape], boundary, name="x")])
      def log_prob_images(x):
        """`[N, *event_shape]` float32 images -> `[N]` log-density (nats)."""
        return log_prob(tf.reshape(x, [-1, event_size]))

      self.log_prob_images = log_prob_images
    self.sample = sample
    self.sample_with_seed = sample_with_seed
    # Serving signatures name their outputs (`log_prob`, `samples`).
    def named_log_prob(x):
      return {"log_prob": log_prob(x)}

    def named_sample(n):
      return {"samples": sample(n)}

    def named_sample_with_seed(n, seed):
      return {"samples": sample_with_seed(n, seed)}

    self._signature_functions = dict(
        log_prob=tf.function(named_log_prob, autograph=False),
        sample=tf.function(named_sample, autograph=False),
        sample_with_seed=tf.function(named_sample_with_seed, autograph=False))

  @property
  def signatures(self):
    """Serving signatures: one per endpoint, `log_prob` as the default."""
    specs = dict(log_prob=self.log_prob.input_signature,
                 sample=self.sample.input_signature,
                 sample_with_seed=self.sample_with_seed.input_signature)
    functions = {name: self._signature_functions[name].get_concrete_function(*spec)
                 for name, spec in specs.items()}
    return dict(serving_default=functions["log_prob"], **functions)


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
  parent, base = os.path.split(path)
  os.makedirs(parent, exist_ok=True)

  module = FlowExport(model)
  staging = _unique_sibling(path, "partial")
  os.mkdir(staging)  # Unlike `tempfile.mkdtemp`, honours the umask (not 0700).
  try:
    tf.saved_model.save(module, staging, signatures=module.signatures)
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
