"""Trains zuko's conditional MAF / NSF for the SBI benchmark (runs under PyTorch).

    <torch-python> bench/sbi_reference/torch_runner.py JOB.json

Run by `bench/sbi.py` with a separate interpreter that has torch, zuko and
numpy (never the library's environment).  The loop mirrors
`library_runner.train_library`: the same training / validation arrays, batch
size, Adam learning rate, epochs, patience and best-validation weights.  The
contexts x are z-scored here with the training split's mean and standard
deviation (the library does the same inside its model); theta arrives already
standardised by the harness, as on the library side.

JOB.json keys:
  model: "zuko_maf" or "zuko_nsf"; seed; threads; data_dir (float32 .npy:
    train_theta [N, D], train_x [N, C], val_theta, val_x, obs_x [O, C],
    obs_theta [O, D]); result_path (JSON); samples_path (.npy [O, n, D]);
    optional progress_path (a line appended every 10 epochs); label; and
  config: num_transforms, hidden_units, num_bins, batch_size, epochs,
    patience (0: never stop early), learning_rate, num_samples.

The result JSON has log_q_true [O] (nats, standardised theta), train_time_s,
first_epoch_s, sample_time_s (mean per observation after one warm-up draw),
epochs_run, best_epoch (1-based), best_val_loss, torch_version and zuko_version.
"""
import copy
import functools
import json
import math
import pathlib
import sys
import time

import numpy as np
import torch
import zuko


def build_flow(name, theta_dim, x_dim, config):
  """zuko's flow q(theta | x) (x_dim 0: unconditional) with the harness's sizes.

  NSF's splines act on [-B, B] with B = config["spline_bound"] when given
  (`zuko.flows.NSF` fixes zuko's default, 5; the same flow is built as a MAF
  of `MonotonicRQSTransform`s with the bound set), else on [-5, 5].
  """
  common = dict(features=theta_dim, context=x_dim, transforms=config["num_transforms"],
                hidden_features=tuple(config["hidden_units"]))
  if name == "zuko_maf":
    return zuko.flows.MAF(**common)
  if name == "zuko_nsf":
    bins, bound = config["num_bins"], config.get("spline_bound")
    if bound is None:
      return zuko.flows.NSF(bins=bins, **common)
    spline = functools.partial(zuko.transforms.MonotonicRQSTransform, bound=float(bound))
    return zuko.flows.MAF(univariate=spline, shapes=[(bins,), (bins,), (bins - 1,)], **common)
  raise ValueError(f"torch_runner: unknown model {name!r}; expected zuko_maf or zuko_nsf.")


@torch.no_grad()
def mean_loss(flow, theta, x, batch_size):
  """Mean negative log-density over all rows, in batches."""
  total = 0.0
  for i in range(0, len(theta), batch_size):
    total += -flow(x[i:i + batch_size]).log_prob(theta[i:i + batch_size]).sum().item()
  return total / len(theta)


def train(flow, arrays, config, progress_path=None, label="zuko"):
  """Adam on -mean log q(theta | x) with best-validation weights; returns a summary dict."""
  optimiser = torch.optim.Adam(flow.parameters(), lr=config["learning_rate"])
  theta, x = arrays["train_theta"], arrays["train_x"]
  batch_size, epochs = config["batch_size"], config["epochs"]
  patience = config["patience"] or epochs
  best = dict(loss=math.inf, epoch=0, state=None)
  val_losses = []
  start = time.perf_counter()
  for epoch in range(1, epochs + 1):
    flow.train()
    order = torch.randperm(len(theta))
    total = 0.0
    for i in range(0, len(theta), batch_size):
      rows = order[i:i + batch_size]
      loss = -flow(x[rows]).log_prob(theta[rows]).mean()
      optimiser.zero_grad(set_to_none=True)
      loss.backward()
      optimiser.step()
      total += loss.item() * len(rows)
    flow.eval()
    val_losses.append(mean_loss(flow, arrays["val_theta"], arrays["val_x"], batch_size))
    if epoch == 1:
      first_epoch_s = time.perf_counter() - start
    if val_losses[-1] < best["loss"]:
      best = dict(loss=val_losses[-1], epoch=epoch, state=copy.deepcopy(flow.state_dict()))
    if progress_path and (epoch - 1) % 10 == 0:
      with open(progress_path, "a") as handle:
        handle.write(f"{label} epoch {epoch}: train {total / len(theta):.3f}, "
                     f"val {val_losses[-1]:.3f}, {time.perf_counter() - start:.0f} s\n")
    if epoch - best["epoch"] >= patience:
      break
  if best["state"] is not None:
    flow.load_state_dict(best["state"])
  flow.eval()
  return dict(train_time_s=time.perf_counter() - start, first_epoch_s=first_epoch_s,
              epochs_run=len(val_losses),
              best_epoch=best["epoch"], best_val_loss=best["loss"])


@torch.no_grad()
def evaluate(flow, arrays, num_samples, seed):
  """`(samples [O, n, D], log_q_true [O], mean sampling seconds per observation)`."""
  obs_x = arrays["obs_x"]
  log_q = flow(obs_x).log_prob(arrays["obs_theta"]).double().numpy()
  flow(obs_x[0]).sample((2,))  # Warm-up, as on the library side.
  samples, sample_time = [], 0.0
  for i, x_o in enumerate(obs_x):
    torch.manual_seed(1000 * seed + i)
    tick = time.perf_counter()
    samples.append(flow(x_o).sample((num_samples,)).numpy())
    sample_time += time.perf_counter() - tick
  return np.stack(samples), log_q, sample_time / len(obs_x)


def load_arrays(data_dir):
  """The job's arrays as float32 tensors, contexts z-scored by the training split."""
  names = ("train_theta", "train_x", "val_theta", "val_x", "obs_x", "obs_theta")
  arrays = {n: np.load(pathlib.Path(data_dir) / f"{n}.npy").astype(np.float32) for n in names}
  mean, std = arrays["train_x"].mean(axis=0), arrays["train_x"].std(axis=0)
  for key in ("train_x", "val_x", "obs_x"):
    arrays[key] = (arrays[key] - mean) / std
  return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()}


def main(job_path):
  job = json.loads(pathlib.Path(job_path).read_text())
  torch.set_num_threads(int(job["threads"]))
  torch.set_num_interop_threads(int(job["threads"]))
  arrays = load_arrays(job["data_dir"])
  config, seed = job["config"], int(job["seed"])
  torch.manual_seed(seed)
  flow = build_flow(job["model"], arrays["train_theta"].shape[1], arrays["train_x"].shape[1],
                    config)
  result = train(flow, arrays, config, job.get("progress_path"), job.get("label", job["model"]))
  samples, log_q, sample_time = evaluate(flow, arrays, config["num_samples"], seed)
  np.save(job["samples_path"], samples.astype(np.float32))
  result.update(log_q_true=log_q.tolist(), sample_time_s=sample_time,
                torch_version=torch.__version__, zuko_version=zuko.__version__)
  pathlib.Path(job["result_path"]).write_text(json.dumps(result))


if __name__ == "__main__":
  if len(sys.argv) != 2:
    raise SystemExit(f"usage: {sys.argv[0]} JOB.json")
  main(sys.argv[1])
