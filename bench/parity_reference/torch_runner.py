"""Trains the authors' PyTorch `LDUFlow`, or zuko's MAF / NSF, for the parity harness.

    <torch-python> bench/parity_reference/torch_runner.py JOB.json

Run by `bench/parity.py` with a separate interpreter that has torch and numpy
(and zuko for the zuko models; never the library's environment).  The
authors' code is not part of this repository: it is imported at run time
from the checkout named by the job's `reference_dir` (a clone of
github.com/weiyumou/ldu-flow, which holds `project/models/ldu.py`).  zuko's
flows are built by `bench/sbi_reference/torch_runner.build_flow`
(unconditional here).  Only this file's own training loop and evaluation are
used around either, so every side shares data, order, budget and evaluation.

JOB.json keys:
  mode: "train" or "export" (only build the model with `seed`, then write its
    initial weights, connectivity masks and validation log-densities; the
    authors' LDU only).
  model: "ldu" (the authors' code; the default), "zuko_maf" or "zuko_nsf".
  reference_dir (model "ldu"), data_dir (train.npy, val.npy, test.npy float32
    [N, D]; order.npy int64 [steps, batch]), result_path (JSON, "train"),
    weights_path (.npz, "export"), optional progress_path (a line appended per
    evaluation), seed, threads, made_init ("torch" or "glorot"; zuko: "torch",
    its `nn.Linear` initialisation), and
  config: num_blocks, num_d_scales, num_mixtures, hidden_units, dropout,
    learning_rate, adam_epsilon, eval_every; for zuko also num_transforms,
    num_bins and spline_bound (NSF's splines on [-B, B]).

The "export" .npz uses the harness's layout, the library's orientation:
`block{b}/{upper,lower}/{kernel,bias,mask}{l}` (kernels and masks
`[fan_in, fan_out]`), `block{b}/dscale{j}/{raw_in_scale,in_shift,mix_logits}`
`[D, K]` and `.../{raw_residual,out_shift}` `[D]`, and `initial_val_log_prob`
`[N_val]` (evaluation mode, final actnorm still the identity).
"""
import importlib.util
import json
import math
import pathlib
import sys
import time

import numpy as np
import torch
from torch import nn


def import_reference(reference_dir):
  """The authors' `LDUFlow`, `LDUTransformer`, `MaskedLinear`, `IdentityTransformer`."""
  root = pathlib.Path(reference_dir).expanduser().resolve()
  expected = root / "project" / "models" / "ldu.py"
  if not expected.is_file():
    raise FileNotFoundError(
        f"torch_runner: no reference checkout at {root} (expected {expected}). Clone "
        "https://github.com/weiyumou/ldu-flow outside this repository and pass its "
        "path as --reference-dir.")
  sys.path.insert(0, str(root))
  from project.models.affine import IdentityTransformer, MaskedLinear
  from project.models.ldu import LDUFlow, LDUTransformer
  return LDUFlow, LDUTransformer, MaskedLinear, IdentityTransformer


def build_model(classes, event_size, config, seed, made_init):
  """The reference flow on [N, 1, 1, D] inputs, as `run_uci.py` builds it (affine off).

  The parameter-free `IdentityTransformer` placeholders between the LDU blocks
  are dropped: at the checkout's HEAD (cdc641d) their zero log-determinant has
  the input's shape [N, 1, 1, D] instead of [N], so `SinusoidalFlow.forward`'s
  `torch.stack` fails for more than one block (the first commit, ada6da6,
  returned [N] zeros).  Dropping them changes neither the map, nor the
  log-density, nor the random draws of the initialisation.
  """
  ldu_flow, ldu_transformer, masked_linear, identity = classes
  torch.manual_seed(seed)
  model = ldu_flow(1, 1, event_size, config["num_mixtures"], "msk", config["num_blocks"],
                   config["num_d_scales"], affine=False,
                   hid_dims=tuple(config["hidden_units"]), dropout=config["dropout"])
  if made_init == "glorot":
    for module in model.modules():
      if isinstance(module, masked_linear):
        nn.init.xavier_uniform_(module.weight)
        nn.init.zeros_(module.bias)
  elif made_init != "torch":
    raise ValueError(f"torch_runner: made_init must be 'torch' or 'glorot'; got {made_init!r}.")
  model.transformers = nn.ModuleList(
      [t for t in model.transformers if not isinstance(t, identity)])
  blocks = [t for t in model.transformers if isinstance(t, ldu_transformer)]
  if len(blocks) != config["num_blocks"]:
    raise RuntimeError(f"torch_runner: found {len(blocks)} LDU blocks in the reference "
                       f"model; expected {config['num_blocks']}.")
  return model, blocks


def export_weights(blocks, masked_linear, event_size):
  """The canonical weight dictionary (see the module docstring)."""
  weights = {}
  for b, block in enumerate(blocks):
    for side, shift in (("upper", block.u_shift), ("lower", block.l_shift)):
      linears = [m for m in shift.conditioner.mlp if isinstance(m, masked_linear)]
      for l, linear in enumerate(linears):
        prefix = f"block{b}/{side}/"
        weights[prefix + f"kernel{l}"] = linear.weight.detach().numpy().T.copy()
        weights[prefix + f"bias{l}"] = linear.bias.detach().numpy().copy()
        weights[prefix + f"mask{l}"] = linear.mask.detach().numpy().T.copy()
    for j, d_scale in enumerate(block.d_scale):
      c = d_scale.conditioner
      prefix = f"block{b}/dscale{j}/"
      weights[prefix + "raw_in_scale"] = c.in_proj_weight.detach().numpy().reshape(event_size, -1)
      weights[prefix + "in_shift"] = c.in_proj_bias.detach().numpy().reshape(event_size, -1)
      weights[prefix + "mix_logits"] = c.out_proj_weight.detach().numpy().reshape(event_size, -1)
      weights[prefix + "raw_residual"] = c.residual_weight.detach().numpy().reshape(event_size)
      weights[prefix + "out_shift"] = c.out_proj_bias.detach().numpy().reshape(event_size)
  return weights


def _sbi_torch_runner():
  """bench/sbi_reference/torch_runner.py, loaded by path (this script runs outside the package)."""
  path = pathlib.Path(__file__).resolve().parents[1] / "sbi_reference" / "torch_runner.py"
  spec = importlib.util.spec_from_file_location("sbi_torch_runner", path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


class ZukoDensity(nn.Module):
  """zuko's unconditional MAF or NSF behind the authors' interface: x -> (None, log p(x) [N]).

  Built by the SBI benchmark's `build_flow` (`bench/sbi_reference`) with
  `config`'s num_transforms, hidden_units, num_bins and spline_bound.
  """

  def __init__(self, name, event_size, config):
    super().__init__()
    import zuko
    if name not in ("zuko_maf", "zuko_nsf"):
      raise ValueError(f"torch_runner: model must be 'ldu', 'zuko_maf' or 'zuko_nsf'; "
                       f"got {name!r}.")
    self.flow = _sbi_torch_runner().build_flow(name, event_size, 0, config)
    self.versions = dict(zuko_version=zuko.__version__)

  def forward(self, x):
    return None, self.flow().log_prob(x)


@torch.no_grad()
def log_prob(model, x):
  """Per-example log-density [N] in evaluation mode."""
  model.eval()
  _, log_density = model(x)
  return log_density.double().numpy()


def train(model, data, order, config, progress_path=None):
  """Adam on -mean log-likelihood over `order`'s batches; best-on-validation test LL.

  Each evaluation appends a line to `progress_path` when it is given.
  """
  optimiser = torch.optim.Adam(model.parameters(), lr=config["learning_rate"],
                               betas=(0.9, 0.999), eps=config["adam_epsilon"], weight_decay=0.0)
  train_x, val_x, test_x = data
  steps = order.shape[0]
  eval_every = config["eval_every"]
  curve_steps, val_curve, train_curve = [], [], []
  window, best = [], dict(val_ll=-math.inf, step=0, state=None)
  diverged_at = None
  train_time = first_step_time = 0.0
  start = time.perf_counter()
  for step in range(1, steps + 1):
    tick = time.perf_counter()
    model.train()
    _, log_density = model(train_x[order[step - 1]])
    loss = -log_density.mean()
    optimiser.zero_grad(set_to_none=True)
    loss.backward()
    optimiser.step()
    train_time += time.perf_counter() - tick
    if step == 1:
      first_step_time = train_time
    window.append(-loss.item())
    if not math.isfinite(window[-1]):
      diverged_at = step
      break
    if step % eval_every == 0 or step == steps:
      val_ll = float(np.mean(log_prob(model, val_x)))
      curve_steps.append(step)
      val_curve.append(val_ll)
      train_curve.append(float(np.mean(window)))
      window = []
      if math.isfinite(val_ll) and val_ll > best["val_ll"]:
        best = dict(val_ll=val_ll, step=step,
                    state={k: v.detach().clone() for k, v in model.state_dict().items()})
      if progress_path:
        with open(progress_path, "a") as handle:
          handle.write(f"{config.get('label', 'reference')} step {step}: val {val_ll:.3f}, "
                       f"train {train_curve[-1]:.3f}, {time.perf_counter() - start:.0f} s\n")
  result = dict(steps=curve_steps, val_ll=val_curve, train_ll=train_curve,
                best_step=best["step"], best_val_ll=best["val_ll"], diverged_at=diverged_at,
                train_time_s=train_time,
                first_step_s=first_step_time)
  if best["state"] is not None:
    model.load_state_dict(best["state"])
    test = log_prob(model, test_x)
    result.update(test_ll=float(test.mean()),
                  test_se=float(test.std(ddof=1) / math.sqrt(len(test))))
  else:
    result.update(test_ll=math.nan, test_se=math.nan)
  result["wall_time_s"] = time.perf_counter() - start
  return result


def main(job_path):
  job = json.loads(pathlib.Path(job_path).read_text())
  torch.set_num_threads(int(job["threads"]))
  data_dir = pathlib.Path(job["data_dir"])
  arrays = [np.load(data_dir / f"{split}.npy") for split in ("train", "val", "test")]
  event_size = arrays[0].shape[1]
  config = job["config"]
  model_name = job.get("model", "ldu")
  if model_name != "ldu":
    if job["mode"] != "train":
      raise ValueError(f"torch_runner: {model_name} jobs only train; got mode {job['mode']!r}.")
    torch.manual_seed(int(job["seed"]))
    model = ZukoDensity(model_name, event_size, config)
    data = [torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)) for a in arrays]
    _train_and_write(job, model, data)
    return
  classes = import_reference(job["reference_dir"])
  data = [torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)).reshape(-1, 1, 1, event_size)
          for a in arrays]
  model, blocks = build_model(classes, event_size, config, int(job["seed"]), job["made_init"])
  if job["mode"] == "export":
    weights = export_weights(blocks, classes[2], event_size)
    weights["initial_val_log_prob"] = log_prob(model, data[1])
    np.savez(job["weights_path"], **weights)
    return
  if job["mode"] != "train":
    raise ValueError(f"torch_runner: mode must be 'train' or 'export'; got {job['mode']!r}.")
  _train_and_write(job, model, data)


def _train_and_write(job, model, data):
  order = torch.from_numpy(np.load(pathlib.Path(job["data_dir"]) / "order.npy"))
  result = train(model, data, order, job["config"], job.get("progress_path"))
  result.update(torch_version=torch.__version__, threads=torch.get_num_threads(),
                **getattr(model, "versions", {}))
  pathlib.Path(job["result_path"]).write_text(json.dumps(result))


if __name__ == "__main__":
  if len(sys.argv) != 2:
    raise SystemExit(f"usage: {sys.argv[0]} JOB.json")
  main(sys.argv[1])
