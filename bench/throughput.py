"""Training, log_prob and sampling throughput of the GAS-sized LDU flow.

    python bench/throughput.py [--quick] [--train-steps 100] [--num-samples 1000]

Model: `LDUFlow(8, num_blocks=12, num_d_scales=4, num_mixtures=4,
hidden_units=(256, 256))`, the paper's GAS configuration, on random
standard-normal data.  A fresh flow's D-scales are the identity (r = tanh(0) =
0), which would make sampling trivially fast, so the weights are made to
resemble a trained flow instead of training it: every D-scale's raw residual
scale is drawn from U(-2, 2) (|r| up to 0.96), its mixture logits and output
shift from N(0, 1) (as in `bench/solver_iterations.py`), and ActNorm is
initialised from a data batch.

Measurements (compile and trace time always excluded by a warm-up):

* training steps/s, batch 128: `model.fit` over a fixed-shape dataset
  (`drop_remainder=True`) after a warm-up epoch, compiled with
  `jit_compile=False` and with `jit_compile=True`;
* log_prob points/s: a `tf.function` over 1024-point batches, with and
  without XLA;
* sampling points/s: a `tf.function` over `sample_with_diagnostics(n)` for the
  float32 flow and for a float64 copy with the same weights (tolerances 1e-5
  and 1e-10), with the largest fixed-point iteration count of any solve.

Each is printed next to the authors' PyTorch code on the same machine kind
(12.3 training steps/s, 15,300 log_prob points/s, 1,200 samples/s in float64)
and the ratio measured / reference (> 1: faster).  The machine's load average
is printed too: numbers from a shared machine are only indicative.
"""
import argparse
import os
import pathlib
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
  sys.path.insert(0, str(REPO_ROOT))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from models import LDUFlow  # noqa: E402
from tfp_ldu.testing import randomise_d_scale  # noqa: E402

EVENT_DIM = 8
TRAIN_BATCH = 128
LOG_PROB_BATCH = 1024
REFERENCE = dict(train_steps_per_s=12.3, log_prob_points_per_s=15_300.,
                 samples_per_s_float64=1_200.)


def gas_flow(dtype="float32"):
  """The GAS-configuration LDU flow (weights still at their initial values)."""
  return LDUFlow(EVENT_DIM, num_blocks=12, num_d_scales=4, num_mixtures=4,
                 hidden_units=(256, 256), dtype=dtype)


def make_trained_like(model, rng):
  """Initialises ActNorm and gives every D-scale non-trivial parameters.

  Raw residual scales ~ U(-2, 2) (so |r| = |tanh| up to 0.96), mixture logits
  and output shifts ~ N(0, 1): the fixed-point solves of `sample` then take
  as many iterations as in a trained flow, not the one of an identity map.
  """
  model.initialize(rng.normal(size=(1024, EVENT_DIM)))
  for block in model.blocks:
    for d_scale in block.d_scales:
      randomise_d_scale(d_scale, rng)
  return model


def training_steps_per_second(model, data, *, jit_compile, warmup_steps, steps):
  """`fit` steps/s over `data` batched by 128, after a warm-up epoch."""
  dataset = (tf.data.Dataset.from_tensor_slices(data)
             .batch(TRAIN_BATCH, drop_remainder=True).repeat())
  model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=jit_compile)
  model.fit(dataset, steps_per_epoch=warmup_steps, epochs=1, verbose=0)
  start = time.perf_counter()
  model.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0)
  return steps / (time.perf_counter() - start)


def log_prob_points_per_second(model, batches, *, jit_compile):
  """Points/s of a `tf.function` log_prob over `[B, 1024, D]` batches."""
  log_prob = tf.function(model.log_prob, jit_compile=jit_compile)
  log_prob(batches[0]).numpy()  # Trace and compile.
  start = time.perf_counter()
  for batch in batches:
    log_prob(batch).numpy()
  return len(batches) * LOG_PROB_BATCH / (time.perf_counter() - start)


def sampling_points_per_second(model, num_samples, seed):
  """(points/s, max iterations) of a `tf.function` over `sample_with_diagnostics`."""
  sample = tf.function(lambda n: model.sample_with_diagnostics(n, seed=seed))
  sample(tf.constant(16))  # Trace (n is a tensor: one graph for every n).
  start = time.perf_counter()
  result = sample(tf.constant(num_samples))
  result["samples"].numpy()
  elapsed = time.perf_counter() - start
  if int(result["num_unconverged"]):
    raise RuntimeError(f"{int(result['num_unconverged'])} solves did not converge.")
  return num_samples / elapsed, int(result["max_iterations"])


def print_table(rows):
  header = f"{'measurement':<44}{'value':>12}{'reference':>12}{'ratio':>8}  note"
  print(header)
  print("-" * len(header))
  for name, value, reference, note in rows:
    print(f"{name:<44}{value:>12,.1f}{reference:>12,.1f}{value / reference:>8.2f}  {note}")


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--quick", action="store_true",
                      help="short run: 10 training steps, 3 log_prob batches, 200 samples")
  parser.add_argument("--train-steps", type=int, default=100,
                      help="timed training steps per mode (default 100)")
  parser.add_argument("--warmup-steps", type=int, default=5,
                      help="steps of the warm-up epoch (default 5)")
  parser.add_argument("--log-prob-batches", type=int, default=20,
                      help="timed 1024-point log_prob batches (default 20)")
  parser.add_argument("--num-samples", type=int, default=1000,
                      help="samples drawn per timed sampling call (default 1000)")
  parser.add_argument("--seed", type=int, default=0)
  args = parser.parse_args(argv)
  if args.quick:
    args.train_steps, args.warmup_steps = 10, 2
    args.log_prob_batches, args.num_samples = 3, 200

  rng = np.random.default_rng(args.seed)
  tf.random.set_seed(args.seed)
  print(f"LDUFlow GAS configuration: D={EVENT_DIM}, 12 blocks, 4 D-scales, K=4, MADE "
        f"256-256; load average before: {os.getloadavg()[0]:.2f}")
  model = make_trained_like(gas_flow(), rng)
  print(f"D-scale solver: {getattr(model, 'solver', 'fixed_point')}")
  model_float64 = gas_flow("float64")
  model_float64.set_weights([w.astype(np.float64) for w in model.get_weights()])
  seed = tf.constant([args.seed, 1], tf.int32)

  rows = []
  points = rng.normal(size=(args.log_prob_batches, LOG_PROB_BATCH, EVENT_DIM))
  batches = [tf.constant(batch, tf.float32) for batch in points]
  for jit_compile in (True, False):
    rows.append((f"log_prob points/s, batch 1024 ({'XLA' if jit_compile else 'graph'})",
                 log_prob_points_per_second(model, batches, jit_compile=jit_compile),
                 REFERENCE["log_prob_points_per_s"], ""))
  for name, flow in (("float32", model), ("float64", model_float64)):
    rate, iterations = sampling_points_per_second(flow, args.num_samples, seed)
    rows.append((f"sampling points/s, {name}, n={args.num_samples}", rate,
                 REFERENCE["samples_per_s_float64"],
                 f"max iterations {iterations}; reference is float64"))
  train_data = rng.normal(
      size=((args.warmup_steps + args.train_steps) * TRAIN_BATCH, EVENT_DIM)
  ).astype(np.float32)
  # Training runs last: it changes the weights the sampling rows describe.
  for position, jit_compile in enumerate((False, True)):
    rate = training_steps_per_second(model, train_data, jit_compile=jit_compile,
                                     warmup_steps=args.warmup_steps,
                                     steps=args.train_steps)
    mode = "XLA" if jit_compile else "no XLA"
    rows.insert(position, (f"training steps/s, batch 128 ({mode})", rate,
                           REFERENCE["train_steps_per_s"], f"{args.train_steps} fit steps"))

  print_table(rows)
  print(f"load average after: {os.getloadavg()[0]:.2f} (2 cores)")


if __name__ == "__main__":
  main()
