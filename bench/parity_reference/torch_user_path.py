"""The PyTorch side of `bench/user_path.py`: a user's training loop (runs under PyTorch).

    <torch-python> bench/parity_reference/torch_user_path.py JOB.json

Run by `bench/user_path.py` with a separate interpreter that has torch,
numpy and zuko (never the library's environment).  JOB.json keys: family
("ldu": the authors' `LDUFlow` through `torch_runner.build_model`, imported
from `reference_dir`; "maf", "nsf", "nsf-coupling": zuko's `MAF` / `NSF` /
`NSF(passes=2)`), config (as
`bench/user_path.py`'s `FAMILIES`), data_dir (train.npy `[N, D]`, val.npy),
batch_size, chunk, steps, seed, threads, result_path.

The loop is what a PyTorch user writes: Adam(lr 1e-3, torch defaults); for
each chunk of `chunk` steps, batches drawn in the order of a fresh
`numpy` permutation of the training rows (as a shuffling DataLoader),
train mode, forward, -mean log-likelihood, zero_grad, backward, step; then
a validation pass (eval mode, `torch.no_grad()`, mean log-likelihood of
val.npy).  Timed as the library side is: first_step_s (from the start of
training to the end of the first step), total_s (every chunk and validation
pass), steps_per_s (the chunks after the first, validation excluded),
val_s (a validation pass after the first), final val_ll.
"""
import json
import pathlib
import sys
import time

import numpy as np
import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))


def build(job):
  """(model, log_density(x) -> [N] tensor) of the job's family."""
  family, config = job["family"], job["config"]
  d = config["event_size"]
  torch.manual_seed(job["seed"])
  if family == "ldu":
    from torch_runner import build_model, import_reference
    classes = import_reference(job["reference_dir"])
    model, _ = build_model(classes, d, dict(config, dropout=0.0), job["seed"], "torch")
    return model, lambda x: model(x.view(-1, 1, 1, d))[1]
  import zuko
  common = dict(features=d, transforms=config["num_blocks"],
                hidden_features=tuple(config["hidden_units"]))
  if family == "maf":
    flow = zuko.flows.MAF(**common)
  elif family == "nsf":
    flow = zuko.flows.NSF(bins=config["num_bins"], **common)
  elif family == "nsf-coupling":  # zuko's coupling form: two passes, alternating halves.
    flow = zuko.flows.NSF(bins=config["num_bins"], passes=2, **common)
  else:
    raise ValueError(f"torch_user_path: unknown family {family!r}.")
  return flow, lambda x: flow().log_prob(x)


def main(job_path):
  job = json.loads(pathlib.Path(job_path).read_text())
  torch.set_num_threads(int(job["threads"]))
  data_dir = pathlib.Path(job["data_dir"])
  train = torch.from_numpy(np.load(data_dir / "train.npy"))
  val = torch.from_numpy(np.load(data_dir / "val.npy"))
  model, log_density = build(job)
  optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
  batch, chunk, steps = job["batch_size"], job["chunk"], job["steps"]
  rng = np.random.default_rng(job["seed"])
  fit_times, val_times, val_ll, first_step = [], [], None, None
  start = time.perf_counter()
  for _ in range(steps // chunk):
    order = rng.permutation(len(train))
    tick = time.perf_counter()
    model.train()
    for step in range(chunk):
      rows = torch.from_numpy(order[step * batch:(step + 1) * batch])
      loss = -log_density(train[rows]).mean()
      optimiser.zero_grad(set_to_none=True)
      loss.backward()
      optimiser.step()
      loss.item()  # As a user logging the loss, and as Keras does per step.
      if first_step is None:
        first_step = time.perf_counter() - start
    fit_times.append(time.perf_counter() - tick)
    tick = time.perf_counter()
    model.eval()
    with torch.no_grad():
      val_ll = float(log_density(val).mean())
    val_times.append(time.perf_counter() - tick)
  total = time.perf_counter() - start
  later = fit_times[1:] or fit_times
  result = dict(first_step_s=first_step, total_s=total,
                steps_per_s=chunk * len(later) / sum(later),
                val_s=float(np.mean(val_times[1:] or val_times)), val_ll=val_ll,
                torch_version=torch.__version__)
  pathlib.Path(job["result_path"]).write_text(json.dumps(result))


if __name__ == "__main__":
  main(sys.argv[1])
