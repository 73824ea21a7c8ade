"""Training and sampling speed of the image LDU flow at the paper's MNIST preset.

    python bench/images.py [--train-steps 5] [--num-samples 16] [--preset mnist|digits] [--xla]

Model: `train/fit.py`'s model for the preset's row (MNIST: 12 LDU blocks of
4 D-scales, K = 4, PixelCNN shifts with 16 maps and 2 residual blocks, on
28x28x1 with uniform dequantisation and the logit transform; digits: the
quick preset on 8x8x1), on random pixel levels.  Measured after a warm-up
(tracing and compilation excluded):

* training steps/s at batch 128 through `model.fit` (and with XLA too with
  `--xla`: compiling the 12-block MNIST model takes many minutes on a CPU);
* images/s sampled through `model.sample(n)` as a user calls it (eagerly;
  the model compiles it once), with the largest numeric-inverse iteration
  count.

Numbers from a shared machine are indicative; the load average is printed.
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

from train.datasets import ImageData  # noqa: E402
from train.hyperparameters import PAPER_TABLE  # noqa: E402
from train.hyperparameters import QUICK_DIGITS  # noqa: E402
from train.build import build_model  # noqa: E402

PRESETS = dict(mnist=(PAPER_TABLE["mnist"], (28, 28, 1), 256, 1e-6),
               digits=(QUICK_DIGITS, (8, 8, 1), 17, 1e-6))
BATCH = 128


def random_image_data(shape, levels, rows, seed=0):
  """`ImageData` of random pixel levels (speed does not depend on the values)."""
  rng = np.random.default_rng(seed)
  size = int(np.prod(shape))
  split = lambda n: rng.integers(0, levels, size=(n, size)).astype("float32")
  return ImageData("bench", split(rows), split(BATCH), split(BATCH), image_shape=shape,
                   num_levels=levels, alpha=PRESETS["mnist"][3])


def training_steps_per_second(data, row, steps, jit_compile):
  model = build_model("ldu", data, row)
  model.compile(keras.optimizers.Adam(1e-4), jit_compile=jit_compile)
  dataset = tf.data.Dataset.from_tensor_slices(data.train).batch(BATCH, drop_remainder=True)
  model.fit(dataset.take(1), epochs=1, verbose=0)  # initialise, trace, compile
  start = time.perf_counter()
  model.fit(dataset.take(steps), epochs=1, verbose=0)
  return steps / (time.perf_counter() - start), model


def sampling_images_per_second(model, n):
  model.sample(n)  # traces once
  start = time.perf_counter()
  result = model.sample_with_diagnostics(n)
  seconds = time.perf_counter() - start
  return n / seconds, int(result["max_iterations"]), int(result["num_unconverged"])


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--preset", choices=tuple(PRESETS), default="mnist")
  parser.add_argument("--train-steps", type=int, default=5)
  parser.add_argument("--num-samples", type=int, default=16)
  parser.add_argument("--xla", action="store_true", help="also time fit with XLA")
  args = parser.parse_args()
  row, shape, levels, _ = PRESETS[args.preset]
  data = random_image_data(shape, levels, BATCH * (args.train_steps + 1))
  print(f"preset {args.preset}: {row.num_blocks} blocks x {row.num_d_scales} D-scales, "
        f"PixelCNN {row.filters} maps x {row.num_residual_blocks} residual blocks, "
        f"image {shape}, batch {BATCH}; load average {os.getloadavg()[0]:.2f}")
  rate, model = training_steps_per_second(data, row, args.train_steps, False)
  print(f"training, jit_compile=False: {rate:6.2f} steps/s ({rate * BATCH:7.1f} images/s)",
        flush=True)
  rate, iterations, unconverged = sampling_images_per_second(model, args.num_samples)
  print(f"sampling model.sample({args.num_samples}) eagerly: {rate:6.2f} images/s "
        f"(<= {iterations} iterations per solve, {unconverged} unconverged)", flush=True)
  if args.xla:
    rate, _ = training_steps_per_second(data, row, args.train_steps, True)
    print(f"training, jit_compile=True:  {rate:6.2f} steps/s ({rate * BATCH:7.1f} images/s)")


if __name__ == "__main__":
  main()
