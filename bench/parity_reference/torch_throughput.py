"""Throughput of the authors' PyTorch `LDUFlow` for `bench/throughput.py` (runs under PyTorch).

    <torch-python> bench/parity_reference/torch_throughput.py JOB.json

Run by `bench/throughput.py` with a separate interpreter that has torch and
numpy (never the library's environment).  The authors' code is imported at
run time from the checkout named by the job's `reference_dir` (a clone of
github.com/weiyumou/ldu-flow), through `torch_runner.import_reference` and
`torch_runner.build_model` (the same model the parity harness trains).

JOB.json keys: kind ("train" or "eval"), reference_dir, result_path, seed,
threads, config (event_size, num_blocks, num_d_scales, num_mixtures,
hidden_units), and
  train: batch_size, warmup_steps, steps.  A fresh model; Adam (lr 1e-3,
    torch defaults) on standard-normal data, each step as in
    `torch_runner.train` (train mode, forward, -mean log-likelihood,
    zero_grad, backward, step, loss.item()).  Result: first_step_s (the
    first step alone, which also initialises the actnorm), steps_per_s
    (`steps` timed steps after `warmup_steps` more).
  eval: data_dir (init.npy, the actnorm batch [N, D]; check.npy [M, D]),
    weights_path (.npz written here, `torch_runner.export_weights` layout),
    log_prob_batch, log_prob_reps, num_samples, sample_reps.  The model gets
    "trained-like" D-scales (see `randomise_d_scales`), its actnorm is set
    by one train-mode forward on init.npy, then:
    * log_prob: `model(x)` in eval mode under `torch.no_grad()` on
      [log_prob_batch, 1, 1, D] float32 batches (one untimed warm-up call);
    * sampling, float64: the authors' own `model.sample(n)` with its default
      arguments (batches of 128, rtol 1e-10, atol 1e-16, max_iter 100);
    * sampling, float32: `sample` is float64-only (it calls `self.double()`),
      so the same loop as `sample` (batches of 128, `inv_transform`) is run
      on the float32 model with `inv_transform`'s defaults (rtol 1e-5,
      atol 1e-8, max_iter 100);
    * diagnostics of both (untimed, the same latents again): the largest
      iteration count of any numeric inverse, how many solves stopped at
      max_iter (the authors' loop stops there silently), and
      max |T(x) - z| in that dtype.
    Writes the weights (.npz) and the log-densities of check.npy.
"""
import json
import math
import pathlib
import sys
import time

import numpy as np
import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from torch_runner import build_model, export_weights, import_reference  # noqa: E402


def _model_config(config):
  return dict(num_blocks=config["num_blocks"], num_d_scales=config["num_d_scales"],
              num_mixtures=config["num_mixtures"], hidden_units=list(config["hidden_units"]),
              dropout=0.0)


def randomise_d_scales(blocks, rng):
  """The reference twin of `tfp_ldu.testing.randomise_d_scale`, for every D-scale.

  residual_weight (raw r, r = tanh(raw)) ~ U(-2, 2); out_proj_weight (mixture
  logits) and out_proj_bias (output shift) ~ N(0, 1); in_proj_* keep the
  authors' U(-3, 3) initialisation.
  """
  with torch.no_grad():
    for block in blocks:
      for d_scale in block.d_scale:
        c = d_scale.conditioner
        c.residual_weight.copy_(torch.from_numpy(
            rng.uniform(-2.0, 2.0, tuple(c.residual_weight.shape))))
        c.out_proj_bias.copy_(torch.from_numpy(rng.normal(size=tuple(c.out_proj_bias.shape))))
        c.out_proj_weight.copy_(torch.from_numpy(
            rng.normal(size=tuple(c.out_proj_weight.shape))))


def train_throughput(classes, job):
  config, d = job["config"], job["config"]["event_size"]
  model, _ = build_model(classes, d, _model_config(config), job["seed"], "torch")
  optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
  batch, warmup, steps = job["batch_size"], job["warmup_steps"], job["steps"]
  rng = np.random.default_rng(job["seed"])
  data = torch.from_numpy(rng.normal(size=((1 + warmup + steps) * batch, d))
                          .astype(np.float32)).reshape(-1, 1, 1, d)
  batches = list(torch.split(data, batch))

  def step(x):
    model.train()
    _, log_density = model(x)
    loss = -log_density.mean()
    optimiser.zero_grad(set_to_none=True)
    loss.backward()
    optimiser.step()
    return loss.item()

  tick = time.perf_counter()
  step(batches[0])
  first = time.perf_counter() - tick
  for x in batches[1:1 + warmup]:
    step(x)
  tick = time.perf_counter()
  for x in batches[1 + warmup:]:
    loss = step(x)
  elapsed = time.perf_counter() - tick
  return dict(first_step_s=first, steps_per_s=steps / elapsed, final_loss=loss)


class _IterationCounter:
  """Counts the forward calls of every numeric inverse (one per fixed-point iteration)."""

  def __init__(self, model, max_iter):
    self.counts, self.max_iter, self._handles, self._current = [], max_iter, [], [0]
    for module in model.modules():
      if hasattr(module, "inv_transform") and hasattr(module, "conditioner"):
        self._wrap(module)

  def _wrap(self, module):
    original = module.inv_transform
    current = self._current

    def hook(*_):
      current[0] += 1

    def inv_transform(*args, **kwargs):
      current[0] = 0
      handle = module.register_forward_hook(hook)
      try:
        return original(*args, **kwargs)
      finally:
        handle.remove()
        self.counts.append(current[0])

    module.inv_transform = inv_transform
    self._handles.append((module, original))

  def remove(self):
    for module, _ in self._handles:
      del module.inv_transform

  def summary(self):
    return dict(max_iterations=max(self.counts), num_solves=len(self.counts),
                solves_at_max_iter=sum(c >= self.max_iter for c in self.counts))


def _sample_loop(model, z, dtype, batch_size=128, **tolerances):
  """`SinusoidalFlow.sample`'s loop on given latents, in `dtype`, output kept in `dtype`."""
  out = []
  with torch.no_grad():
    for batch in torch.split(z, batch_size, dim=0):
      out.append(model.inv_transform(batch.to(dtype), None, **tolerances))
  return torch.cat(out, dim=0)


def _diagnostics(model, z, dtype, **tolerances):
  """Iterations and max |T(x) - z| of the sampling loop on latents z, in `dtype`."""
  counter = _IterationCounter(model, tolerances["max_iter"])
  try:
    x = _sample_loop(model, z, dtype, **tolerances)
  finally:
    counter.remove()
  with torch.no_grad():
    again, _ = model(x)
  return dict(counter.summary(),
              residual=float((again - z.to(dtype)).abs().max()),
              finite=bool(torch.isfinite(x).all()))


def eval_throughput(classes, job):
  config, d = job["config"], job["config"]["event_size"]
  model, blocks = build_model(classes, d, _model_config(config), job["seed"], "torch")
  randomise_d_scales(blocks, np.random.default_rng(job["seed"]))
  data_dir = pathlib.Path(job["data_dir"])
  init = torch.from_numpy(np.load(data_dir / "init.npy").astype(np.float32)).reshape(-1, 1, 1, d)
  check = torch.from_numpy(np.load(data_dir / "check.npy").astype(np.float32)).reshape(-1, 1, 1, d)
  with torch.no_grad():
    model.train()
    model(init)  # The authors' actnorm initialises itself on its first training batch.
  model.eval()
  with torch.no_grad():
    check_log_prob = model(check)[1].double().numpy()
  weights = export_weights(blocks, classes[2], d)
  weights["actnorm/mean"] = model.norm.mean.detach().numpy().reshape(d)
  weights["actnorm/log_std"] = model.norm.log_std.detach().numpy().reshape(d)
  weights["check_log_prob"] = check_log_prob
  np.savez(job["weights_path"], **weights)
  result = dict(check_log_prob_saved=True)

  # log_prob, float32, eval mode, no_grad.
  rng = np.random.default_rng([job["seed"], 1])
  batch = job["log_prob_batch"]
  x = torch.from_numpy(rng.normal(size=(batch, d)).astype(np.float32)).reshape(-1, 1, 1, d)
  with torch.no_grad():
    model(x)
    tick = time.perf_counter()
    for _ in range(job["log_prob_reps"]):
      model(x)[1].numpy()
    result["log_prob_points_per_s"] = job["log_prob_reps"] * batch / (time.perf_counter() - tick)

  n, reps = job["num_samples"], job["sample_reps"]
  # Sampling, float64: the authors' own sampler with its defaults.
  model.sample(16)  # Warm-up (and a check that it runs).
  tick = time.perf_counter()
  for _ in range(reps):
    model.sample(n)
  result["sample64_points_per_s"] = reps * n / (time.perf_counter() - tick)
  torch.manual_seed(job["seed"])
  z = model.base_dist.sample((n, 1, 1, d))
  model.double()
  result["sample64"] = _diagnostics(model, z, torch.float64, rtol=1e-10, atol=1e-16, max_iter=100)
  model.float()

  # Sampling, float32: the same loop on the float32 model, inv_transform's defaults.
  tolerances32 = dict(rtol=1e-5, atol=1e-8, max_iter=100)
  _sample_loop(model, z[:16], torch.float32, **tolerances32)
  tick = time.perf_counter()
  for _ in range(reps):
    _sample_loop(model, model.base_dist.sample((n, 1, 1, d)), torch.float32, **tolerances32)
  result["sample32_points_per_s"] = reps * n / (time.perf_counter() - tick)
  result["sample32"] = _diagnostics(model, z, torch.float32, **tolerances32)
  return result


def main(job_path):
  job = json.loads(pathlib.Path(job_path).read_text())
  torch.set_num_threads(int(job["threads"]))
  classes = import_reference(job["reference_dir"])
  if job["kind"] == "train":
    result = train_throughput(classes, job)
  elif job["kind"] == "eval":
    result = eval_throughput(classes, job)
  else:
    raise ValueError(f"torch_throughput: kind must be 'train' or 'eval'; got {job['kind']!r}.")
  result.update(torch_version=torch.__version__, threads=torch.get_num_threads(),
                nan_free=all(math.isfinite(v) for v in result.values()
                             if isinstance(v, float)))
  pathlib.Path(job["result_path"]).write_text(json.dumps(result))


if __name__ == "__main__":
  if len(sys.argv) != 2:
    raise SystemExit(f"usage: {sys.argv[0]} JOB.json")
  main(sys.argv[1])
