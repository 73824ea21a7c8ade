"""Parity harness: the library's flows against the authors' LDU code and zuko, on real data.

    python bench/parity.py --torch-python $TORCH_ENV/bin/python \\
        --reference-dir $LDU_FLOW --out parity-run \\
        [--datasets digits,breast_cancer,wine,gmm8] [--variants reference,library,...] \\
        [--seeds 0,1] [--steps 2000] [--eval-every 100] [--num-blocks 4] \\
        [--hidden-units 64,64] [--num-transforms 5] [--num-bins 8] [--spline-bound 3] \\
        [--parallel]

Set-up (once; PyTorch never becomes a dependency of the library).  Here
$TORCH_ENV is a folder for the PyTorch virtual environment and $LDU_FLOW one
for the authors' code, both anywhere outside this repository:

1. The authors' code, outside this repository (it is imported from there at
   run time, never copied here):
       git clone https://github.com/weiyumou/ldu-flow $LDU_FLOW
   `--reference-dir` (or $PARITY_REFERENCE_DIR) must hold project/models/ldu.py.
   Only its models are used (they need torch alone, not pytorch-lightning).
2. A separate PyTorch interpreter:
       python -m venv $TORCH_ENV
       $TORCH_ENV/bin/pip install torch numpy scikit-learn zuko
   `--torch-python` (or $PARITY_TORCH_PYTHON) names its python (zuko is
   needed only for the zuko variants, the checkout only for the authors' LDU).

What is compared.  For every data set (`bench/parity_reference/datasets.py`:
sklearn digits 64-D dequantised, breast cancer 30-D, wine 13-D, and an 8-D
Gaussian mixture with known density) and every seed, each variant
(`bench/parity_reference/variants.py`) trains the same architecture (LDU
blocks, D-scales per block, K, MADE hidden sizes, dropout) with Adam at the
same learning rate, in float32, on the same standardised arrays, following
the same batch order (`batch_order`: numpy per-epoch permutations written to
order.npy and read by both sides), for the same number of steps; both
evaluate the mean validation log-likelihood every `--eval-every` steps and
report the test log-likelihood (mean +- 2 SE over test points) of the weights
that were best on validation.  Reference variants run
`bench/parity_reference/torch_runner.py` in a subprocess under
`--torch-python`; data pass through .npy files in a temporary directory.
Library variants run in this process.

Other flows, side by side with zuko (issue 22): "zuko_maf" and "zuko_nsf"
train zuko's MAF and NSF in the same PyTorch runner and loop (built by
`bench/sbi_reference/torch_runner.build_flow`, unconditional), and
"library_maf", "library_nsf", "library_nsf_coupling" and "library_realnvp"
the library's `MAF`, `NSF`, `NSF(coupling=True)` and `RealNVP` with their
own defaults here; all have `--num-transforms` transforms of
`--hidden-units` (MADEs for MAF / NSF, gated residual MLPs for the
couplings), splines of `--num-bins` bins on [-B, B] with B =
`--spline-bound` on both sides (default 3, the library's default and the NSF
paper's; zuko's own default is 5), and the same data, batch order, budget
and evaluation as the LDUs.  Each variant's verdict is taken against its
counterpart (`Variant.counterpart`: the authors' LDU, or zuko's MAF / NSF),
and the best library flow is compared with the best zuko flow per data set.

`--parallel` runs the reference jobs in the background while the library
jobs run here (use with `--threads 1`).  The "library_transplant" variant
first has the reference export its initial weights for the same seed,
checks that the MADE masks match and prints the largest |log p| difference
at initialisation (forward parity), then trains the library from those
weights: its curves should track the reference's.

Outputs under `--out`: progress.log (a line per evaluation of every run, to
follow a long run), results.json (settings, every run with its curves,
per-variant summary, verdicts), results.csv (one row per run) and
curves_<dataset>.png (validation and training-batch log-likelihood of each
library variant over the reference's).  The table is also printed.
"""
import concurrent.futures
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

from bench.parity_reference.cli import reference_parser  # noqa: E402
from bench.parity_reference.datasets import DATASETS  # noqa: E402
from bench.parity_reference.datasets import batch_order  # noqa: E402
from bench.parity_reference.datasets import effective_batch_size  # noqa: E402
from bench.parity_reference.datasets import load_dataset  # noqa: E402
from bench.parity_reference.variants import DEFAULT_VARIANTS  # noqa: E402
from bench.parity_reference.variants import VARIANTS  # noqa: E402
from bench.parity_reference.variants import get_variant  # noqa: E402

TORCH_RUNNER = REPO_ROOT / "bench" / "parity_reference" / "torch_runner.py"


def _int_list(text):
  return [int(part) for part in text.split(",") if part]


def _name_list(text):
  return [part for part in text.split(",") if part]


def parse_args(argv=None):
  parser = reference_parser(__doc__.split("\n")[0])
  parser.add_argument("--out", default="/tmp/tfp_ldu_parity", help="output directory")
  parser.add_argument("--datasets", type=_name_list, default=list(DATASETS),
                      help=f"comma list from {sorted(DATASETS)}")
  parser.add_argument("--variants", type=_name_list, default=list(DEFAULT_VARIANTS),
                      help=f"comma list from {sorted(VARIANTS)}")
  parser.add_argument("--seeds", type=_int_list, default=[0], help="model seeds, e.g. 0,1")
  parser.add_argument("--data-seed", type=int, default=0, help="split/dequantisation seed")
  parser.add_argument("--steps", type=int, default=2000)
  parser.add_argument("--eval-every", type=int, default=100)
  parser.add_argument("--batch-size", type=int, default=128,
                      help="capped at half of a data set's training split")
  parser.add_argument("--learning-rate", type=float, default=1e-3)
  parser.add_argument("--num-blocks", type=int, default=4)
  parser.add_argument("--num-d-scales", type=int, default=4)
  parser.add_argument("--num-mixtures", type=int, default=4)
  parser.add_argument("--hidden-units", type=_int_list, default=[64, 64])
  parser.add_argument("--num-transforms", type=int, default=5,
                      help="MAF / NSF / RealNVP transforms (zuko's and the library's)")
  parser.add_argument("--num-bins", type=int, default=8, help="NSF spline bins")
  parser.add_argument("--spline-bound", type=float, default=3.0,
                      help="NSF splines on [-B, B], both sides (library default 3; zuko's 5)")
  parser.add_argument("--dropout", type=float, default=0.0)
  parser.add_argument("--threads", type=int, default=1,
                      help="intra-op threads of each framework (default 1)")
  parser.add_argument("--parallel", action="store_true",
                      help="run reference jobs concurrently with the library jobs")
  parser.add_argument("--jit-compile", action="store_true", help="XLA for the library")
  args = parser.parse_args(argv)
  for name in args.variants:
    get_variant(name)
  for name in args.datasets:
    if name not in DATASETS:
      parser.error(f"unknown data set {name!r}; expected one of {sorted(DATASETS)}")
  authors = any((VARIANTS[v].side == "reference" and VARIANTS[v].model == "ldu")
                or VARIANTS[v].made_init == "transplant" for v in args.variants)
  if authors or any(VARIANTS[v].side == "reference" for v in args.variants):
    _check_reference_setup(parser, args, authors)
  return args


def _check_reference_setup(parser, args, authors=True):
  """The PyTorch interpreter, and the authors' checkout if `authors` (their LDU) runs."""
  if not args.torch_python or not os.access(args.torch_python, os.X_OK):
    parser.error(f"--torch-python {args.torch_python!r} is not an executable python; "
                 "create one with `python -m venv $TORCH_ENV && $TORCH_ENV/bin/pip "
                 "install torch numpy scikit-learn` (and zuko for the zuko variants; see "
                 "this file's docstring).")
  ldu = pathlib.Path(args.reference_dir or "") / "project" / "models" / "ldu.py"
  if authors and (not args.reference_dir or not ldu.is_file()):
    parser.error(f"--reference-dir {args.reference_dir!r} does not hold "
                 "project/models/ldu.py; clone https://github.com/weiyumou/ldu-flow "
                 "outside the repository and pass its path.")


def model_config(args):
  """The architecture and optimiser settings shared by every variant."""
  return dict(num_blocks=args.num_blocks, num_d_scales=args.num_d_scales,
              num_mixtures=args.num_mixtures, hidden_units=list(args.hidden_units),
              dropout=args.dropout, learning_rate=args.learning_rate,
              eval_every=args.eval_every, num_transforms=args.num_transforms,
              num_bins=args.num_bins, spline_bound=args.spline_bound)


def write_data_dir(directory, data, order):
  """train/val/test/order .npy files read by the reference runner."""
  directory.mkdir(parents=True, exist_ok=True)
  for split in ("train", "val", "test"):
    np.save(directory / f"{split}.npy", getattr(data, split))
  np.save(directory / "order.npy", order)


def run_reference(args, job, job_dir, name):
  """Runs `torch_runner.py` on `job`; returns its result (train) or weights path (export)."""
  job_path = job_dir / f"{name}.json"
  job_path.write_text(json.dumps(job))
  env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
  completed = subprocess.run([args.torch_python, str(TORCH_RUNNER), str(job_path)],
                             capture_output=True, text=True, env=env)
  if completed.returncode != 0:
    raise RuntimeError(f"reference job {name} failed (exit {completed.returncode}):\n"
                       f"{completed.stderr[-3000:]}")
  if job["mode"] == "export":
    return dict(np.load(job["weights_path"]))
  return json.loads(pathlib.Path(job["result_path"]).read_text())


def _reference_job(args, data_dir, job_dir, name, mode, seed, variant, epsilon):
  config = dict(model_config(args), adam_epsilon=epsilon, label=f"{variant.name} s{seed}")
  reference_dir = args.reference_dir and str(pathlib.Path(args.reference_dir).resolve())
  return dict(mode=mode, model=variant.model, reference_dir=reference_dir,
              progress_path=str(pathlib.Path(args.out).resolve() / "progress.log"),
              data_dir=str(data_dir), result_path=str(job_dir / f"{name}.result.json"),
              weights_path=str(job_dir / f"{name}.weights.npz"), seed=seed,
              threads=args.threads, made_init=variant.made_init, config=config)


def run_dataset(args, name, workdir, pool, train_library):
  """Every (seed, variant) run of one data set; returns (records, truth or None)."""
  data = load_dataset(name, args.data_seed)
  batch = effective_batch_size(args.batch_size, len(data.train))
  print(f"\n== {name}: {data.description}; train/val/test {len(data.train)}/"
        f"{len(data.val)}/{len(data.test)}, batch {batch}", flush=True)
  config = model_config(args)
  pending, records = [], []
  for seed in args.seeds:
    order = batch_order(len(data.train), batch, args.steps, seed=[args.data_seed, seed])
    data_dir = workdir / f"{name}_s{seed}"
    write_data_dir(data_dir, data, order)
    for variant_name in args.variants:
      variant = get_variant(variant_name)
      tag = dict(dataset=name, variant=variant_name, seed=seed, batch_size=batch)
      if variant.side == "reference":
        job = _reference_job(args, data_dir, workdir, f"{name}_s{seed}_{variant_name}", "train",
                             seed, variant, variant.adam_epsilon)
        future = pool.submit(run_reference, args, job, workdir, f"{name}_s{seed}_{variant_name}")
        pending.append((tag, future))
        if not args.parallel:
          records.append(_finish(tag, future.result()))
          pending.pop()
        continue
      reference_weights = None
      if variant.made_init == "transplant":
        export = _reference_job(args, data_dir, workdir, f"{name}_s{seed}_export", "export",
                                seed, get_variant("reference"), variant.adam_epsilon)
        reference_weights = run_reference(args, export, workdir, f"{name}_s{seed}_export")
        reference_weights["validation_points"] = data.val
      result = train_library(data, order, config, variant, seed,
                             reference_weights=reference_weights, jit_compile=args.jit_compile,
                             progress_path=pathlib.Path(args.out) / "progress.log")
      records.append(_finish(tag, result))
  for tag, future in pending:
    records.append(_finish(tag, future.result()))
  truth = None
  if data.true_test_log_prob is not None:
    t = data.true_test_log_prob
    truth = (float(t.mean()), float(t.std(ddof=1) / np.sqrt(len(t))))
  return records, truth


def _finish(tag, result):
  record = dict(tag, **result)
  parity = record.get("forward_parity")
  print(f"  {record['variant']:<22} seed {record['seed']}: best val {record['best_val_ll']:.3f} "
        f"@ {record['best_step']}, test {record['test_ll']:.3f} +- {2 * record['test_se']:.3f}, "
        f"{record['wall_time_s']:.0f} s"
        + (f", diverged at step {record['diverged_at']}" if record.get("diverged_at") else "")
        + (f", forward parity {parity:.2e}" if parity is not None else ""), flush=True)
  return record


def main(argv=None):
  args = parse_args(argv)
  import tensorflow as tf
  tf.config.threading.set_intra_op_parallelism_threads(args.threads)
  tf.config.threading.set_inter_op_parallelism_threads(args.threads)
  from bench.parity_reference.library_runner import train_library
  from bench.parity_reference.report import format_table, plot_curves, summarise, write_outputs

  settings = dict(vars(args), model=model_config(args), command=" ".join(sys.argv))
  print(f"parity: {settings['model']}, steps {args.steps}, seeds {args.seeds}, "
        f"variants {args.variants}, threads {args.threads}, load {os.getloadavg()[0]:.2f}")
  start = time.perf_counter()
  records, truths = [], {}
  out = pathlib.Path(args.out)
  out.mkdir(parents=True, exist_ok=True)
  with tempfile.TemporaryDirectory(prefix="parity_") as tmp, \
      concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
    for name in args.datasets:
      dataset_records, truth = run_dataset(args, name, pathlib.Path(tmp), pool, train_library)
      records.extend(dataset_records)
      if truth is not None:
        truths[name] = truth
      summary = summarise(records)
      write_outputs(out, records, summary, settings, truths)
      plot_curves(out, name, dataset_records, truth[0] if truth else None)
  summary = summarise(records)
  print()
  print(format_table(records, summary, truths))
  print(f"\ntotal wall time {time.perf_counter() - start:.0f} s; outputs in {out}/")


if __name__ == "__main__":
  main()
