"""LDU-flow throughput of the library next to the authors' PyTorch code, measured in one run.

    python bench/throughput.py --torch-python $TORCH_ENV/bin/python \\
        --reference-dir $LDU_FLOW [--threads 2] [--quick] [--unrolled-blocks]

Set-up of the reference side (once; PyTorch never becomes a dependency of
the library), exactly as for `bench/parity.py` ($TORCH_ENV and $LDU_FLOW are
folders of your choice outside this repository):

1. The authors' code, outside this repository (imported from there at run
   time, never copied here):
       git clone https://github.com/weiyumou/ldu-flow $LDU_FLOW
   `--reference-dir` (or $PARITY_REFERENCE_DIR) must hold project/models/ldu.py.
2. A separate PyTorch interpreter:
       python -m venv $TORCH_ENV && $TORCH_ENV/bin/pip install torch numpy
   `--torch-python` (or $PARITY_TORCH_PYTHON) names its python.

The reference side runs `bench/parity_reference/torch_throughput.py` in
subprocesses under that interpreter (the model is `torch_runner.build_model`'s,
as in the parity harness), interleaved with the library's measurements of
the same quantity.  Both use `--threads` intra-op threads
(`torch.set_num_threads`, OMP/MKL_NUM_THREADS; TF intra- and inter-op
threads).  The torch subprocesses get OMP_WAIT_POLICY=PASSIVE unless the
environment sets it: with torch's default (spinning) OpenMP barriers, 2
threads on 2 cores that another process also uses ran 10-30x slower than 1
thread (seconds per training step), which would measure the machine, not
the code.  All data are standard-normal, float32 unless stated.

Measured (rates are best-effort wall clock on a possibly shared machine; the
load average is printed before and after):

* training steps/s, batch 128, for the GAS shape (D=8, 12 LDU blocks, 4
  D-scales, K=4, MADE 256-256) and a 64-D shape (D=64, 8 blocks, otherwise
  the same), fresh models on both sides.  Library: `model.fit` over a
  fixed-shape `tf.data` pipeline, as a user calls it, compiled with
  `jit_compile=False` and `True`: the first `fit` of one step (trace,
  compile, actnorm initialisation, one step) is timed as "first step", then
  a warm-up `fit`, then `--train-steps` timed steps in one `fit`.
  Reference: its own Adam loop as in `torch_runner.train` (first step timed
  alone, then warm-up, then the timed steps).
* log_prob points/s, batch 10,000, GAS shape: the library's public
  `model.log_prob(x)` called eagerly (it runs a cached `tf.function`), and a
  `tf.function(model.log_prob, jit_compile=True)`; the reference's
  `model(x)` in eval mode under `torch.no_grad()`.
* sampling points/s, n=1000, GAS shape: the library's `model.sample(1000)`
  called eagerly, float32 and a float64 copy with the same weights (default
  Newton solver and tolerances, 1e-5 / 1e-10); the reference's own
  `model.sample(1000)` (float64 only: batches of 128, rtol 1e-10, atol
  1e-16, max_iter 100) and, for float32, the same loop on the float32 model
  with `inv_transform`'s defaults (rtol 1e-5, atol 1e-8, max_iter 100).
  Both report max |T(x) - z| of their samples and the largest iteration
  count of any numeric inverse; the reference also how many solves stopped
  at max_iter (its loop stops there silently, unconverged).  A "floor" row
  gives the float32 residual of the float64 solution rounded to float32:
  no float32 sampler can do much better on the same weights, since rounding
  x moves T(x) by |dT/dx| times half an ulp of x.

Weights for log_prob and sampling are identical on both sides.  A fresh flow's
D-scales are the identity (r = tanh(0) = 0), which would make sampling
trivially fast, so they are made "trained-like" on the reference side with
the distributions of `tfp_ldu.testing.randomise_d_scale`: raw residual scale
~ U(-2, 2) (|r| up to 0.96), mixture logits and output shift ~ N(0, 1), the
input scales/shifts keeping the authors' U(-3, 3) initialisation; the
reference's actnorm initialises itself on a 1024-point batch.  Every MADE,
D-scale and actnorm weight is then copied into the library's flow
(`candidate_defaults.transplant_reference_weights`, which checks that the
MADE masks agree), and the largest |log p| difference on 256 points is
printed as a check.  Timings exclude the one-off warm-up calls except the
"first step" rows.  Ratios are library / reference for rates and reference
/ library for times: > 1 means the library is faster.  A reference job that
fails prints its error and leaves "n/a" in its cells (the library's GAS flow
then gets its D-scales from `randomise_d_scale`); nothing is filled in from
earlier runs.  `--quick` (5 timed training steps, one timed call of the
rest) is a smoke test, not a measurement.  A full run takes ~10-15 minutes
on 2 cores, most of it the library's XLA compilation of the training steps.
"""
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

TORCH_THROUGHPUT = REPO_ROOT / "bench" / "parity_reference" / "torch_throughput.py"
TRAIN_BATCH = 128
LOG_PROB_BATCH = 10_000
SHAPES = {
    "GAS": dict(event_size=8, num_blocks=12, num_d_scales=4, num_mixtures=4,
                hidden_units=[256, 256]),
    "64-D": dict(event_size=64, num_blocks=8, num_d_scales=4, num_mixtures=4,
                 hidden_units=[256, 256]),
}


def parse_args(argv=None):
  parser = reference_parser(__doc__.split("\n")[0])
  parser.add_argument("--threads", type=int, default=2,
                      help="intra-op threads of each framework (default 2)")
  parser.add_argument("--quick", action="store_true",
                      help="smoke test: 5 training steps, 1 log_prob batch, 1 sampling call")
  parser.add_argument("--train-steps", type=int, default=100,
                      help="timed training steps per mode (default 100)")
  parser.add_argument("--warmup-steps", type=int, default=5,
                      help="untimed steps after the first (default 5)")
  parser.add_argument("--log-prob-reps", type=int, default=5,
                      help="timed 10,000-point log_prob calls (default 5)")
  parser.add_argument("--num-samples", type=int, default=1000)
  parser.add_argument("--sample-reps", type=int, default=3,
                      help="timed sampling calls (default 3)")
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--unrolled-blocks", action="store_true",
                      help="time LDUFlow(stacked_blocks=False), one layer per block, "
                           "instead of the default stacked blocks run as one tf.while_loop")
  args = parser.parse_args(argv)
  if not args.torch_python or not os.access(args.torch_python, os.X_OK):
    parser.error(f"--torch-python {args.torch_python!r} is not an executable python; "
                 "see this file's docstring for the set-up.")
  if not args.reference_dir or not (pathlib.Path(args.reference_dir) / "project" / "models"
                                    / "ldu.py").is_file():
    parser.error(f"--reference-dir {args.reference_dir!r} does not hold "
                 "project/models/ldu.py; clone https://github.com/weiyumou/ldu-flow.")
  if args.quick:
    args.train_steps, args.warmup_steps = 5, 1
    args.log_prob_reps, args.sample_reps = 1, 1
  return args


class Reference:
  """Runs `torch_throughput.py` jobs in subprocesses under --torch-python."""

  def __init__(self, args, workdir):
    self.args, self.workdir, self.count = args, workdir, 0

  def run(self, **job):
    self.count += 1
    name = f"job{self.count}"
    job = dict(job, reference_dir=str(pathlib.Path(self.args.reference_dir).resolve()),
               result_path=str(self.workdir / f"{name}.result.json"),
               seed=self.args.seed, threads=self.args.threads)
    path = self.workdir / f"{name}.json"
    path.write_text(json.dumps(job))
    env = dict(os.environ, OMP_NUM_THREADS=str(self.args.threads),
               MKL_NUM_THREADS=str(self.args.threads))
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    completed = subprocess.run([self.args.torch_python, str(TORCH_THROUGHPUT), str(path)],
                               capture_output=True, text=True, env=env)
    if completed.returncode != 0:
      print(f"  reference {job['kind']} job failed (exit {completed.returncode}):\n"
            f"{completed.stderr[-2000:]}", flush=True)
      return None
    return json.loads(pathlib.Path(job["result_path"]).read_text())


def library_flow(shape, dtype="float32", stacked_blocks=True):
  from tfp_ldu.flows import LDUFlow
  config = SHAPES[shape]
  return LDUFlow(config["event_size"], num_blocks=config["num_blocks"],
                 num_d_scales=config["num_d_scales"], num_components=config["num_mixtures"],
                 hidden_units=tuple(config["hidden_units"]), dtype=dtype,
                 stacked_blocks=stacked_blocks)


def library_training(shape, args, jit_compile):
  """(seconds of the first one-step `fit`, steps/s of the timed `fit`) of a fresh flow."""
  import keras
  import tensorflow as tf
  keras.utils.set_random_seed(args.seed)
  model = library_flow(shape, stacked_blocks=not args.unrolled_blocks)
  d = SHAPES[shape]["event_size"]
  data = np.random.default_rng(args.seed).normal(
      size=((1 + args.warmup_steps + args.train_steps) * TRAIN_BATCH, d)).astype(np.float32)
  dataset = (tf.data.Dataset.from_tensor_slices(data)
             .batch(TRAIN_BATCH, drop_remainder=True).repeat())
  model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=jit_compile)
  tick = time.perf_counter()
  model.fit(dataset, steps_per_epoch=1, epochs=1, verbose=0, shuffle=False)
  first = time.perf_counter() - tick
  model.fit(dataset, steps_per_epoch=args.warmup_steps, epochs=1, verbose=0, shuffle=False)
  tick = time.perf_counter()
  model.fit(dataset, steps_per_epoch=args.train_steps, epochs=1, verbose=0, shuffle=False)
  return first, args.train_steps / (time.perf_counter() - tick)


def transplanted_gas_flows(weights, init_batch, stacked_blocks=True):
  """The float32 and float64 GAS flows with the reference's exported weights."""
  from bench.parity_reference.candidate_defaults import transplant_reference_weights
  model = library_flow("GAS", stacked_blocks=stacked_blocks)
  model.initialize(init_batch)  # Builds everything; every value is overwritten below.
  transplant_reference_weights(model, weights)
  model.actnorm.loc.assign(weights["actnorm/mean"])
  model.actnorm.log_scale.assign(weights["actnorm/log_std"])
  model64 = library_flow("GAS", "float64", stacked_blocks=stacked_blocks)
  model64.initialize(init_batch.astype(np.float64))
  model64.set_weights([w.astype(np.float64) for w in model.get_weights()])
  return model, model64


def library_log_prob(model, args):
  """Points/s of eager `model.log_prob` and of a jit-compiled tf.function over it."""
  import tensorflow as tf
  x = tf.constant(np.random.default_rng([args.seed, 1]).normal(
      size=(LOG_PROB_BATCH, SHAPES["GAS"]["event_size"])).astype(np.float32))
  rates = {}
  for name, function in (("eager", model.log_prob),
                         ("xla", tf.function(model.log_prob, jit_compile=True))):
    function(x).numpy()
    tick = time.perf_counter()
    for _ in range(args.log_prob_reps):
      function(x).numpy()
    rates[name] = args.log_prob_reps * LOG_PROB_BATCH / (time.perf_counter() - tick)
  return rates


def library_sampling(model, args):
  """(points/s of eager `model.sample(n)`, diagnostics of another n-point draw)."""
  n = args.num_samples
  model.sample(16).numpy()  # Trace (the count is a tensor: one graph for every n).
  tick = time.perf_counter()
  for _ in range(args.sample_reps):
    model.sample(n).numpy()
  rate = args.sample_reps * n / (time.perf_counter() - tick)
  result = model.sample_with_diagnostics(n, seed=[args.seed, 2])
  return rate, dict(max_iterations=int(result["max_iterations"]),
                    num_unconverged=int(result["num_unconverged"]),
                    residual=float(model.sampling_residual(result)))


def float32_residual_floor(model, model64, args):
  """max |T(x) - z| when x is the float64 solution rounded to float32, T in float32.

  The best any float32 sampler can do on these weights (up to choosing the
  neighbouring float): rounding x alone moves T(x) by |dT/dx| ulp(x).
  """
  import tensorflow as tf
  z = model.sample_with_diagnostics(args.num_samples, seed=[args.seed, 2])["latents"]
  x64 = model64.bijector.forward(tf.cast(z, tf.float64))
  again = model.bijector.inverse(tf.cast(x64, tf.float32))
  return float(tf.reduce_max(tf.abs(again - z)))


def _fmt(value, digits=1):
  if value is None:
    return "n/a"
  if isinstance(value, str):
    return value
  if abs(value) != 0 and (abs(value) < 0.1 or abs(value) >= 1e7):  # 0.04 is not "0.0".
    return f"{value:.2e}"
  return f"{value:,.{digits}f}"


def print_table(rows):
  header = f"{'measurement':<46}{'library':>12}{'reference':>12}{'ratio':>8}  note"
  print(header)
  print("-" * len(header))
  for name, library, reference, kind, note in rows:
    ratio = "-"
    if (kind in ("rate", "time") and isinstance(library, float)
        and isinstance(reference, float) and library and reference):
      ratio = f"{(library / reference if kind == 'rate' else reference / library):.2f}"
    digits = 2 if kind == "time" else 1
    print(f"{name:<46}{_fmt(library, digits):>12}{_fmt(reference, digits):>12}{ratio:>8}  {note}")


def main(argv=None):
  args = parse_args(argv)
  import tensorflow as tf
  tf.config.threading.set_intra_op_parallelism_threads(args.threads)
  tf.config.threading.set_inter_op_parallelism_threads(args.threads)
  load_before = os.getloadavg()
  print(f"threads {args.threads}; torch OMP_WAIT_POLICY="
        f"{os.environ.get('OMP_WAIT_POLICY', 'PASSIVE')}; load average before: "
        f"{' '.join(f'{v:.2f}' for v in load_before)} ({os.cpu_count()} cores)", flush=True)
  rows = []

  def add(row):
    rows.append(row)
    print(f"  {row[0].strip()}: library {_fmt(row[1], 3)}, reference {_fmt(row[2], 3)}",
          flush=True)

  with tempfile.TemporaryDirectory(prefix="throughput_") as tmp:
    workdir = pathlib.Path(tmp)
    reference = Reference(args, workdir)

    # ---- log_prob and sampling, GAS shape, identical weights -----------------
    rng = np.random.default_rng([args.seed, 3])
    d = SHAPES["GAS"]["event_size"]
    init_batch = rng.normal(size=(1024, d)).astype(np.float32)
    check = rng.normal(size=(256, d)).astype(np.float32)
    np.save(workdir / "init.npy", init_batch)
    np.save(workdir / "check.npy", check)
    print("reference: log_prob and sampling ...", flush=True)
    ref = reference.run(kind="eval", config=SHAPES["GAS"], data_dir=str(workdir),
                        weights_path=str(workdir / "weights.npz"),
                        log_prob_batch=LOG_PROB_BATCH, log_prob_reps=args.log_prob_reps,
                        num_samples=args.num_samples, sample_reps=args.sample_reps) or {}
    if ref:
      weights = dict(np.load(workdir / "weights.npz"))
      model, model64 = transplanted_gas_flows(weights, init_batch,
                                              stacked_blocks=not args.unrolled_blocks)
      parity = float(np.max(np.abs(model.log_prob(check).numpy().astype(np.float64)
                                   - weights["check_log_prob"])))
      weights_note = f"same weights (max |log p diff| {parity:.1e})"
    else:
      from tfp_ldu.testing import randomise_d_scales
      model = library_flow("GAS", stacked_blocks=not args.unrolled_blocks)
      model.initialize(init_batch)
      randomise_d_scales(model, rng)
      model64 = library_flow("GAS", "float64", stacked_blocks=not args.unrolled_blocks)
      model64.initialize(init_batch.astype(np.float64))
      model64.set_weights([w.astype(np.float64) for w in model.get_weights()])
      weights_note = "reference failed; library D-scales from randomise_d_scale"
    print(f"library: log_prob and sampling ({weights_note}) ...", flush=True)
    rates = library_log_prob(model, args)
    add((f"log_prob pts/s GAS b={LOG_PROB_BATCH} (eager)", rates["eager"],
                 ref.get("log_prob_points_per_s"), "rate",
                 "ref: eval, no_grad; " + weights_note))
    add((f"log_prob pts/s GAS b={LOG_PROB_BATCH} (XLA tf.function)", rates["xla"],
                 ref.get("log_prob_points_per_s"), "rate", "ref: the same torch call"))
    n = args.num_samples
    for dtype, flow, key in (("float32", model, "32"), ("float64", model64, "64")):
      rate, diag = library_sampling(flow, args)
      ref_diag = ref.get(f"sample{key}")
      add((f"sample pts/s GAS n={n} ({dtype})", rate,
                   ref.get(f"sample{key}_points_per_s"), "rate",
                   "ref: model.sample (float64 only)" if key == "64" else
                   "ref: sample's loop on float32 model, inv_transform tolerances"))
      add((f"  max|T(x)-z| ({dtype})", diag["residual"],
                   ref_diag["residual"] if ref_diag else None, "info",
                   f"library unconverged {diag['num_unconverged']}" +
                   (f"; ref solves at max_iter: {ref_diag['solves_at_max_iter']}/"
                    f"{ref_diag['num_solves']}" if ref_diag else "")))
      if key == "32":
        add(("  floor: float64 answer rounded (float32)", float32_residual_floor(
            model, model64, args), None, "info",
            "max|T(x)-z| of the exact sample rounded to float32, T in float32"))
      add((f"  max iterations of a solve ({dtype})", float(diag["max_iterations"]),
                   float(ref_diag["max_iterations"]) if ref_diag else None, "info",
                   f"library solver {flow.solver}; ref fixed point, cap 100"))
    del model, model64

    # ---- training, both shapes -------------------------------------------------
    for shape in SHAPES:
      print(f"training {shape}: reference ...", flush=True)
      ref_train = reference.run(kind="train", config=SHAPES[shape], batch_size=TRAIN_BATCH,
                                warmup_steps=args.warmup_steps, steps=args.train_steps) or {}
      for jit_compile in (False, True):
        print(f"training {shape}: library (jit_compile={jit_compile}) ...", flush=True)
        first, rate = library_training(shape, args, jit_compile)
        mode = "fit, XLA" if jit_compile else "fit"
        add((f"train steps/s {shape} b=128 ({mode})", rate,
                     ref_train.get("steps_per_s"), "rate",
                     f"{args.train_steps} timed steps; ref: Adam loop"))
        add((f"  first step, s ({mode})", first, ref_train.get("first_step_s"),
                     "time", "library: trace+compile+1 step; ref: 1st step"))

  print()
  print_table(rows)
  load_after = os.getloadavg()
  print(f"load average before: {' '.join(f'{v:.2f}' for v in load_before)}; after: "
        f"{' '.join(f'{v:.2f}' for v in load_after)} ({os.cpu_count()} cores, shared: "
        "numbers are indicative)")


if __name__ == "__main__":
  main()
