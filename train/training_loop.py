"""Optimiser and `model.fit` loop for maximum-likelihood training of a flow.

Learning-rate decay (`Hyperparameters.lr_decay`):

* "cosine": `keras.optimizers.schedules.CosineDecay` from the initial rate to
  0 over all steps of the run.
* "exponential": the paper's "0.99" decay, applied once per epoch (staircase
  `ExponentialDecay` with `decay_steps = steps_per_epoch`).  Per epoch, not
  per N steps, because then the overall decay does not depend on an arbitrary
  N: over the paper's budgets it is 0.99^301 = 0.05 for GAS (2M steps, 6,657
  per pass) and 0.99^407 = 0.017 for HEPMASS, a sensible annealing, whereas
  decaying every 1,000 steps would shrink the rate by 1e-9 for GAS.
* "plateau": constant, multiplied by `PLATEAU_FACTOR` (0.9) whenever the
  validation loss has not improved for `PLATEAU_PATIENCE` (2) epochs, as the
  paper does for CIFAR-10 (`keras.callbacks.ReduceLROnPlateau` in
  `run_training`).
* "none": constant.

Adam, or AdamW when `weight_decay > 0`.  Both schedules are functions of the
optimizer's step counter, which the checkpoint saves, so a resumed run
continues the same schedule.
"""
import dataclasses
import os
from typing import Optional, Sequence

import keras
import tensorflow as tf

from tfp_ldu.flows import NonFiniteLossError

from train import distribution
from train.checkpointing import TrainingCheckpoint
from train.data_pipeline import EpochSchedule
from train.hyperparameters import EXPONENTIAL_DECAY_RATE
from train.hyperparameters import Hyperparameters
from train.hyperparameters import PLATEAU_FACTOR
from train.hyperparameters import PLATEAU_PATIENCE

__all__ = ["make_optimizer", "TrainingOutcome", "run_training"]


def make_optimizer(hyperparameters: Hyperparameters, schedule: EpochSchedule):
  """Adam/AdamW with the row's learning-rate schedule (see module docstring)."""
  rate = hyperparameters.learning_rate
  if hyperparameters.lr_decay == "cosine":
    rate = keras.optimizers.schedules.CosineDecay(rate, decay_steps=schedule.total_steps)
  elif hyperparameters.lr_decay == "exponential":
    rate = keras.optimizers.schedules.ExponentialDecay(
        rate, decay_steps=schedule.steps_per_epoch, decay_rate=EXPONENTIAL_DECAY_RATE,
        staircase=True)
  if hyperparameters.weight_decay > 0:
    return keras.optimizers.AdamW(rate, weight_decay=hyperparameters.weight_decay)
  return keras.optimizers.Adam(rate)


@dataclasses.dataclass(frozen=True)
class TrainingOutcome:
  """How `run_training` ended.

  Attributes:
    nan_message: why training was aborted on a non-finite loss, else None.
    stopped_early: whether early stopping ended the run.
  """
  nan_message: Optional[str]
  stopped_early: bool


def run_training(model, x_train, x_val, schedule: EpochSchedule, batch_size: int,
                 seed: int, checkpoint: TrainingCheckpoint, log_dir: str,
                 eval_batch_size: int, verbose: int = 1,
                 callbacks: Sequence[keras.callbacks.Callback] = (),
                 lr_decay: str = "none", strategy=None) -> TrainingOutcome:
  """Trains `model` (compiled) from `checkpoint.state["epoch"]` to the schedule's end.

  Args:
    model: a compiled `FlowModel` whose ActNorms are initialised.
    x_train, x_val: `[N, D]` float32 arrays.
    schedule: epochs and steps per epoch (see `train.data_pipeline`).
    batch_size: global batch size.
    seed: data-order seed.
    checkpoint: the run's `TrainingCheckpoint`, restored when resuming.
    log_dir: TensorBoard directory.
    eval_batch_size: validation batch size.
    verbose: Keras `fit` verbosity (1 = progress bar).
    callbacks: extra callbacks, run after the checkpoint is written.
    lr_decay: the row's decay; "plateau" adds `ReduceLROnPlateau`.
    strategy: the `tf.distribute` strategy the model was built under
      (default: the current one); with several workers each reads its slice
      of every global batch (`train.distribution.training_input`).

  Returns:
    `TrainingOutcome`.
  """
  strategy = strategy or tf.distribute.get_strategy()
  first_epoch = checkpoint.state["epoch"]
  if checkpoint.state["stopped_early"] or first_epoch >= schedule.epochs:
    return TrainingOutcome(nan_message=None, stopped_early=checkpoint.state["stopped_early"])
  os.makedirs(log_dir, exist_ok=True)
  if lr_decay == "plateau":
    callbacks = [keras.callbacks.ReduceLROnPlateau(
        monitor="val_loss", factor=PLATEAU_FACTOR, patience=PLATEAU_PATIENCE,
        verbose=int(verbose > 0)), *callbacks]
  try:
    model.fit(
        distribution.training_input(strategy, x_train, batch_size, schedule.steps_per_epoch,
                                    seed, first_epoch, schedule.epochs),
        initial_epoch=first_epoch, epochs=schedule.epochs,
        steps_per_epoch=schedule.steps_per_epoch,
        validation_data=distribution.validation_input(strategy, x_val, eval_batch_size),
        callbacks=[checkpoint, keras.callbacks.TensorBoard(log_dir=log_dir),
                   *callbacks],
        shuffle=False, verbose=verbose)
  except NonFiniteLossError as error:
    # The model refused the step; the last good checkpoint stays on disk.
    return TrainingOutcome(nan_message=non_finite_message(error, checkpoint.state),
                           stopped_early=checkpoint.state["stopped_early"])
  return TrainingOutcome(nan_message=None, stopped_early=checkpoint.state["stopped_early"])


def non_finite_message(error, checkpoint_state):
  """A sentence naming the refused step (`NonFiniteLossError`) and the checkpoint kept."""
  kept = (f"the last good checkpoint (epoch {checkpoint_state['epoch']}, step "
          f"{checkpoint_state['step']}) is kept"
          if checkpoint_state["last_file"] else "no epoch finished, so no checkpoint exists")
  return (f"Training stopped: the loss became NaN/infinite at step {error.step} "
          f"(epoch {error.epoch}, batch {error.batch}); {kept}.")
