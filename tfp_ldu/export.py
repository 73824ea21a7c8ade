"""SavedModel export of a trained flow: `log_prob` and `sample` endpoints.

`save(model, path)` writes a TensorFlow SavedModel that needs neither
`tfp_ldu`, the `models` package nor TensorFlow Probability to run:

```python
tfp_ldu.export.save(flow, "/tmp/gas_flow")
# ... later, in any process with TensorFlow:
exported = tf.saved_model.load("/tmp/gas_flow")
exported.log_prob(tf.zeros([10, 8]))                       # float32 [10]
exported.sample(tf.constant(5))                            # float32 [5, 8]
exported.sample_with_seed(tf.constant(5), tf.constant([1, 2]))  # reproducible
```

Endpoints (also exported as signatures of the same names):

* `log_prob(x: float32[None, D]) -> float32[None]`, log-density in nats;
* `sample(n: int32[]) -> float32[n, D]`, drawn from TensorFlow's global
  random state;
* `sample_with_seed(n: int32[], seed: int32[2]) -> float32[n, D]`, stateless:
  the same seed gives the same samples.

A model that computes in float64 is cast at the boundary: inputs and outputs
are float32 whatever the model's compute dtype.  The export is atomic: it is
written into a temporary sibling directory and renamed into place only once
complete, so an interrupted save leaves any previous export at `path` intact.
"""
import os
import shutil
import uuid

import tensorflow as tf

from models.flow_model import FlowModel

__all__ = ["save", "load", "FlowExport"]

_BOUNDARY_DTYPE = tf.float32


class FlowExport(tf.Module):
  """The exported object: a flow's variables and its `tf.function` endpoints.

  Holds the model's variables (as plain `tf.Variable`s, which SavedModel
  tracks) and three endpoints with fixed input signatures; see the module
  docstring.  `D` is `event_dim` of the flow.  The Keras model is reached only
  through the endpoints' closures, so it is not itself part of the export.
  """

  def __init__(self, model):
    super().__init__(name="flow_export")
    self.event_dim = tf.constant(model.event_dim, tf.int32, name="event_dim")
    # Keras 3 variables wrap a `tf.Variable` in `.value`; those are what
    # SavedModel checkpoints and what the traced graphs read.
    self.model_variables = [variable.value for variable in model.variables]
    boundary = _BOUNDARY_DTYPE

    @tf.function(input_signature=[
        tf.TensorSpec([None, model.event_dim], boundary, name="x")])
    def log_prob(x):
      """`[N, D]` float32 data -> `[N]` float32 log-density (nats)."""
      x = tf.cast(x, model.compute_dtype)
      return tf.cast(model.log_prob(x), boundary)

    @tf.function(input_signature=[tf.TensorSpec([], tf.int32, name="n")])
    def sample(n):
      """int32 scalar n -> `[n, D]` float32 samples (stateful random)."""
      return tf.cast(model.sample(n), boundary)

    @tf.function(input_signature=[tf.TensorSpec([], tf.int32, name="n"),
                                  tf.TensorSpec([2], tf.int32, name="seed")])
    def sample_with_seed(n, seed):
      """int32 scalar n, int32 `[2]` seed -> `[n, D]` float32 samples (stateless)."""
      return tf.cast(model.sample(n, seed=seed), boundary)

    self.log_prob = log_prob
    self.sample = sample
    self.sample_with_seed = sample_with_seed

  @property
  def signatures(self):
    """Serving signatures: one per endpoint, `log_prob` as the default."""
    functions = dict(log_prob=self.log_prob.get_concrete_function(),
                     sample=self.sample.get_concrete_function(),
                     sample_with_seed=self.sample_with_seed.get_concrete_function())
    return dict(serving_default=functions["log_prob"], **functions)


def _check_exportable(model):
  """Raises a clear error unless `model` is a built, initialised `FlowModel`."""
  if not isinstance(model, FlowModel):
    raise TypeError(f"tfp_ldu.export.save: expected a models.FlowModel; received "
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
    model: a built `models.FlowModel` (e.g. `LDUFlow`) whose ActNorm layers
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
