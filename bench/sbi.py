"""Amortised posterior estimation (NPE): the library's conditional flows beside zuko's.

    python bench/sbi.py --torch-python $TORCH_ENV/bin/python --out sbi-run \\
        [--tasks gaussian_linear,two_moons] [--models maf,nsf,ldu,zuko_maf,zuko_nsf] \\
        [--seeds 0,1] [--num-simulations 10000] [--epochs 200] [--patience 20] \\
        [--num-observations 5] [--num-samples 1000]

Set-up (once; PyTorch never becomes a dependency of the library).  $TORCH_ENV is
a folder for a separate PyTorch virtual environment outside this repository:

    python -m venv $TORCH_ENV
    $TORCH_ENV/bin/pip install torch --index-url https://download.pytorch.org/whl/cpu
    $TORCH_ENV/bin/pip install zuko numpy scikit-learn

(`$TORCH_ENV/bin/pip install torch zuko numpy scikit-learn` from the default
index works too; the CPU wheel is much smaller.)  `--torch-python` (or
$SBI_TORCH_PYTHON) names its python; it is needed only for the zuko models.
Run the library side from the repository root (`PYTHONPATH=. python
bench/sbi.py ...` for a checkout that is not pip-installed).

What is compared.  For every task (`bench/sbi_reference/tasks.py`:
`gaussian_linear`, 10-D, and `two_moons`, 2-D, both with exact reference
posteriors) and every seed, N simulations (theta, x) are drawn from the prior
and the simulator; the last 10 % are the validation split.  theta is z-scored
with the training split's mean and standard deviation (as sbi does) for every
model; the contexts x are z-scored with the training statistics too: inside
the model on the library side, in `torch_runner.py` on the zuko side.  Each
model q(theta | x) (library `MAF`, `NSF`, `LDUFlow` in this process; zuko's
`MAF` and `NSF` in `bench/sbi_reference/torch_runner.py` under
`--torch-python`, data passed as .npy files) trains with Adam at the same
learning rate and batch size, for at most `--epochs` epochs, stopping after
`--patience` epochs without a better validation loss, and keeps the weights
of its best validation epoch.  Sizes: `--num-transforms` MADE transforms of
`--hidden-units` for MAF and NSF on both sides (NSF: `--num-bins` bins on
[-`--spline-bound`, `--spline-bound`], zuko's defaults); LDU: `--ldu-blocks`
blocks with `--ldu-d-scales` D-scales and the same hidden units.

Metrics, at `--num-observations` held-out observations x_o (fixed seed, the
same for every seed and model): C2ST accuracy of `--num-samples` posterior
samples against as many exact reference samples (sbibm's classifier, 0.5 is
perfect), log q(theta_true | x_o) in nats of the original theta, training
wall time and the time to draw `--num-samples` samples for one observation
(after a warm-up draw).  Tables report mean +- 2 SE over observations and
seeds (times: over seeds).  Every process runs `--threads` threads (default
1) and only one benchmark process runs at a time.

Outputs under `--out`: progress.log (a line every 10 epochs of every run and
one per finished run), results.json (settings, every run, summary, table),
results.csv (a row per run); the markdown table is printed at the end.
"""
import argparse
import json
import math
import os
import pathlib
import subprocess
import sys
import tempfile
import time

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
  os.environ.setdefault(_variable, "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
  sys.path.insert(0, str(REPO_ROOT))

import numpy as np  # noqa: E402

from bench.sbi_reference.report import c2st  # noqa: E402
from bench.sbi_reference.report import format_table  # noqa: E402
from bench.sbi_reference.report import summarise  # noqa: E402
from bench.sbi_reference.report import write_outputs  # noqa: E402
from bench.sbi_reference.tasks import TASKS  # noqa: E402
from bench.sbi_reference.tasks import get_task  # noqa: E402
from bench.sbi_reference.tasks import observations  # noqa: E402
from bench.sbi_reference.tasks import reference_samples  # noqa: E402
from bench.sbi_reference.tasks import simulate_dataset  # noqa: E402

TORCH_RUNNER = REPO_ROOT / "bench" / "sbi_reference" / "torch_runner.py"
LIBRARY_MODELS = ("maf", "nsf", "ldu")
TORCH_MODELS = ("zuko_maf", "zuko_nsf")
MODELS = LIBRARY_MODELS + TORCH_MODELS
VALIDATION_FRACTION = 0.1
ARRAY_NAMES = ("train_theta", "train_x", "val_theta", "val_x", "obs_x", "obs_theta")
RUN_FIELDS = ("train_time_s", "first_epoch_s", "sample_time_s", "epochs_run", "best_epoch",
              "best_val_loss")  # Copied from a runner's result into the record.


def _int_list(text):
  return [int(part) for part in text.split(",") if part]


def _name_list(text):
  return [part for part in text.split(",") if part]


def parse_args(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--torch-python", default=os.environ.get("SBI_TORCH_PYTHON"),
                      help="python of a torch + zuko environment ($SBI_TORCH_PYTHON)")
  parser.add_argument("--out", default="/tmp/tfp_ldu_sbi", help="output directory")
  parser.add_argument("--tasks", type=_name_list, default=list(TASKS),
                      help=f"comma list from {sorted(TASKS)}")
  parser.add_argument("--models", type=_name_list, default=list(MODELS),
                      help=f"comma list from {list(MODELS)}")
  parser.add_argument("--seeds", type=_int_list, default=[0], help="e.g. 0,1")
  parser.add_argument("--num-simulations", type=int, default=10000)
  parser.add_argument("--num-observations", type=int, default=5)
  parser.add_argument("--num-samples", type=int, default=1000,
                      help="posterior samples per observation (C2ST, each side; timing)")
  parser.add_argument("--epochs", type=int, default=200, help="at most this many epochs")
  parser.add_argument("--patience", type=int, default=20,
                      help="stop after this many epochs without a better validation loss "
                           "(0: never)")
  parser.add_argument("--batch-size", type=int, default=256)
  parser.add_argument("--learning-rate", type=float, default=1e-3)
  parser.add_argument("--num-transforms", type=int, default=5, help="MAF / NSF transforms")
  parser.add_argument("--hidden-units", type=_int_list, default=[64, 64])
  parser.add_argument("--num-bins", type=int, default=8, help="NSF bins")
  parser.add_argument("--spline-bound", type=float, default=5.0,
                      help="library NSF spline bound (zuko's is 5)")
  parser.add_argument("--ldu-blocks", type=int, default=4)
  parser.add_argument("--ldu-d-scales", type=int, default=2)
  parser.add_argument("--threads", type=int, default=1, help="threads of every process")
  args = parser.parse_args(argv)
  for name in args.tasks:
    if name not in TASKS:
      parser.error(f"unknown task {name!r}; expected one of {sorted(TASKS)}")
  for name in args.models:
    if name not in MODELS:
      parser.error(f"unknown model {name!r}; expected one of {list(MODELS)}")
  if any(m in TORCH_MODELS for m in args.models) and not (
      args.torch_python and os.access(args.torch_python, os.X_OK)):
    parser.error(f"--torch-python {args.torch_python!r} is not an executable python; "
                 "create one with `python -m venv $TORCH_ENV && $TORCH_ENV/bin/pip install "
                 "torch zuko numpy scikit-learn` (see this file's docstring), or leave out "
                 f"the models {list(TORCH_MODELS)}.")
  return args


def model_config(args):
  """The architecture, optimiser and evaluation settings shared by both sides."""
  return dict(num_transforms=args.num_transforms, hidden_units=list(args.hidden_units),
              num_bins=args.num_bins, spline_bound=args.spline_bound,
              ldu_blocks=args.ldu_blocks, ldu_d_scales=args.ldu_d_scales,
              batch_size=args.batch_size, epochs=args.epochs, patience=args.patience,
              learning_rate=args.learning_rate, num_samples=args.num_samples)


def prepare_data(task, num_simulations, seed, obs_theta, obs_x):
  """The arrays both sides train and evaluate on, and theta's standardisation.

  Returns:
    (arrays, mean, std): `arrays` has `train_theta` `[N_train, D]`,
    `train_x` `[N_train, C]`, `val_theta`, `val_x`, `obs_theta` `[O, D]`
    (theta z-scored by the training split's `mean`, `std` `[D]`) and
    `obs_x` `[O, C]` (raw), all float32.
  """
  theta, x = simulate_dataset(task, num_simulations, seed)
  num_train = num_simulations - int(round(VALIDATION_FRACTION * num_simulations))
  mean, std = theta[:num_train].mean(axis=0), theta[:num_train].std(axis=0)

  def scale(t):
    return ((t - mean) / std).astype(np.float32)

  arrays = dict(train_theta=scale(theta[:num_train]), train_x=x[:num_train],
                val_theta=scale(theta[num_train:]), val_x=x[num_train:],
                obs_theta=scale(obs_theta), obs_x=obs_x)
  return arrays, mean, std


def run_torch(args, model, seed, data_dir, label):
  """Runs `torch_runner.py` for one zuko model; returns the same dict as `train_library`."""
  job = dict(model=model, seed=seed, threads=args.threads, data_dir=str(data_dir),
             result_path=str(data_dir / f"{model}.json"),
             samples_path=str(data_dir / f"{model}_samples.npy"),
             progress_path=str(pathlib.Path(args.out).resolve() / "progress.log"),
             label=label, config=model_config(args))
  job_path = data_dir / f"{model}.job.json"
  job_path.write_text(json.dumps(job))
  threads = str(args.threads)
  env = dict(os.environ, OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads,
             OPENBLAS_NUM_THREADS=threads, OMP_WAIT_POLICY="PASSIVE")
  completed = subprocess.run([args.torch_python, str(TORCH_RUNNER), str(job_path)],
                             capture_output=True, text=True, env=env)
  if completed.returncode != 0:
    raise RuntimeError(f"zuko job {label} failed (exit {completed.returncode}):\n"
                       f"{completed.stderr[-3000:]}")
  result = json.loads(pathlib.Path(job["result_path"]).read_text())
  result["samples"] = np.load(job["samples_path"])
  result["log_q_true"] = np.asarray(result["log_q_true"])
  return result


def score(result, reference, mean, std):
  """Per-observation C2ST and log q(theta_true | x_o) in the original theta coordinates.

  Args:
    result: a runner's dict (`samples` `[O, n, D]` and `log_q_true` `[O]`,
      both in standardised theta).
    reference: `[O, m, D]` exact posterior samples.
    mean, std: `[D]`, theta's standardisation.
  """
  samples = result["samples"] * std + mean
  finite = np.all(np.isfinite(samples), axis=2)
  accuracies = [c2st(ref, s[ok]) if ok.sum() > 10 else math.nan
                for ref, s, ok in zip(reference, samples, finite)]
  log_q = result["log_q_true"] - np.sum(np.log(std))
  return dict(c2st=accuracies, log_q_true=[float(v) for v in log_q],
              nonfinite_samples=int((~finite).sum()))


def run_one(args, task, model, seed, arrays, data_dir, reference, mean, std):
  """Trains, samples and scores one (task, model, seed); a failure becomes a NaN record."""
  from bench.sbi_reference.library_runner import train_library
  label = f"{task.name} {model} s{seed}"
  record = dict(task=task.name, model=model, seed=seed)
  try:
    if model in TORCH_MODELS:
      result = run_torch(args, model, seed, data_dir, label)
    else:
      result = train_library(model, arrays, model_config(args), seed,
                             progress_path=pathlib.Path(args.out) / "progress.log", label=label)
    record.update(score(result, reference, mean, std))
    record.update({k: result[k] for k in RUN_FIELDS})
  except (RuntimeError, ValueError, FloatingPointError) as error:
    nan_list = [math.nan] * len(reference)
    record.update({k: math.nan for k in RUN_FIELDS})
    record.update(c2st=nan_list, log_q_true=nan_list,
                  error=f"{type(error).__name__}: {error}"[:2000])
  line = (f"{label}: C2ST {np.mean(record['c2st']):.3f}, log q(theta_true) "
          f"{np.mean(record['log_q_true']):.2f}, train {record['train_time_s']:.1f} s "
          f"({record['epochs_run']} epochs, best {record['best_epoch']}), sample "
          f"{record['sample_time_s']:.3f} s" + (f", ERROR {record['error'][:200]}"
                                                if record.get("error") else ""))
  print(line, flush=True)
  with open(pathlib.Path(args.out) / "progress.log", "a") as handle:
    handle.write(line + "\n")
  return record


def main(argv=None):
  args = parse_args(argv)
  import tensorflow as tf
  try:
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
  except RuntimeError:  # TensorFlow already ran in this process (e.g. under pytest).
    print(f"--threads {args.threads}: TensorFlow is initialised already; its thread "
          f"counts are kept.")
  out = pathlib.Path(args.out)
  out.mkdir(parents=True, exist_ok=True)
  command = " ".join(["bench/sbi.py", *(sys.argv[1:] if argv is None else argv)])
  settings = dict(vars(args), model=model_config(args), command=command)
  print(f"sbi: tasks {args.tasks}, models {args.models}, seeds {args.seeds}, N "
        f"{args.num_simulations}, {args.num_observations} observations, config "
        f"{settings['model']}, load {os.getloadavg()[0]:.2f}", flush=True)
  start = time.perf_counter()
  records = []
  held_out = {}  # task -> (theta_true [O, D], x_o [O, C], reference [O, n, D])
  for task_name in args.tasks:
    obs_theta, obs_x = observations(get_task(task_name), args.num_observations)
    reference = reference_samples(get_task(task_name), obs_x, args.num_samples)
    held_out[task_name] = (obs_theta, obs_x, reference)
  with tempfile.TemporaryDirectory(prefix="sbi_") as tmp:
    for seed in args.seeds:  # Seed-major: a cut-short run has every task.
      for task_name in args.tasks:
        task = get_task(task_name)
        obs_theta, obs_x, reference = held_out[task_name]
        arrays, mean, std = prepare_data(task, args.num_simulations, seed, obs_theta, obs_x)
        data_dir = pathlib.Path(tmp) / f"{task_name}_s{seed}"
        data_dir.mkdir()
        for name in ARRAY_NAMES:
          np.save(data_dir / f"{name}.npy", arrays[name])
        for model in args.models:
          records.append(run_one(args, task, model, seed, arrays, data_dir, reference,
                                 mean, std))
          write_outputs(out, records, settings)
  print()
  print(format_table(summarise(records)))
  print(f"\ntotal wall time {time.perf_counter() - start:.0f} s; outputs in {out}/")
  return records


if __name__ == "__main__":
  main()
