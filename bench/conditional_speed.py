"""What a context costs: conditional against unconditional LDU flows, measured in one run.

    python bench/conditional_speed.py [--threads 2] [--context-dims 4] [--reps 3] [--quick]

Library only (no reference side).  The GAS shape of `bench/throughput.py`
(D = 8, 12 LDU blocks, 4 D-scales, K = 4, MADE 256-256), unconditional and
with a C-dimensional context (`context_shape=(C,)`; with and without the
context-dependent D-scales, `context_d_scales`), fresh models from one seed;
every measurement is repeated `--reps` times with the variants interleaved
(the machine may be shared), and the median is reported:

* training steps/s, batch 128: `model.fit` on NumPy arrays (a dict with the
  context) for `--train-steps` steps after a warm-up `fit`, plain graph
  and `jit_compile=True`;
* sampling points/s: 100 samples for each of 1,000 contexts
  (`sample(100, context=c)`, 100,000 points, one batch of solves) against
  the unconditional `sample(100000)`; the D-scales are made trained-like
  first (`tfp_ldu.testing.randomise_d_scales`), as in `bench/throughput.py`.
  It also checks that a second set of contexts reuses the compiled sampler
  (the trace count stays at 1).

Prints a table and the ratios conditional / unconditional.
"""
import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfp_ldu.flows import LDUFlow  # noqa: E402
from tfp_ldu.testing import randomise_d_scales  # noqa: E402

GAS = dict(event_shape=8, num_blocks=12, num_d_scales=4, num_components=4,
           hidden_units=(256, 256))
VARIANTS = {"unconditional": {}, "context": dict(context_d_scales=True),
            "context, fixed D-scales": dict(context_d_scales=False)}


def parse_args(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--threads", type=int, default=2, help="TF intra- and inter-op threads")
  parser.add_argument("--context-dims", type=int, default=4, help="C")
  parser.add_argument("--reps", type=int, default=3, help="interleaved repetitions")
  parser.add_argument("--train-steps", type=int, default=100)
  parser.add_argument("--quick", action="store_true",
                      help="2 blocks, 20 steps, 100 contexts: a smoke run")
  return parser.parse_args(argv)


def build(variant, args):
  keras.utils.set_random_seed(0)
  shape = dict(GAS, num_blocks=2) if args.quick else GAS
  context = {} if variant == "unconditional" else dict(context_shape=(args.context_dims,))
  return LDUFlow(**shape, **context, **VARIANTS[variant])


def inputs(model, rows, seed=0):
  """`x` or `{"x": x, "context": c}`, standard normal, `rows` rows."""
  rng = np.random.default_rng(seed)
  x = rng.normal(size=(rows, model.event_size)).astype("float32")
  if not model.conditional:
    return x
  return {"x": x, "context": rng.normal(size=(rows, *model.context_shape)).astype("float32")}


def training_steps_per_second(variant, args, jit_compile):
  model = build(variant, args)
  model.compile(keras.optimizers.Adam(1e-4), jit_compile=jit_compile)
  steps = 20 if args.quick else args.train_steps
  data = inputs(model, 128 * steps)
  model.fit(data, batch_size=128, epochs=1, steps_per_epoch=5, verbose=0)  # Warm-up.
  started = time.perf_counter()
  model.fit(data, batch_size=128, epochs=1, verbose=0)
  return steps / (time.perf_counter() - started)


def sampling_points_per_second(model, num_contexts, per_context):
  rng = np.random.default_rng(1)
  if not model.conditional:
    model.sample(10, seed=0)  # Trace and compile once.
    started = time.perf_counter()
    model.sample(num_contexts * per_context, seed=1)
    return num_contexts * per_context / (time.perf_counter() - started)
  contexts = lambda: rng.normal(size=(num_contexts, *model.context_shape)).astype("float32")
  model.sample(per_context, seed=0, context=contexts())
  started = time.perf_counter()
  samples = model.sample(per_context, seed=1, context=contexts())
  elapsed = time.perf_counter() - started
  assert samples.shape == (per_context, num_contexts, model.event_size)
  return num_contexts * per_context / elapsed


def sampler_trace_count(model):
  """Traces of the compiled seeded sampler so far (1: no retracing across contexts)."""
  key = ("sample", True, model.compute_dtype)
  return model.compiled_calls[key].experimental_get_tracing_count()


def main(argv=None):
  args = parse_args(argv)
  tf.config.threading.set_intra_op_parallelism_threads(args.threads)
  tf.config.threading.set_inter_op_parallelism_threads(args.threads)
  num_contexts = 100 if args.quick else 1000
  results = {(variant, what): [] for variant in VARIANTS
             for what in ("graph", "xla", "sample")}
  samplers = {}
  for rep in range(args.reps):
    for variant in VARIANTS:
      for what, jit in (("graph", False), ("xla", True)):
        results[variant, what].append(training_steps_per_second(variant, args, jit))
      if variant not in samplers:
        samplers[variant] = build(variant, args)
        samplers[variant].initialize(inputs(samplers[variant], 256))
        randomise_d_scales(samplers[variant], np.random.default_rng(5))
      results[variant, "sample"].append(
          sampling_points_per_second(samplers[variant], num_contexts, 100))
      print(f"rep {rep + 1}/{args.reps} {variant}: " + ", ".join(
          f"{what} {results[variant, what][-1]:.1f}" for what in ("graph", "xla", "sample")),
            flush=True)
  print(f"\nLDU flow, GAS shape{' (quick: 2 blocks)' if args.quick else ''}, "
        f"C = {args.context_dims}, medians of {args.reps} interleaved repetitions")
  print("| variant | fit steps/s (graph) | fit steps/s (XLA) | sample points/s |")
  print("|---|---|---|---|")
  base = {what: statistics.median(results["unconditional", what])
          for what in ("graph", "xla", "sample")}
  for variant in VARIANTS:
    cells = []
    for what in ("graph", "xla", "sample"):
      value = statistics.median(results[variant, what])
      ratio = "" if variant == "unconditional" else f" ({value / base[what]:.2f}x)"
      cells.append(f"{value:,.1f}{ratio}")
    print(f"| {variant} | " + " | ".join(cells) + " |")
  for variant, model in samplers.items():
    if model.conditional:
      print(f"{variant}: the seeded sampler was traced {sampler_trace_count(model)} time(s) "
            f"for {1 + args.reps} different sets of {num_contexts} contexts")


if __name__ == "__main__":
  main()
