"""`tf.distribute` plumbing of `train/fit.py`: strategies, workers, outputs, sharded input.

Multi-worker training (`--strategy multi-worker`) runs the same command on
every worker, each with its own `TF_CONFIG`, e.g. for worker 1 of two

    TF_CONFIG='{"cluster": {"worker": ["host0:12345", "host1:12345"]},
                "task": {"type": "worker", "index": 1}}'

Worker 0 (or a "chief" task, if the cluster lists one) is the chief.  The
contract this module implements:

* `make_strategy` creates `tf.distribute.MultiWorkerMirroredStrategy` (ring
  all-reduce) and must run before any other TensorFlow op in the process.
* Every worker runs the same code, collectives included; only where its
  outputs go differs (`output_directory`): the chief writes `--out`, the
  others a scratch directory removed at the end (`remove_scratch`).  When
  resuming, a non-chief worker first copies the chief's `config.json` and
  `checkpoints/` into its scratch directory, so `--out` must be readable by
  every worker (on one machine it is; across machines: a shared file
  system).  `check_agreement` makes the workers compare the epoch they
  resume from and stop with a message instead of hanging if they differ.
* `training_input` shards the single-process batch stream: worker w keeps a
  fixed slice (rows `[w*B/W, (w+1)*B/W)`) of every global batch, so the
  global batches, and the gradients summed over workers, are those of a
  single-process run.  `validation_input` gives every worker the whole
  validation set (not sharded), so no worker runs more evaluation steps than
  another and the reduced validation loss is the single-process one.
"""
import dataclasses
import os
import shutil
import tempfile

import tensorflow as tf

from train.data_pipeline import evaluation_dataset
from train.data_pipeline import training_dataset

__all__ = ["STRATEGIES", "WorkerInfo", "make_strategy", "worker_info", "output_directory",
           "remove_scratch", "check_agreement", "training_input", "validation_input"]

STRATEGIES = ("default", "mirrored", "multi-worker")


def make_strategy(name, timeout_seconds=None):
  """The `tf.distribute` strategy for `--strategy name`.

  Args:
    name: "default" (the current strategy: one device), "mirrored"
      (`MirroredStrategy` over the local devices) or "multi-worker"
      (`MultiWorkerMirroredStrategy` from `TF_CONFIG`, ring all-reduce).
    timeout_seconds: multi-worker only: a collective that waits longer
      raises `DeadlineExceededError` instead of hanging (TensorFlow calls it
      a debugging option); None waits forever.
  """
  if name == "mirrored":
    return tf.distribute.MirroredStrategy()
  if name == "multi-worker":
    options = tf.distribute.experimental.CommunicationOptions(
        implementation=tf.distribute.experimental.CommunicationImplementation.RING,
        timeout_seconds=timeout_seconds)
    return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
  if name == "default":
    return tf.distribute.get_strategy()
  raise ValueError(f"Unknown strategy {name!r}; choose one of {STRATEGIES}.")


@dataclasses.dataclass(frozen=True)
class WorkerInfo:
  """This process's place in the cluster.

  Attributes:
    task_type: "worker" or "chief" ("worker" outside a cluster).
    task_id: index within `task_type`.
    num_workers: processes that train (chief and workers); 1 outside a cluster.
    is_chief: whether this process writes the real outputs.
  """
  task_type: str
  task_id: int
  num_workers: int
  is_chief: bool


def worker_info(strategy):
  """`WorkerInfo` from `strategy`'s cluster resolver (`TF_CONFIG`)."""
  resolver = getattr(strategy, "cluster_resolver", None)
  cluster = resolver.cluster_spec().as_dict() if resolver is not None else {}
  if not cluster:
    return WorkerInfo("worker", 0, 1, True)
  task_type, task_id = resolver.task_type, int(resolver.task_id or 0)
  num_workers = sum(len(cluster.get(kind, ())) for kind in ("chief", "worker"))
  is_chief = task_type == "chief" or (
      task_type == "worker" and task_id == 0 and "chief" not in cluster)
  return WorkerInfo(task_type, task_id, num_workers, is_chief)


def output_directory(out, info, resume=False):
  """Where this worker writes: `out` for the chief, else a fresh scratch directory.

  With `resume`, a non-chief worker's scratch directory starts as a copy of
  the chief's `config.json` and `checkpoints/` in `out` (when present), so
  every worker resumes from the same checkpoint.
  """
  if info.is_chief:
    return out
  scratch = tempfile.mkdtemp(prefix=f"tfp_ldu-{info.task_type}{info.task_id}-")
  if resume:
    config = os.path.join(out, "config.json")
    if os.path.isfile(config):
      shutil.copy2(config, scratch)
    checkpoints = os.path.join(out, "checkpoints")
    if os.path.isdir(checkpoints):
      shutil.copytree(checkpoints, os.path.join(scratch, "checkpoints"),
                      ignore=shutil.ignore_patterns("*.partial"))
  return scratch


def remove_scratch(directory, info):
  """Deletes a non-chief worker's scratch `directory` (the chief's `--out` stays)."""
  if not info.is_chief:
    shutil.rmtree(directory, ignore_errors=True)


def check_agreement(strategy, value, what):
  """Raises `SystemExit` unless every replica of `strategy` holds the same int `value`.

  A collective: every worker must call it at the same point.  Workers that
  disagree on, e.g., the epoch they resume from would otherwise wait for
  each other forever.
  """
  if strategy.num_replicas_in_sync == 1:
    return
  local = strategy.run(lambda: tf.constant([int(value)], tf.int64))
  values = sorted(set(strategy.gather(local, axis=0).numpy().tolist()))
  if len(values) > 1:
    raise SystemExit(f"The workers disagree on {what}: {values}.  A non-chief worker "
                     "resumes from the chief's --out: it must be readable by every "
                     "worker (e.g. a shared file system).")


def training_input(strategy, x, batch_size, steps_per_epoch, seed, first_epoch, end_epoch):
  """The training batches for `model.fit` under `strategy`.

  One worker: `train.data_pipeline.training_dataset` (Keras splits each
  global batch over the local replicas).  Several workers: a distributed
  dataset in which each worker reads the same seeded global batches and
  keeps its own fixed slice of each, cut into one batch per local replica.

  Raises:
    ValueError: if `batch_size` is not a multiple of the number of replicas.
  """
  def batches():
    return training_dataset(x, batch_size, steps_per_epoch, seed, first_epoch, end_epoch)

  if worker_info(strategy).num_workers == 1:
    return batches()
  if batch_size % strategy.num_replicas_in_sync:
    raise ValueError(f"The batch size ({batch_size}) must be a multiple of the "
                     f"{strategy.num_replicas_in_sync} replicas.")

  def dataset_fn(context):
    per_replica = context.get_per_replica_batch_size(batch_size)
    local_replicas = context.num_replicas_in_sync // context.num_input_pipelines
    width = per_replica * local_replicas
    start = context.input_pipeline_id * width

    def shard(batch):  # An array, or a dict of them (x and its contexts).
      return tf.nest.map_structure(
          lambda part: tf.reshape(part[start:start + width], tf.concat(
              [[local_replicas, per_replica], tf.shape(part)[1:]], axis=0)), batch)

    return batches().map(shard).unbatch()

  return strategy.distribute_datasets_from_function(dataset_fn)


def validation_input(strategy, x, batch_size):
  """The validation batches: every worker evaluates the whole set (module docstring).

  Several workers: a distributed dataset whose every input pipeline yields
  all the batches of `train.data_pipeline.evaluation_dataset` (spread over
  the worker's local replicas), so each worker runs the same number of
  evaluation steps and the all-reduced mean is the single-process one.
  """
  if worker_info(strategy).num_workers == 1:
    return evaluation_dataset(x, batch_size)
  return strategy.distribute_datasets_from_function(
      lambda context: evaluation_dataset(x, batch_size))
