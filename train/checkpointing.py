"""Resumable training state: last and best checkpoints plus early stopping.

`TrainingCheckpoint` is a Keras callback that, after every epoch whose loss
and weights are finite, writes into its directory

  epoch-000012.npz   every model variable (weights, ActNorm flags, dropout
                     RNG states) and every optimizer variable (step counter,
                     moments): all that a resumed run needs to continue
                     bit-for-bit;
  best-000009.npz    the model variables of the epoch with the lowest
                     validation loss so far;
  state.json         the commit record: completed epochs, optimizer step,
                     best validation loss and epoch, epochs without
                     improvement, per-epoch history, training seconds and
                     the names of the two files above.

`state.json` is replaced atomically after the files it names are complete,
so a run killed at any moment leaves a consistent checkpoint.  An epoch with
a non-finite loss or weights is never saved: the files on disk stay those of
the last good epoch.  Early stopping lives here too because it shares the
best-validation record and must survive a restart: after `patience` epochs
without improvement the callback stops training.
"""
import json
import math
import os
import time

import keras
import numpy as np

__all__ = ["TrainingCheckpoint"]

_STATE_FILE = "state.json"


def _fresh_state():
  """The state of a run that has not finished an epoch."""
  return dict(epoch=0, step=0, best_val_loss=None, best_epoch=None, wait=0,
              stopped_early=False, train_seconds=0.0, history={},
              last_file=None, best_file=None, extra={})


def _save_variables(path, model_variables, optimizer_variables=()):
  """Writes the variables' values to `path` (.npz), atomically, in list order."""
  arrays = {f"model_{i:05d}": np.asarray(v.numpy()) for i, v in enumerate(model_variables)}
  arrays.update({f"optimizer_{i:05d}": np.asarray(v.numpy())
                 for i, v in enumerate(optimizer_variables)})
  partial = path + ".partial"
  with open(partial, "wb") as stream:
    np.savez(stream, **arrays)
  os.replace(partial, path)


def _assign_variables(path, prefix, variables):
  """Assigns the `prefix` ("model" or "optimizer") arrays of `path` in order."""
  with np.load(path) as arrays:
    keys = sorted(key for key in arrays.files if key.startswith(prefix + "_"))
    if len(keys) != len(variables):
      raise ValueError(f"{path} holds {len(keys)} {prefix} variables but the run has "
                       f"{len(variables)}: the checkpoint belongs to another "
                       "configuration.")
    for key, variable in zip(keys, variables):
      value = arrays[key]
      if tuple(value.shape) != tuple(variable.shape):
        raise ValueError(f"{path}: {prefix} variable {variable.path} has shape "
                         f"{tuple(variable.shape)} but the checkpoint has "
                         f"{tuple(value.shape)}.")
      variable.assign(value)


class TrainingCheckpoint(keras.callbacks.Callback):
  """Saves last/best checkpoints each epoch and stops after `patience` bad epochs.

  Args:
    directory: where the checkpoint files live (created if missing).
    patience: epochs without a lower validation loss before training stops.
    monitor: the validation log to minimise.

  Attributes:
    state: dict persisted in `state.json` (see the module docstring); its
      `extra` entry holds caller data that must survive a restart.
  """

  def __init__(self, directory, patience, monitor="val_loss"):
    super().__init__()
    self.directory = os.fspath(directory)
    self.patience = int(patience)
    self.monitor = monitor
    self.state = _fresh_state()
    self._epoch_started = None

  # ---- files -------------------------------------------------------------
  def _path(self, name):
    return os.path.join(self.directory, name)

  @property
  def exists(self):
    """Whether a committed checkpoint is on disk."""
    return os.path.isfile(self._path(_STATE_FILE))

  def reset(self):
    """Deletes any checkpoint files and starts from a fresh state."""
    if os.path.isdir(self.directory):
      for name in os.listdir(self.directory):
        if name == _STATE_FILE or name.endswith((".npz", ".partial")):
          os.remove(self._path(name))
    self.state = _fresh_state()

  def read_state(self):
    """Reads the committed `state.json` (no model needed), e.g. before `restore_best`."""
    if not self.exists:
      raise FileNotFoundError(f"No checkpoint in {self.directory} (no {_STATE_FILE}).")
    with open(self._path(_STATE_FILE)) as stream:
      self.state = json.load(stream)
    return self.state

  def restore(self, model):
    """Loads the last checkpoint into `model` and `model.optimizer`.

    Both must be built (call the model once and `optimizer.build` first).

    Returns:
      The restored state dict.
    """
    self.read_state()
    if self.state["last_file"] is not None:
      path = self._path(self.state["last_file"])
      _assign_variables(path, "model", model.variables)
      _assign_variables(path, "optimizer", model.optimizer.variables)
    return self.state

  def restore_best(self, model):
    """Loads the best-on-validation model variables (no-op if none was saved)."""
    if self.state["best_file"] is not None:
      _assign_variables(self._path(self.state["best_file"]), "model", model.variables)

  def commit(self):
    """Atomically writes `state.json` and removes files it no longer names."""
    os.makedirs(self.directory, exist_ok=True)
    partial = self._path(_STATE_FILE + ".partial")
    with open(partial, "w") as stream:
      json.dump(self.state, stream, indent=1)
    os.replace(partial, self._path(_STATE_FILE))
    keep = {self.state["last_file"], self.state["best_file"]}
    for name in os.listdir(self.directory):
      if name.endswith(".npz") and name not in keep:
        os.remove(self._path(name))

  # ---- callback ----------------------------------------------------------
  def on_epoch_begin(self, epoch, logs=None):
    del epoch, logs
    self._epoch_started = time.perf_counter()

  def on_epoch_end(self, epoch, logs=None):
    logs = dict(logs or {})
    loss = float(logs.get("loss", math.nan))
    if not math.isfinite(loss) or not all(
        np.all(np.isfinite(v.numpy())) for v in self.model.trainable_variables):
      return
    os.makedirs(self.directory, exist_ok=True)
    state = self.state
    state["epoch"] = epoch + 1
    state["step"] = int(self.model.optimizer.iterations.numpy())
    state["train_seconds"] += time.perf_counter() - self._epoch_started
    for key, value in logs.items():
      state["history"].setdefault(key, []).append(float(value))
    last_file = f"epoch-{epoch + 1:06d}.npz"
    _save_variables(self._path(last_file), self.model.variables,
                    self.model.optimizer.variables)
    state["last_file"] = last_file

    current = float(logs.get(self.monitor, math.nan))
    if math.isfinite(current) and (state["best_val_loss"] is None
                                   or current < state["best_val_loss"]):
      state.update(best_val_loss=current, best_epoch=epoch + 1, wait=0)
      best_file = f"best-{epoch + 1:06d}.npz"
      _save_variables(self._path(best_file), self.model.variables)
      state["best_file"] = best_file
    else:
      state["wait"] += 1
    if state["wait"] >= self.patience:
      state["stopped_early"] = True
      self.model.stop_training = True
      print(f"Early stopping after epoch {epoch + 1}: {self.monitor} has not improved "
            f"for {self.patience} epochs (best {state['best_val_loss']:.4f} at epoch "
            f"{state['best_epoch']}).")
    self.commit()
