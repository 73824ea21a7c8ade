"""Trains the library's `LDUFlow` (or `MAF`, `NSF`, `RealNVP`) in-process under one parity variant.

The loop mirrors `torch_runner.train` step for step: the batch of step s is
`train[order[s - 1]]`, the loss is -mean log-likelihood, one Adam update per
step, validation log-likelihood (mean over the whole validation split, no
dropout) every `eval_every` steps and at the last step, and the test
log-likelihood (mean and standard error over the test points) of the weights
with the best validation value.
"""
import math
import time

import keras
import numpy as np
import tensorflow as tf

from bench.parity_reference.candidate_defaults import initialize_actnorm
from bench.parity_reference.candidate_defaults import reinitialise_made
from bench.parity_reference.candidate_defaults import transplant_reference_weights
from tfp_ldu.flows import LDUFlow
from tfp_ldu.flows import MAF
from tfp_ldu.flows import NSF
from tfp_ldu.flows import RealNVP

__all__ = ["build_library_model", "build_other_flow", "train_library"]


def build_other_flow(event_size, config, model):
  """The library's `MAF`, `NSF` (autoregressive or coupling) or `RealNVP` with its defaults.

  Sizes from `config`: num_transforms blocks of hidden_units, dropout, and
  for the splines num_bins bins on [-spline_bound, spline_bound].
  """
  common = dict(num_blocks=config["num_transforms"], hidden_units=tuple(config["hidden_units"]),
                dropout=config["dropout"], dtype="float32")
  if model == "maf":
    return MAF(event_size, **common)
  if model in ("nsf", "nsf_coupling"):
    return NSF(event_size, num_bins=config["num_bins"], bound=config["spline_bound"],
               coupling=model == "nsf_coupling", **common)
  if model == "realnvp":
    return RealNVP(event_size, **common)
  raise ValueError(f"build_other_flow: unknown library model {model!r}.")


def build_library_model(event_size, config, variant, seed, reference_weights=None):
  """`variant`'s flow: `LDUFlow` with `config`'s architecture and `variant`'s MADE weights,
  or (variant.model other than "ldu") `build_other_flow`'s, as constructed.

  Returns:
    (model, forward_parity): forward_parity is the largest |log p_library -
    log p_reference| over the validation points for a "transplant" variant
    (both with the final actnorm at the identity), else None.
  """
  keras.utils.set_random_seed(seed)
  if variant.model != "ldu":
    if variant.made_init != "library":
      raise ValueError(f"{variant.name}: made_init must be 'library' for {variant.model}.")
    return build_other_flow(event_size, config, variant.model), None
  model = LDUFlow(event_size, num_blocks=config["num_blocks"],
                  num_d_scales=config["num_d_scales"], num_components=config["num_mixtures"],
                  hidden_units=tuple(config["hidden_units"]), dropout=config["dropout"],
                  dtype="float32")
  forward_parity = None
  if variant.made_init in ("torch", "torch_kernel"):
    reinitialise_made(model, variant.made_init, np.random.default_rng([seed, 7]))
  elif variant.made_init == "transplant":
    if reference_weights is None:
      raise ValueError(f"{variant.name}: needs the reference's exported initial weights.")
    transplant_reference_weights(model, reference_weights)
    val = reference_weights["validation_points"]
    library_log_prob = model(tf.constant(val), training=False).numpy().astype(np.float64)
    forward_parity = float(np.max(np.abs(
        library_log_prob - reference_weights["initial_val_log_prob"])))
  elif variant.made_init != "library":
    raise ValueError(f"{variant.name}: unknown library made_init {variant.made_init!r}.")
  return model, forward_parity


def train_library(data, order, config, variant, seed, reference_weights=None,
                  jit_compile=False, progress_path=None):
  """Trains one library model; returns the same result dictionary as `torch_runner.train`.

  Each evaluation appends a line to `progress_path` when it is given.
  """
  start = time.perf_counter()
  model, forward_parity = build_library_model(data.event_size, config, variant, seed,
                                              reference_weights)
  initialize_actnorm(model, data.train[order[0]], variant.actnorm_init)
  optimizer = (keras.optimizers.Adam(config["learning_rate"])
               if variant.adam_epsilon is None else
               keras.optimizers.Adam(config["learning_rate"], epsilon=variant.adam_epsilon))
  variables = model.trainable_variables

  @tf.function(jit_compile=jit_compile)
  def train_step(x):
    with tf.GradientTape() as tape:
      loss = -tf.reduce_mean(model(x, training=True))
    optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
    return loss

  @tf.function(jit_compile=jit_compile)
  def log_prob(x):
    return model(x, training=False)

  train_x = tf.constant(data.train)
  val_x, test_x = tf.constant(data.val), tf.constant(data.test)
  steps, eval_every = order.shape[0], config["eval_every"]
  curve_steps, val_curve, train_curve = [], [], []
  window, best = [], dict(val_ll=-math.inf, step=0, weights=None)
  diverged_at, train_time, first_step_time = None, 0.0, 0.0
  for step in range(1, steps + 1):
    tick = time.perf_counter()
    loss = float(train_step(tf.gather(train_x, order[step - 1])))
    train_time += time.perf_counter() - tick
    if step == 1:
      first_step_time = train_time
    window.append(-loss)
    if not math.isfinite(window[-1]):
      diverged_at = step
      break
    if step % eval_every == 0 or step == steps:
      val_ll = float(np.mean(log_prob(val_x).numpy().astype(np.float64)))
      curve_steps.append(step)
      val_curve.append(val_ll)
      train_curve.append(float(np.mean(window)))
      window = []
      if math.isfinite(val_ll) and val_ll > best["val_ll"]:
        best = dict(val_ll=val_ll, step=step, weights=[v.numpy() for v in model.weights])
      if progress_path:
        with open(progress_path, "a") as handle:
          handle.write(f"{variant.name} s{seed} step {step}: val {val_ll:.3f}, "
                       f"train {train_curve[-1]:.3f}, {time.perf_counter() - start:.0f} s\n")
  result = dict(steps=curve_steps, val_ll=val_curve, train_ll=train_curve,
                best_step=best["step"], best_val_ll=best["val_ll"], diverged_at=diverged_at,
                train_time_s=train_time, first_step_s=first_step_time,
                forward_parity=forward_parity)
  if best["weights"] is not None:
    for variable, value in zip(model.weights, best["weights"]):
      variable.assign(value)
    test = log_prob(test_x).numpy().astype(np.float64)
    result.update(test_ll=float(test.mean()),
                  test_se=float(test.std(ddof=1) / math.sqrt(len(test))))
  else:
    result.update(test_ll=math.nan, test_se=math.nan)
  result["wall_time_s"] = time.perf_counter() - start
  return result
