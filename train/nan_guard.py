"""Stops training at the first non-finite loss and remembers where it happened."""
import math

import keras

__all__ = ["NonFiniteLossGuard"]


class NonFiniteLossGuard(keras.callbacks.Callback):
  """Stops `fit` when the training loss becomes NaN or infinite.

  `FlowModel.fit` refuses such a step and raises `NonFiniteLossError` from
  its own callback; this one, called before it, records the global step
  (1-based, counted over the whole run including epochs before a resume),
  so the command line can name it and keep the last good checkpoint.

  Args:
    steps_per_epoch: batches per Keras epoch.

  Attributes:
    step, epoch, batch: where the loss first became non-finite (1-based);
      `None` while it has not.
  """

  def __init__(self, steps_per_epoch):
    super().__init__()
    self.steps_per_epoch = int(steps_per_epoch)
    self.step = self.epoch = self.batch = None
    self._current_epoch = 0

  @property
  def triggered(self):
    return self.step is not None

  def on_epoch_begin(self, epoch, logs=None):
    del logs
    self._current_epoch = epoch

  def on_train_batch_end(self, batch, logs=None):
    loss = (logs or {}).get("loss")
    if loss is None or math.isfinite(float(loss)) or self.triggered:
      return
    self.epoch = self._current_epoch + 1
    self.batch = batch + 1
    self.step = self._current_epoch * self.steps_per_epoch + batch + 1
    self.model.stop_training = True

  def message(self, checkpoint_state):
    """A sentence naming the step and the checkpoint kept on disk."""
    kept = (f"the last good checkpoint (epoch {checkpoint_state['epoch']}, step "
            f"{checkpoint_state['step']}) is kept"
            if checkpoint_state["last_file"] else "no epoch finished, so no checkpoint exists")
    return (f"Training stopped: the loss became NaN/infinite at step {self.step} "
            f"(epoch {self.epoch}, batch {self.batch}); {kept}.")
