"""How a `FlowModel` trains: Keras `fit` without labels, per-replica XLA, no non-finite step.

`FlowTraining` is the training half of `tfp_ldu.flows.FlowModel` (a mixin
placed before `keras.Model`): the loss, the step, and `fit` / `evaluate`.

* The loss is the negative mean log-likelihood of `call` (nats), plus layer
  losses, scaled for `tf.distribute`; `sample_weight` works without labels.
* `fit` initialises data-dependent layers from the first batch
  (`FlowModel.initialize`), checks pixel levels eagerly, and under a strategy
  of several replicas with `jit_compile=True` compiles each replica's loss
  and gradients with XLA (`replica_jit_compile`) and runs the all-reduce and
  the update as a plain graph (one XLA cluster cannot span devices).
* **The one non-finite-loss mechanism**: a step whose loss or any gradient is
  NaN/inf (on any replica) is not applied (`apply_if_finite`), and
  `fit` then raises `NonFiniteLossError` naming the batch, with the weights
  as they were before that step.
"""
import math
import warnings

import keras
import numpy as np
import tensorflow as tf

from tfp_ldu.flows.concise_errors import concise_errors

__all__ = ["FlowTraining", "NonFiniteLossError", "apply_if_finite", "array_dataset",
           "without_cpu_autotuning"]


def _without_autograph(method):
  """`method`, run as plain Python when Keras traces its step.

  Keras traces `train_step` with AutoGraph, which parses and rewrites the
  source of every function it reaches; these methods branch on Python values
  only (None checks, lists), so the rewrite changes nothing and cost about
  0.7 s of a first `fit` call (a 12-block LDU flow, 2 cores).  A subclass
  that overrides them with tensor-dependent Python control flow gets
  AutoGraph back for its own method.
  """
  return tf.autograph.experimental.do_not_convert(method)


# Flow classes that have warned about XLA on a CPU (once per class and process).
_WARNED_SLOW_XLA = set()


class NonFiniteLossError(FloatingPointError):
  """`fit` met a NaN/inf loss or gradient; the step was not applied.

  Attributes:
    step: the optimizer step that was refused (1-based, counted over every
      `fit` of the model: `optimizer.iterations` + 1).
    epoch, batch: where it happened (1-based; the epoch as Keras counts it,
      so `initial_epoch` included).
  """

  def __init__(self, message, step=None, epoch=None, batch=None):
    super().__init__(message)
    self.step, self.epoch, self.batch = step, epoch, batch


class FlowTraining:
  """The training half of `FlowModel`: loss, step, `fit` and `evaluate` (see the module).

  It uses the model's `__call__` (the per-example log-likelihood),
  `initialize`, `needs_initialization`, `check_levels`, `check_input_shape`,
  `needs_context_statistics` and `set_context_statistics` (conditional
  models) and its cache of compiled functions (`compiled_calls`).
  """

  # Set by `fit` when XLA is requested under a strategy of several replicas:
  # each replica's loss and gradients are then one XLA function.
  replica_jit_compile = False

  # The event sizes D at which XLA trained this family faster than a plain
  # graph on CPUs, its compile time included (`bench/user_path.py`,
  # docs/performance.md): `(low, high)`, both included (`math.inf`: no upper
  # end).  In it, `compile()`'s default picks XLA on a machine without GPUs;
  # outside it, an explicit `compile(jit_compile=True)` there warns once.
  # None: Keras's CPU default (a plain graph), and no warning.
  cpu_xla_event_sizes = None

  def compile(self, *args, jit_compile="auto", **kwargs):
    """`keras.Model.compile`, with the measured CPU default for `jit_compile="auto"`.

    `jit_compile="auto"` (Keras's default) is Keras's choice (XLA with GPUs,
    a plain graph on CPUs) except on a machine without GPUs, one replica and
    `run_eagerly=False`, where this flow compiles with XLA if its event size
    is in `cpu_xla_event_sizes` (`prefers_xla_on_cpu`).  An explicit
    `jit_compile=True` or `False` is kept as asked; True outside those sizes
    warns once per flow class.
    """
    if jit_compile == "auto" and not kwargs.get("run_eagerly") and self.prefers_xla_on_cpu():
      jit_compile = True
    elif jit_compile is True:
      self._warn_if_xla_is_slower()
    super().compile(*args, jit_compile=jit_compile, **kwargs)

  def prefers_xla_on_cpu(self):
    """True if XLA trained this flow faster than a plain graph here: no GPU, one replica.

    Whether this flow's event size is in `cpu_xla_event_sizes`, on a machine
    without GPUs and outside a strategy of several replicas (where
    per-replica XLA ran at about half the plain graph's speed on CPUs);
    False elsewhere, which leaves `jit_compile="auto"` to Keras.
    """
    return (self._xla_measured_faster() is True
            and self.distribute_strategy.num_replicas_in_sync == 1
            and not tf.config.list_logical_devices("GPU"))

  def _xla_measured_faster(self):
    """True or False per `cpu_xla_event_sizes`; None where nothing was measured."""
    if self.cpu_xla_event_sizes is None:
      return None
    low, high = self.cpu_xla_event_sizes
    return low <= self.event_size <= high

  def _warn_if_xla_is_slower(self):
    if (self._xla_measured_faster() is False
        and type(self).__name__ not in _WARNED_SLOW_XLA
        and not tf.config.list_logical_devices("GPU")):
      _WARNED_SLOW_XLA.add(type(self).__name__)
      low, high = self.cpu_xla_event_sizes
      sizes = f"D >= {low}" if high == math.inf else f"{low} <= D <= {high}"
      warnings.warn(
          f"{type(self).__name__}: jit_compile=True on a machine without GPUs.  On CPUs "
          f"XLA was measured faster than a plain graph for this flow only at {sizes} "
          f"(here D = {self.event_size}; docs/performance.md); leave jit_compile unset "
          f"for the measured choice.  XLA stays on, as asked.", stacklevel=3)

  @_without_autograph
  def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
    """-mean log-likelihood (nats) plus layer losses, scaled for `tf.distribute`."""
    del x, y, training
    log_likelihood = y_pred
    if sample_weight is not None:
      sample_weight = tf.cast(sample_weight, y_pred.dtype)
      loss = -tf.reduce_sum(log_likelihood * sample_weight) / tf.reduce_sum(sample_weight)
    else:
      loss = -tf.reduce_mean(log_likelihood)
    for extra in self.losses:
      loss += tf.cast(tf.reduce_sum(extra), loss.dtype)
    return loss / tf.cast(tf.distribute.get_strategy().num_replicas_in_sync, loss.dtype)

  @_without_autograph
  def train_step(self, data):
    """One optimizer step, skipped when the loss or a gradient is not finite.

    With `replica_jit_compile` (set by `fit` when XLA is requested under a
    strategy of several replicas), this replica's loss and gradients run as
    one XLA-compiled function on the replica's own device, with no
    collective inside; the all-reduce and the update run outside XLA.
    """
    x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
    loss_and_gradients = self._loss_and_gradients
    if self.replica_jit_compile:
      loss_and_gradients = self.compiled_calls.get(
          ("loss_and_gradients", "xla"),
          lambda: tf.function(self._loss_and_gradients, jit_compile=True, autograph=False))
    loss, y_pred, gradients = loss_and_gradients(x, y, sample_weight)
    num_replicas = tf.distribute.get_strategy().num_replicas_in_sync
    self._loss_tracker.update_state(loss * tf.cast(num_replicas, loss.dtype),
                                    sample_weight=tf.shape(y_pred)[0])
    variables = self.trainable_variables
    finite = tf.math.is_finite(loss)
    for gradient in gradients:
      if gradient is not None:
        finite = tf.logical_and(finite, tf.reduce_all(tf.math.is_finite(gradient)))
    apply_if_finite(self.optimizer, gradients, variables, finite)
    return _reducible_by_keras(self.compute_metrics(x, y, y_pred,
                                                    sample_weight=sample_weight))

  @_without_autograph
  def test_step(self, data):
    """`keras.Model.test_step`, with logs Keras can reduce across workers."""
    return _reducible_by_keras(super().test_step(data))

  @_without_autograph
  def _loss_and_gradients(self, x, y, sample_weight):
    """This replica's `(loss, log-likelihoods, gradients)`: no cross-replica op inside."""
    with tf.GradientTape() as tape:
      y_pred = self(x, training=True)
      loss = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight)
      scaled_loss = self.optimizer.scale_loss(loss)
    return loss, y_pred, tape.gradient(scaled_loss, self.trainable_variables)

  @concise_errors
  def fit(self, x=None, y=None, batch_size=None, sample_weight=None, callbacks=None,
          initialization_batch=None, **kwargs):
    """`keras.Model.fit` without labels; see the class docstring for the extras.

    Args:
      x: arrays, a tensor, a `tf.data.Dataset` or a distributed dataset
        (`strategy.distribute_datasets_from_function` /
        `experimental_distribute_dataset`); for a conditional model,
        `{"x": x, "context": c}` (arrays, or a dataset of such dicts).  The
        context standardisation is set from every context of such arrays
        (from the first batch of a dataset).
      y, batch_size, sample_weight, callbacks, **kwargs: as `keras.Model.fit`.
      initialization_batch: the batch for data-dependent initialisation
        (default: `x`'s first batch; from a distributed dataset, its first
        global batch gathered from every replica, identical on every worker).

    XLA under a strategy of several replicas: Keras would compile the whole
    multi-replica step as one XLA cluster, which cannot reach the variables
    of the other replicas' devices.  If the model was compiled with
    `jit_compile=True`, `fit` instead compiles each replica's loss and
    gradients with XLA (`replica_jit_compile`) and the outer step (all-reduce
    and update) as a plain graph.
    """
    distributed = isinstance(x, tf.distribute.DistributedDataset)
    checked = False
    if x is not None and not distributed and not isinstance(x, tf.data.Dataset):
      # Checked here, eagerly: a traced step may already be generalised to an
      # unknown event dimension, and XLA drops run-time assertions.
      x = _as_arrays(x)
      _check_paired_rows(type(self).__name__, x)
      self.check_input_shape(_rows(x, slice(0, 1)))
      self.check_levels(x)
      checked = initialization_batch is None  # The batch would be part of `data`.
      if isinstance(x, dict) and x.get("context") is not None and (
          self.needs_context_statistics):
        self.set_context_statistics(x["context"])  # From every training context.
    if self.needs_initialization:
      if initialization_batch is None:
        initialization_batch = _first_batch(x, batch_size, self.distribute_strategy)
      if not checked:  # A dataset's, or one the caller passed.
        self.check_levels(initialization_batch)
      self.initialize(initialization_batch)
    if self.distribute_strategy.num_replicas_in_sync > 1 and self.jit_compile:
      self.jit_compile = False
      self.replica_jit_compile = True
      self.train_function = self.test_function = self.predict_function = None
    if getattr(self, "optimizer", None) is not None and not self.optimizer.built:
      # Keras builds the optimizer inside the first trace of the step when no
      # strategy is set; creating its slot variables there makes tf.function
      # trace the whole step twice (about half of the first step's time).
      with self.distribute_strategy.scope():
        self.optimizer.build(self.trainable_variables)
    y = _placeholder_labels(x, y, sample_weight)
    if _cpu_array_input(x, self.distribute_strategy, kwargs):
      x = array_dataset(x, y, sample_weight, batch_size or 32, kwargs.pop("shuffle", True))
      y = sample_weight = batch_size = None
      kwargs["shuffle"] = False  # Shuffled per epoch by the dataset, as Keras would.
    x = without_cpu_autotuning(x)  # Keras's own pipeline for arrays keeps autotuning.
    callbacks = [*(callbacks or []), _StopOnNonFiniteLoss()]
    return super().fit(x, y, batch_size=batch_size, sample_weight=sample_weight,
                       callbacks=callbacks, **kwargs)

  def _maybe_symbolic_build(self, iterator=None, data_batch=None):
    """Keras's symbolic build, from one replica's batch instead of a `strategy.reduce`.

    Under a strategy Keras 3 reduces the first distributed batch with one
    `strategy.reduce("MEAN", batch)` to learn its shapes; the collective
    strategies refuse a structure, so a conditional model's `{"x": x,
    "context": c}` batches stopped multi-worker `fit` ("Attempt to convert a
    value ({'x': PerReplica...}) ... to a Tensor").  The build needs only
    shapes and dtypes, which every replica's part has: the first local one
    serves (no collective, so every worker still runs the same ops).
    """
    if iterator is not None and data_batch is None and self._distribute_strategy is not None:
      for _, _, batches in iterator:
        data_batch = tf.nest.map_structure(
            lambda value: _one_replica(value, self.distribute_strategy), next(batches))
        break
      iterator = None
    return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

  @concise_errors
  def evaluate(self, x=None, y=None, batch_size=None, sample_weight=None, **kwargs):
    """`keras.Model.evaluate` without labels, honouring `sample_weight`."""
    y = _placeholder_labels(x, y, sample_weight)
    return super().evaluate(x, y, batch_size=batch_size, sample_weight=sample_weight,
                            **kwargs)


class _StopOnNonFiniteLoss(keras.callbacks.Callback):
  """Raises `NonFiniteLossError` after a step whose loss was NaN or inf."""

  epoch = 0

  def on_epoch_begin(self, epoch, logs=None):
    del logs
    self.epoch = epoch

  def on_train_batch_end(self, batch, logs=None):
    loss = (logs or {}).get("loss")
    if loss is not None and not np.isfinite(float(loss)):
      step = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
      raise NonFiniteLossError(
          f"{type(self.model).__name__}.fit: the loss became {float(loss)} at batch "
          f"{batch} of this epoch; that step was not applied, so the weights are those "
          f"after {step} optimizer steps.  Check the data for NaN/inf values, or lower "
          f"the learning rate.", step=step + 1, epoch=self.epoch + 1, batch=batch + 1)


def apply_if_finite(optimizer, gradients, variables, finite):
  """Applies the gradients only where every replica's loss and gradients are finite."""
  replica_context = tf.distribute.get_replica_context()
  strategy = tf.distribute.get_strategy()
  if strategy.num_replicas_in_sync > 1 and replica_context is not None:
    num_non_finite = replica_context.all_reduce(
        tf.distribute.ReduceOp.SUM, 1.0 - tf.cast(finite, tf.float32))
    finite = num_non_finite < 0.5
  pairs = list(zip(gradients, variables))

  def apply():
    optimizer.apply_gradients(pairs)
    return tf.constant(True)

  # Under a strategy, even with one replica, `apply_gradients` calls
  # `merge_call`, which a `tf.cond` branch cannot.
  if (replica_context is None or not tf.distribute.has_strategy()
      or tf.__internal__.distribute.strategy_supports_no_merge_call()):
    tf.cond(finite, apply, lambda: tf.constant(False))
    return

  # A cond whose branch calls merge_call must run in the cross-replica context.
  def cross_replica(distribution, finite):
    finite = distribution.experimental_local_results(finite)[0]
    tf.cond(finite,
            lambda: (distribution.extended.call_for_each_replica(
                lambda: optimizer.apply_gradients(pairs)), tf.constant(True))[1],
            lambda: tf.constant(False))

  replica_context.merge_call(cross_replica, args=(finite,))


def _reducible_by_keras(logs):
  """The step's logs, each given a batch axis of 1 under several workers.

  Keras reduces a step's outputs under a multi-worker
  `MultiWorkerMirroredStrategy` with `strategy.reduce(MEAN, value, axis=0)`,
  which fails on the scalar metric results (keras `reduce_per_replica`);
  with a batch axis it returns the scalar, as for one worker.
  """
  strategy = tf.distribute.get_strategy()
  if not (isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
          and strategy.extended._in_multi_worker_mode()):  # Keras's own test.
    return logs
  return {name: tf.reshape(value, [1]) if tf.is_tensor(value) and value.shape.rank == 0
          else value for name, value in logs.items()}


def without_cpu_autotuning(x):
  """`x` with tf.data autotuning off, for a `tf.data.Dataset` on a machine without GPUs.

  On CPUs the autotuner competes with the training step for the cores and
  made steps up to twice as slow in some runs (docs/performance.md, measured
  by `bench/throughput.py`).  A dataset whose options set
  `autotune.enabled` explicitly, GPUs, and other inputs are left alone.
  """
  if (not isinstance(x, tf.data.Dataset) or x.options().autotune.enabled is not None
      or tf.config.list_logical_devices("GPU")):
    return x
  options = tf.data.Options()
  options.autotune.enabled = False
  return x.with_options(options)


def _cpu_array_input(x, strategy, fit_kwargs):
  """Whether `fit` gets arrays that `array_dataset` can batch as Keras would, on CPUs.

  Left to Keras: datasets and generators, `validation_split`, `class_weight`,
  `shuffle="batch"`, several replicas (Keras distributes its own pipeline)
  and machines with GPUs (where tf.data autotuning pays).
  """
  parts = list(x.values()) if isinstance(x, dict) else [x]
  return (all(isinstance(part, np.ndarray) or tf.is_tensor(part) for part in parts)
          and not fit_kwargs.get("validation_split")
          and fit_kwargs.get("class_weight") is None
          and fit_kwargs.get("shuffle", True) in (True, False)
          and strategy.num_replicas_in_sync == 1
          and not tf.config.list_logical_devices("GPU"))


def array_dataset(x, y=None, sample_weight=None, batch_size=32, shuffle=True):
  """Keras's input pipeline for arrays, as a `tf.data.Dataset` (`fit` turns its autotuning off).

  What `keras.Model.fit` builds from arrays on the TensorFlow backend: each
  epoch a fresh permutation of the N rows (`shuffle`), `batch_size` rows at
  a time gathered from the arrays (the last batch partial), elements
  `x`, `(x, y)` or `(x, y, sample_weight)` (x may be a dict of arrays).
  Keras builds its own pipeline inside `fit`, where `without_cpu_autotuning`
  cannot reach it; its autotuning competes with the training step for the
  cores on CPUs: a 5-block MAF on NumPy arrays took 10-20 % longer per step
  than on this pipeline with autotuning off (2 cores, docs/performance.md).  The arrays enter as one `from_tensors` element,
  not as constants of the gather function, so large arrays stay out of the
  graph.
  """
  elements = tuple(part for part in (x, y, sample_weight) if part is not None)
  elements = elements[0] if len(elements) == 1 else elements
  num_rows = int(tf.nest.flatten(elements)[0].shape[0])

  def epoch_order(_):
    order = tf.range(num_rows, dtype=tf.int64)
    return tf.random.shuffle(order) if shuffle else order

  batch_rows = (tf.data.Dataset.range(1).map(epoch_order)
                .flat_map(lambda order: tf.data.Dataset.from_tensor_slices(order)
                          .batch(batch_size)))
  arrays = tf.data.Dataset.from_tensors(elements).repeat()
  dataset = tf.data.Dataset.zip((batch_rows, arrays)).map(
      lambda rows, arrays: tf.nest.map_structure(lambda a: tf.gather(a, rows), arrays))
  options = tf.data.Options()
  options.experimental_optimization.apply_default_optimizations = False
  options.experimental_external_state_policy = (
      tf.data.experimental.ExternalStatePolicy.IGNORE)
  return dataset.prefetch(1).with_options(options)


def _placeholder_labels(x, y, sample_weight):
  """Zero labels when only `sample_weight` is given: Keras drops weights without y."""
  if (sample_weight is None or y is not None
      or isinstance(x, (tf.data.Dataset, tf.distribute.DistributedDataset))):
    return y
  return np.zeros(len(x["x"] if isinstance(x, dict) else x), dtype="float32")


def _one_replica(value, strategy):
  """The first local replica's part of a `DistributedValues` (other values as they are)."""
  if isinstance(value, tf.distribute.DistributedValues):
    return strategy.experimental_local_results(value)[0]
  return value


def _first_batch(x, batch_size, strategy):
  """The first training batch of `fit`'s `x` (array, tensor, tf.data or distributed).

  From a distributed dataset: the first element of every replica gathered
  along the batch axis (`strategy.gather`, a collective that every worker
  runs), so each worker initialises from the same global batch; part by
  part for `{"x": x, "context": c}` (`gather` takes one value).
  """
  if isinstance(x, tf.distribute.DistributedDataset):
    element = next(iter(x))
    element = element[0] if isinstance(element, (tuple, list)) else element
    return tf.nest.map_structure(lambda part: strategy.gather(part, axis=0), element)
  if isinstance(x, tf.data.Dataset):
    element = next(iter(x.take(1)))
    return element[0] if isinstance(element, (tuple, list)) else element
  return _rows(_as_arrays(x), slice(0, max(batch_size or 32, 2)))


def _check_paired_rows(owner, x):
  """Raises a `ValueError` unless the arrays of `{"x": x, "context": c}` have equal row counts."""
  if not isinstance(x, dict) or x.get("context") is None or "x" not in x:
    return
  rows, contexts = len(x["x"]), len(x["context"])
  if np.ndim(x["context"]) > 1 and rows != contexts:
    raise ValueError(f"{owner}: {rows} rows of x but {contexts} contexts; pass one "
                     f"context per row.")


def _as_arrays(x):
  """Array-like `x` (or each value of a dict of them) as a tensor or NumPy array."""
  if isinstance(x, dict):
    return {name: _as_arrays(value) for name, value in x.items()}
  return x if tf.is_tensor(x) else np.asarray(x)


def _rows(x, rows):
  """`x[rows]`, row by row through a dict of arrays."""
  if isinstance(x, dict):
    return {name: value[rows] for name, value in x.items()}
  return x[rows]
