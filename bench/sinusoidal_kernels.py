"""The Sinusoidal transformer's two kernels for the sums over K, side by side.

    python bench/sinusoidal_kernels.py [--dims 8,16,32,64,128,256,784] [--batch 128]
        [--components 4] [--threads 2]

For each D, one `tfp_ldu.bijectors.Sinusoidal` with `[D, K]` parameters
(as in an LDU block) runs its value and log-determinant and their gradients
with respect to the parameters in a `tf.function`, first with the sums as
products with block-diagonal `[D, DK]` / `[DK, D]` matrices, then as the
element-wise `[..., D, K]` chain (`sinusoidal.BLOCK_DIAGONAL_MAX_EVENT_SIZE`
set to force each).  Prints ms per call (after two warm-up calls; the
average of max(5, 2000 / D) calls) for both, which is what
`BLOCK_DIAGONAL_MAX_EVENT_SIZE` was chosen from (docs/performance.md).
"""
import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfp_ldu.bijectors import sinusoidal  # noqa: E402


def time_kernels(d, batch, k, seed=0):
  """{"block_diagonal": ms, "element_wise": ms} of one D-scale's step at D = d."""
  rng = np.random.default_rng(seed)
  a = tf.Variable(rng.uniform(0.5, 2.0, (d, k)).astype("float32"))
  b = tf.Variable(rng.normal(size=(d, k)).astype("float32"))
  w = tf.Variable(np.full((d, k), 1.0 / k, "float32"))
  x = tf.constant(rng.normal(size=(batch, d)).astype("float32"))
  times = {}
  saved = sinusoidal.BLOCK_DIAGONAL_MAX_EVENT_SIZE
  try:
    for name, limit in (("block_diagonal", d), ("element_wise", d - 1)):
      sinusoidal.BLOCK_DIAGONAL_MAX_EVENT_SIZE = limit
      bijector = sinusoidal.Sinusoidal(a, b, w, tf.zeros(d), 0.5 * tf.ones(d))

      @tf.function
      def step():
        with tf.GradientTape() as tape:
          loss = (tf.reduce_sum(bijector.inverse(x))  # pylint: disable=cell-var-from-loop
                  + tf.reduce_sum(bijector.inverse_log_det_jacobian(x, event_ndims=1)))  # pylint: disable=cell-var-from-loop
        return tape.gradient(loss, [a, b, w])

      step()
      step()
      repeats = max(5, 2000 // d)
      start = time.perf_counter()
      for _ in range(repeats):
        step()
      times[name] = (time.perf_counter() - start) / repeats * 1e3
  finally:
    sinusoidal.BLOCK_DIAGONAL_MAX_EVENT_SIZE = saved
  return times


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--dims", default="8,16,32,64,128,256,784")
  parser.add_argument("--batch", type=int, default=128)
  parser.add_argument("--components", type=int, default=4)
  parser.add_argument("--threads", type=int, default=2)
  args = parser.parse_args(argv)
  tf.config.threading.set_intra_op_parallelism_threads(args.threads)
  print(f"load average: {os.getloadavg()}")
  print("| D | block-diagonal ms | element-wise ms |\n|---|---|---|")
  for d in (int(v) for v in args.dims.split(",")):
    times = time_kernels(d, args.batch, args.components)
    print(f"| {d} | {times['block_diagonal']:.2f} | {times['element_wise']:.2f} |", flush=True)


if __name__ == "__main__":
  main()
