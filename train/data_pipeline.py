"""Deterministic, resumable `tf.data` pipelines for maximum-likelihood training.

Training order is a pure function of (seed, epoch): epoch e reads the rows of
`x` in the order of independent random permutations keyed by (seed, e),
concatenated as often as needed, and cut into `steps_per_epoch` batches of
exactly `batch_size` rows (fixed shapes, so XLA compiles the step once).  A run
resumed at epoch k therefore sees exactly the batches an uninterrupted run sees
from epoch k on, with no iterator state to save.
"""
import dataclasses
import math
from typing import Optional

import numpy as np
import tensorflow as tf

__all__ = ["EpochSchedule", "epoch_schedule", "training_dataset", "evaluation_dataset"]


@dataclasses.dataclass(frozen=True)
class EpochSchedule:
  """How a run is cut into Keras epochs: `epochs` x `steps_per_epoch` steps."""
  epochs: int
  steps_per_epoch: int

  @property
  def total_steps(self):
    return self.epochs * self.steps_per_epoch


def epoch_schedule(num_examples: int, batch_size: int, steps: Optional[int] = None,
                   epochs: Optional[int] = None) -> EpochSchedule:
  """Epochs and steps per epoch for a step budget and/or an epoch count.

  An epoch is one pass over the data (`num_examples // batch_size` steps)
  unless both are given, or the budget is not a whole number of passes:

  * `epochs` only: `epochs` full passes.
  * `steps` only: the fewest epochs of at most one pass each that cover
    `steps`, balanced so that the total exceeds `steps` by less than `epochs`.
  * both: `epochs` epochs of `ceil(steps / epochs)` steps.
  """
  if batch_size > num_examples:
    raise ValueError(f"batch_size ({batch_size}) exceeds the {num_examples} "
                     "training examples.")
  steps_per_pass = num_examples // batch_size
  if steps is None and epochs is None:
    raise ValueError("epoch_schedule: give `steps`, `epochs` or both.")
  for name, value in (("steps", steps), ("epochs", epochs)):
    if value is not None and value < 1:
      raise ValueError(f"epoch_schedule: {name} must be >= 1; got {value}.")
  if steps is None:
    return EpochSchedule(epochs, steps_per_pass)
  if epochs is None:
    epochs = math.ceil(steps / steps_per_pass)
  return EpochSchedule(epochs, math.ceil(steps / epochs))


def _epoch_indices(epoch, seed, num_examples, batch_size, steps_per_epoch):
  """`[steps_per_epoch, batch_size]` row indices of epoch `epoch`."""
  needed = steps_per_epoch * batch_size
  num_permutations = math.ceil(needed / num_examples)
  keys = tf.random.stateless_uniform([num_permutations, num_examples],
                                     seed=tf.stack([tf.cast(seed, tf.int64), epoch]))
  order = tf.reshape(tf.argsort(keys, axis=-1), [-1])[:needed]
  return tf.reshape(order, [steps_per_epoch, batch_size])


def training_dataset(x, batch_size: int, steps_per_epoch: int, seed: int,
                     first_epoch: int, end_epoch: int) -> tf.data.Dataset:
  """Batches `[batch_size, D]` of epochs `first_epoch, ..., end_epoch - 1`.

  Feed it to `model.fit(..., steps_per_epoch=steps_per_epoch,
  initial_epoch=first_epoch, epochs=end_epoch)`: Keras reads exactly
  `steps_per_epoch` batches per epoch from the one stream.  `x` may be a
  dict of arrays with one row per example (`{"x": x, "context": c}` for a
  conditional model): every batch then takes the same rows of each.
  """
  x = tf.nest.map_structure(lambda a: tf.convert_to_tensor(np.asarray(a, np.float32)), x)
  num_examples = int(tf.nest.flatten(x)[0].shape[0])
  indices = tf.data.Dataset.range(first_epoch, end_epoch).flat_map(
      lambda epoch: tf.data.Dataset.from_tensor_slices(
          _epoch_indices(epoch, seed, num_examples, batch_size, steps_per_epoch)))
  batches = indices.map(lambda rows: tf.nest.map_structure(lambda a: tf.gather(a, rows), x))
  return batches.prefetch(tf.data.AUTOTUNE)


def evaluation_dataset(x, batch_size: int) -> tf.data.Dataset:
  """`x` (an array, or a dict of them) in order, in batches of `batch_size` (the last may be
  shorter)."""
  x = tf.nest.map_structure(lambda a: np.asarray(a, dtype=np.float32), x)
  return tf.data.Dataset.from_tensor_slices(x).batch(batch_size).prefetch(tf.data.AUTOTUNE)
