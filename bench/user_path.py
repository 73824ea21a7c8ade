"""Speed as a user gets it: NumPy arrays into `model.fit`, beside the authors' LDU and zuko.

    python bench/user_path.py --torch-python $TORCH_ENV/bin/python \\
        --reference-dir $LDU_FLOW [--dims 8,21,43,64,784] [--families ldu,maf,nsf,nsf-coupling,flowpp] \\
        [--modes default,plain,xla] [--steps 300] [--chunk 50] [--threads 2] \\
        [--batch-size 128] [--transforms 5] [--out user-path-run]

Set-up of the reference side (once; PyTorch never becomes a dependency of
the library), as for `bench/throughput.py`, with zuko as well:

    git clone https://github.com/weiyumou/ldu-flow $LDU_FLOW
    python -m venv $TORCH_ENV && $TORCH_ENV/bin/pip install torch numpy zuko

What is timed.  Every run is a fresh process, so first-call costs (tracing,
compiling, initialising) count as a user meets them.  The data are the same
for both sides: `[N, D]` float32 rows of a correlated Gaussian (a fixed
random mixing matrix; N = `--steps` x `--batch-size` training rows, 1,000
validation rows).  The library side does what the README shows (128:
`--batch-size`):

    flow = MAF(D, ...)                   # or LDUFlow, NSF, MixtureLogisticCouplingFlow
    flow.compile(keras.optimizers.Adam(1e-3))                      # mode "default"
    flow.compile(keras.optimizers.Adam(1e-3), jit_compile=False)   # mode "plain"
    flow.compile(keras.optimizers.Adam(1e-3), jit_compile=True)    # mode "xla"
    for chunk in range(steps // chunk_size):             # a notebook's loop
      flow.fit(x, batch_size=128, epochs=1, steps_per_epoch=chunk_size, verbose=0)
      flow.log_prob(x_val).numpy().mean()                # watch the validation

and the reference side (`bench/parity_reference/torch_user_path.py`) the
same loop in PyTorch: the authors' LDU flow for "ldu", zuko's `MAF` / `NSF`
/ `NSF(passes=2)` for "maf" / "nsf" / "nsf-coupling", Adam(1e-3), one
`loss.item()` per step ("flowpp", Flow++'s mixture-of-logistics couplings
for vectors, has no peer).  Architectures (`family_config`): LDU 12 blocks at
D = 8 (the GAS shape) and 8 blocks otherwise, 4 D-scales, K = 4, MADE
256-256; MAF and NSF `--transforms` (5) transforms of 256-256 (MADE, or the
coupling networks), NSF with 8 bins (NSF's GAS shape of issue 22:
`--dims 8 --families nsf --transforms 10 --batch-size 256`); Flow++ 8
couplings of 64-64, K = 4 (its defaults).  Both sides use `--threads` intra-op threads (torch
`set_num_threads`, OMP/MKL_NUM_THREADS; TF intra-op threads; the torch
subprocesses get OMP_WAIT_POLICY=PASSIVE, see `bench/throughput.py`).

Per run: first step s (from the first training call to the end of the
first optimizer step: tracing, compiling and data-dependent
initialisation included), total s (all chunks and validation passes),
steps/s (the chunks after the first, validation excluded), a validation
pass's s, the estimated wall s to `BUDGET_STEPS` = 1,500 steps (first step
+ 1,500 / steps/s: which setting is best depends on the budget, and the
library's default is chosen for runs of this length), and the final
validation log-likelihood (nats; a check that both
sides learn, not a quality comparison: 300 steps).  The table names
the best explicit setting (plain or xla) per row, the default's time over
it (1.00: the default is the best) and reference / default (> 1: the
library is faster).  Runs
alternate library and reference per (D, family), so load on a shared
machine falls on both.  Outputs under `--out`: results.json and the table
(results.md, also printed).
"""
import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
  sys.path.insert(0, str(REPO_ROOT))

import numpy as np  # noqa: E402

TORCH_USER_PATH = REPO_ROOT / "bench" / "parity_reference" / "torch_user_path.py"
DEFAULT_BATCH = 128
NUM_VAL = 1000
FAMILIES = ("ldu", "maf", "nsf", "nsf-coupling", "flowpp")
MODES = ("default", "plain", "xla")
# Families with a PyTorch reference: the authors' LDU flow, zuko's MAF and
# NSF (autoregressive, and with passes=2 the coupling form).  No peer ships
# Flow++'s vector couplings.
REFERENCE = ("ldu", "maf", "nsf", "nsf-coupling")
# The wall time that names the best setting: a first step plus this many
# steps at the steady rate (the budget of issue 23's runs).
BUDGET_STEPS = 1500


def family_config(family, event_size, num_transforms=5):
  """The architecture of `family` at D = `event_size`, shared by both sides.

  `num_transforms` is the number of MAF and NSF transforms (`--transforms`).
  """
  if family == "ldu":
    return dict(event_size=event_size, num_blocks=12 if event_size <= 8 else 8,
                num_d_scales=4, num_mixtures=4, hidden_units=[256, 256])
  if family in ("maf", "nsf", "nsf-coupling"):
    return dict(event_size=event_size, num_blocks=num_transforms, hidden_units=[256, 256],
                num_bins=8)
  if family == "flowpp":
    return dict(event_size=event_size, num_blocks=8, hidden_units=[64, 64], num_mixtures=4)
  raise ValueError(f"user_path: unknown family {family!r}; choose from {FAMILIES}.")


def parse_args(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--torch-python", default=os.environ.get("PARITY_TORCH_PYTHON"),
                      help="python of a torch + zuko environment ($PARITY_TORCH_PYTHON); "
                           "without it only the library side runs")
  parser.add_argument("--reference-dir", default=os.environ.get("PARITY_REFERENCE_DIR"),
                      help="a clone of github.com/weiyumou/ldu-flow ($PARITY_REFERENCE_DIR)")
  parser.add_argument("--dims", default="8,21,43,64,784")
  parser.add_argument("--families", default=",".join(FAMILIES))
  parser.add_argument("--modes", default=",".join(MODES),
                      help="library compile modes: default (compile() as it comes), xla")
  parser.add_argument("--steps", type=int, default=300)
  parser.add_argument("--chunk", type=int, default=50, help="steps per fit call")
  parser.add_argument("--threads", type=int, default=2)
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH, help="rows per step")
  parser.add_argument("--transforms", type=int, default=5,
                      help="MAF and NSF transforms (the other families keep their sizes)")
  parser.add_argument("--out", default="user-path-run")
  parser.add_argument("--library-job", help=argparse.SUPPRESS)  # One library run (internal).
  args = parser.parse_args(argv)
  if args.library_job:
    return args
  args.dims = [int(d) for d in args.dims.split(",")]
  args.families = args.families.split(",")
  args.modes = args.modes.split(",")
  for family in args.families:
    family_config(family, 2)
  for mode in args.modes:
    if mode not in MODES:
      parser.error(f"--modes: unknown mode {mode!r}; choose from {MODES}.")
  if args.steps < 2 * args.chunk or args.steps % args.chunk:
    parser.error("--steps must be a multiple of --chunk, at least two chunks.")
  if args.torch_python and not os.access(args.torch_python, os.X_OK):
    parser.error(f"--torch-python {args.torch_python!r} is not an executable python.")
  return args


def make_data(event_size, steps, seed, batch_size=DEFAULT_BATCH):
  """(train `[steps * batch_size, D]`, val `[1000, D]`) float32 rows of a correlated Gaussian."""
  rng = np.random.default_rng([seed, event_size])
  mixing = rng.normal(size=(event_size, event_size)) / np.sqrt(event_size)
  mixing += np.eye(event_size)
  rows = rng.normal(size=(steps * batch_size + NUM_VAL, event_size)) @ mixing.T
  rows = rows.astype(np.float32)
  return rows[:-NUM_VAL], rows[-NUM_VAL:]


def build_library_flow(family, config):
  from tfp_ldu.flows import LDUFlow, MAF, MixtureLogisticCouplingFlow, NSF
  d, blocks, hidden = config["event_size"], config["num_blocks"], tuple(config["hidden_units"])
  if family == "ldu":
    return LDUFlow(d, num_blocks=blocks, num_d_scales=config["num_d_scales"],
                   num_components=config["num_mixtures"], hidden_units=hidden)
  if family == "maf":
    return MAF(d, num_blocks=blocks, hidden_units=hidden)
  if family == "flowpp":
    return MixtureLogisticCouplingFlow(d, num_couplings=blocks, hidden_units=hidden,
                                       num_components=config["num_mixtures"])
  return NSF(d, num_blocks=blocks, hidden_units=hidden, num_bins=config["num_bins"],
             coupling=family == "nsf-coupling")


def run_library_job(job):
  """The library side of one run, in this (fresh) process; see the module docstring."""
  import keras
  import tensorflow as tf
  tf.config.threading.set_intra_op_parallelism_threads(job["threads"])
  keras.utils.set_random_seed(job["seed"])
  data_dir = pathlib.Path(job["data_dir"])
  train, val = np.load(data_dir / "train.npy"), np.load(data_dir / "val.npy")
  flow = build_library_flow(job["family"], job["config"])
  compile_kwargs = {"xla": {"jit_compile": True}, "plain": {"jit_compile": False},
                    "default": {}}[job["mode"]]
  flow.compile(keras.optimizers.Adam(1e-3), **compile_kwargs)
  first_step = []

  class FirstStep(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
      if not first_step:
        first_step.append(time.perf_counter() - start)

  fit_times, val_times, val_ll = [], [], None
  chunk = job["chunk"]
  start = time.perf_counter()
  for _ in range(job["steps"] // chunk):
    tick = time.perf_counter()
    flow.fit(train, batch_size=job["batch_size"], epochs=1, steps_per_epoch=chunk, verbose=0,
             callbacks=[FirstStep()])
    fit_times.append(time.perf_counter() - tick)
    tick = time.perf_counter()
    val_ll = float(np.mean(flow.log_prob(val)))
    val_times.append(time.perf_counter() - tick)
  total = time.perf_counter() - start
  later = fit_times[1:]
  return dict(first_step_s=first_step[0], total_s=total,
              steps_per_s=chunk * len(later) / sum(later), val_s=float(np.mean(val_times[1:])),
              val_ll=val_ll, jit_compile=bool(flow.jit_compile))


def run_job(command, job, workdir, name, env=None):
  """Runs one job file in a subprocess; its result dict, or None after printing its error."""
  path = workdir / f"{name}.json"
  job = dict(job, result_path=str(workdir / f"{name}.result.json"))
  path.write_text(json.dumps(job))
  completed = subprocess.run([*command, str(path)], capture_output=True, text=True,
                             env=env)
  if completed.returncode != 0:
    print(f"  {name} failed (exit {completed.returncode}):\n{completed.stderr[-2000:]}",
          flush=True)
    return None
  return json.loads(pathlib.Path(job["result_path"]).read_text())


def library_command():
  return [sys.executable, str(pathlib.Path(__file__).resolve()), "--library-job"]


def torch_env(threads):
  env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
  env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
  return env


def budget_s(result):
  """Estimated wall s to `BUDGET_STEPS` steps: the first step, then the steady rate."""
  return result["first_step_s"] + BUDGET_STEPS / result["steps_per_s"]


def _cell(result, key, digits):
  if result is None:
    return "n/a"
  value = budget_s(result) if key == "budget_s" else result[key]
  return f"{value:.{digits}f}"


def best_mode(row):
  """The library mode with the least estimated wall time to `BUDGET_STEPS`, or None."""
  timed = {mode: budget_s(result) for mode, result in row["library"].items()
           if result is not None and mode != "default"}
  return min(timed, key=timed.get) if timed else None


def table(rows, modes):
  """Markdown: one line per (D, family) with each library mode and the reference.

  Per mode: first step s, steps/s after the first call, and the estimated
  wall s to `BUDGET_STEPS` steps (first step + steps / rate); then which
  explicit setting is best at that budget, the default's time over it
  (1.00: the default is the best setting) and reference / default.
  """
  header = ["D", "family"]
  for mode in modes:
    header += [f"{mode}: first step s", f"{mode}: steps/s", f"{mode}: {BUDGET_STEPS} steps s"]
  header += ["reference: first step s", "reference: steps/s",
             f"reference: {BUDGET_STEPS} steps s", "best setting", "default / best",
             "reference / default"]
  lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
  for row in rows:
    cells = [str(row["D"]), row["family"]]
    for mode in modes:
      result = row["library"].get(mode)
      cells += [_cell(result, "first_step_s", 1), _cell(result, "steps_per_s", 1),
                _cell(result, "budget_s", 0)]
    reference, default = row["reference"], row["library"].get("default")
    cells += [_cell(reference, "first_step_s", 2), _cell(reference, "steps_per_s", 1),
              _cell(reference, "budget_s", 0)]
    best = best_mode(row)
    cells.append(best or "n/a")
    cells.append("n/a" if best is None or default is None else
                 f"{budget_s(default) / budget_s(row['library'][best]):.2f}")
    cells.append("n/a" if reference is None or default is None else
                 f"{budget_s(reference) / budget_s(default):.2f}x")
    lines.append("| " + " | ".join(cells) + " |")
  return "\n".join(lines)


def main(argv=None):
  args = parse_args(argv)
  if args.library_job:
    job = json.loads(pathlib.Path(args.library_job).read_text())
    result = run_library_job(job)
    pathlib.Path(job["result_path"]).write_text(json.dumps(result))
    return
  out = pathlib.Path(args.out)
  out.mkdir(parents=True, exist_ok=True)
  print(f"load average before: {os.getloadavg()}", flush=True)
  rows = []
  with tempfile.TemporaryDirectory() as workdir:
    workdir = pathlib.Path(workdir)
    for d in args.dims:
      data_dir = workdir / f"data{d}"
      data_dir.mkdir()
      train, val = make_data(d, args.steps, args.seed, args.batch_size)
      np.save(data_dir / "train.npy", train)
      np.save(data_dir / "val.npy", val)
      for family in args.families:
        job = dict(family=family, config=family_config(family, d, args.transforms),
                   data_dir=str(data_dir), batch_size=args.batch_size, chunk=args.chunk,
                   steps=args.steps, seed=args.seed, threads=args.threads,
                   reference_dir=args.reference_dir)
        row = dict(D=d, family=family, library={}, reference=None)
        for mode in args.modes:
          row["library"][mode] = run_job(library_command(), dict(job, mode=mode), workdir,
                                         f"library_{family}_{d}_{mode}")
        if args.torch_python and family in REFERENCE and (family != "ldu" or args.reference_dir):
          row["reference"] = run_job([args.torch_python, str(TORCH_USER_PATH)], job,
                                     workdir, f"reference_{family}_{d}",
                                     env=torch_env(args.threads))
        rows.append(row)
        print(json.dumps(row), flush=True)
  markdown = table(rows, args.modes)
  print(f"load average after: {os.getloadavg()}\n\n{markdown}")
  (out / "results.json").write_text(json.dumps(dict(settings=vars(args), rows=rows), indent=1))
  (out / "results.md").write_text(markdown + "\n")


if __name__ == "__main__":
  main()
