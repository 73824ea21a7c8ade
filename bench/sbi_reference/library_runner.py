"""Trains the library's conditional flows in-process for `bench/sbi.py`.

The loop mirrors `torch_runner.train` epoch for epoch: Keras `fit` over the
training pairs (theta as the event, the simulation x as the context; the
contexts are z-scored inside the model from the training contexts), Adam at
the given learning rate, the validation loss after every epoch, early
stopping after `patience` epochs without improvement (0: never) and the
weights of the best validation epoch restored at the end.
"""
import time

import keras
import numpy as np

from tfp_ldu.flows import LDUFlow
from tfp_ldu.flows import MAF
from tfp_ldu.flows import NSF

__all__ = ["LIBRARY_MODELS", "build_flow", "train_library"]

LIBRARY_MODELS = ("maf", "nsf", "ldu")


def build_flow(name, theta_dim, x_dim, config):
  """The conditional flow q(theta | x) called `name` ("maf", "nsf" or "ldu").

  `config` holds `num_transforms`, `hidden_units`, `num_bins`, `spline_bound`
  (NSF), `ldu_blocks`, `ldu_d_scales` (LDU).
  """
  hidden, context = tuple(config["hidden_units"]), (x_dim,)
  if name == "maf":
    return MAF(theta_dim, num_blocks=config["num_transforms"], hidden_units=hidden,
               context_shape=context)
  if name == "nsf":
    return NSF(theta_dim, num_blocks=config["num_transforms"], hidden_units=hidden,
               num_bins=config["num_bins"], bound=config["spline_bound"],
               context_shape=context)
  if name == "ldu":
    return LDUFlow(theta_dim, num_blocks=config["ldu_blocks"],
                   num_d_scales=config["ldu_d_scales"], hidden_units=hidden,
                   context_shape=context)
  raise ValueError(f"unknown library model {name!r}; expected one of {LIBRARY_MODELS}")


class _Progress(keras.callbacks.Callback):
  """Notes the first epoch's seconds; appends a line to `path` every `every` epochs."""

  def __init__(self, path, label, every=10):
    super().__init__()
    self.path, self.label, self.every = path, label, every
    self.start = time.perf_counter()
    self.first_epoch_s = None

  def on_epoch_end(self, epoch, logs=None):
    if self.first_epoch_s is None:
      self.first_epoch_s = time.perf_counter() - self.start
    if self.path and (epoch % self.every == 0):
      with open(self.path, "a") as handle:
        handle.write(f"{self.label} epoch {epoch + 1}: train {logs['loss']:.3f}, "
                     f"val {logs['val_loss']:.3f}, {time.perf_counter() - self.start:.0f} s\n")


def train_library(name, data, config, seed, progress_path=None, label=None):
  """Trains one library flow on `data` and evaluates it at the observations.

  Args:
    name: "maf", "nsf" or "ldu".
    data: dict of float32 arrays: `train_theta` `[N, D]`, `train_x` `[N, C]`,
      `val_theta`, `val_x`, `obs_x` `[O, C]`, `obs_theta` `[O, D]` (theta in
      the harness's standardised coordinates, x raw).
    config: `build_flow`'s keys and `batch_size`, `epochs`, `patience`,
      `learning_rate`, `num_samples`.
    seed: the weights' and the samples' seed.

  Returns:
    dict: `samples` `[O, n, D]`, `log_q_true` `[O]` (nats, standardised
    theta), `train_time_s`, `first_epoch_s` (including the traces),
    `sample_time_s` (mean per observation, after one
    warm-up draw), `epochs_run`, `best_epoch` (1-based), `best_val_loss`.
  """
  keras.utils.set_random_seed(seed)
  theta_dim, x_dim = data["train_theta"].shape[1], data["train_x"].shape[1]
  flow = build_flow(name, theta_dim, x_dim, config)
  flow.compile(keras.optimizers.Adam(config["learning_rate"]))
  patience = config["patience"] or config["epochs"]
  stopper = keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience,
                                          restore_best_weights=True)
  progress = _Progress(progress_path, label or name)
  start = time.perf_counter()
  history = flow.fit({"x": data["train_theta"], "context": data["train_x"]},
                     batch_size=config["batch_size"], epochs=config["epochs"],
                     validation_data={"x": data["val_theta"], "context": data["val_x"]},
                     callbacks=[stopper, progress], verbose=0)
  train_time = time.perf_counter() - start
  obs_x = data["obs_x"]
  log_q = flow.log_prob(data["obs_theta"], context=obs_x).numpy().astype(np.float64)
  flow.sample(2, context=obs_x[0], seed=seed)  # Warm-up: traces the sampler.
  samples, sample_time = [], 0.0
  for i, x_o in enumerate(obs_x):
    tick = time.perf_counter()
    samples.append(flow.sample(config["num_samples"], context=x_o,
                               seed=1000 * seed + i).numpy())
    sample_time += time.perf_counter() - tick
  val_losses = history.history["val_loss"]
  return dict(samples=np.stack(samples), log_q_true=log_q, train_time_s=train_time,
              first_epoch_s=progress.first_epoch_s, sample_time_s=sample_time / len(obs_x),
              epochs_run=len(val_losses),
              best_epoch=int(np.nanargmin(val_losses)) + 1,
              best_val_loss=float(np.nanmin(val_losses)))
