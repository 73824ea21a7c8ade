"""Residual Flows' estimators: roulette variance per exact terms, and training speed.

    TF_CPP_MIN_LOG_LEVEL=2 python bench/residual_estimators.py [--calls 300] [--steps 100]

1. Variance of the Russian-roulette log-det estimate (one Gaussian probe,
   geometric(0.5) extra terms) per number of exact terms m, at D = 8, for
   residual maps whose Jacobians have spectral radius ~0.3, ~0.5 and ~0.75
   (the tests' `contractive_net` with coeff 0.5, 0.75, 0.9; a freshly
   initialised LipschitzMLP has |log det| ~ 0.01, too small to show anything).
   Per event: variance over independent calls, averaged over 128 events;
   also the largest z-score of the mean against the exact log-det.
2. Training steps/s of `ResidualFlow(8, num_blocks=4, hidden_units=(64, 64))`,
   batch 128, `jit_compile=True`, with and without the Neumann-series gradient.
"""
import argparse
import os
import pathlib
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # without pip install

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfp_ldu.flows import ResidualFlow  # noqa: E402
from tfp_ldu.testing import contractive_net  # noqa: E402
from tfp_ldu.bijectors import Residual, log_det_estimators  # noqa: E402

EVENT_DIM = 8
BATCH = 128
GEOMETRIC_P = 0.5


def residual_maps():
  """(spectral radius of J_g, g, points `[BATCH, D]`) for g with larger and larger J_g."""
  maps = []
  for coeff in (0.5, 0.75, 0.9):
    net, _ = contractive_net(EVENT_DIM, seed=0, coeff=coeff)
    points = tf.constant(np.random.default_rng(1).normal(scale=0.5, size=(BATCH, EVENT_DIM)))
    g = net.lipschitz_map(training=False)
    jacobian = log_det_estimators.jacobian(g, points).numpy()
    radius = np.mean(np.max(np.abs(np.linalg.eigvals(jacobian)), axis=-1))
    maps.append((radius, g, points))
  return maps


def roulette_variance(calls):
  print(f"== roulette log-det estimator, D={EVENT_DIM}, geometric(0.5), 1 probe, "
        f"{calls} calls x {BATCH} events")
  print(f"{'rho(J_g)':>9} {'m':>3} {'E[terms]':>9} {'mean |exact|':>13} {'variance':>10} "
        f"{'max |z|':>8} {'ms/call':>8}")
  for radius, g, x in residual_maps():
    exact = Residual(g, log_det="exact").inverse_log_det_jacobian(x, event_ndims=1).numpy()
    for m in (1, 2, 4, 8):
      estimate = tf.function(lambda seed: Residual(
          g, log_det="roulette", n_exact_terms=m, p=GEOMETRIC_P, seed=seed
      ).inverse_log_det_jacobian(x, event_ndims=1))
      estimate(tf.constant([0, 0]))
      start = time.perf_counter()
      values = np.array([estimate(tf.constant([i, 1])).numpy() for i in range(calls)])
      per_call = (time.perf_counter() - start) / calls * 1e3
      variance = values.var(0, ddof=1)
      z = (values.mean(0) - exact) / np.sqrt(variance / calls)
      print(f"{radius:>9.2f} {m:>3} {m + (1 - GEOMETRIC_P) / GEOMETRIC_P:>9} {np.mean(np.abs(exact)):>13.4f} "
            f"{np.mean(variance):>10.3e} {np.max(np.abs(z)):>8.2f} {per_call:>8.2f}")


def training_speed(steps, rng):
  covariance = np.linalg.qr(rng.normal(size=(EVENT_DIM, EVENT_DIM)))[0] * rng.uniform(
      0.3, 2.0, size=EVENT_DIM)
  data = (rng.normal(size=(BATCH * steps, EVENT_DIM)) @ covariance).astype("float32")
  warmup = data[:BATCH * 5]
  print(f"== ResidualFlow({EVENT_DIM}, num_blocks=4, hidden_units=(64, 64)), batch {BATCH}, "
        f"jit_compile=True, {steps} timed steps")
  for neumann in (True, False):
    model = ResidualFlow(EVENT_DIM, num_blocks=4, hidden_units=(64, 64),
                         neumann_gradient=neumann, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=True)
    start = time.perf_counter()
    model.fit(warmup, batch_size=BATCH, epochs=1, verbose=0, shuffle=False)
    compile_seconds = time.perf_counter() - start
    start = time.perf_counter()
    history = model.fit(data, batch_size=BATCH, epochs=1, verbose=0, shuffle=False)
    seconds = time.perf_counter() - start
    print(f"neumann_gradient={neumann!s:>5}: {steps / seconds:7.1f} steps/s  "
          f"(first fit incl. compile {compile_seconds:5.1f} s; "
          f"loss {history.history['loss'][-1]:.3f})")


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--calls", type=int, default=300)
  parser.add_argument("--steps", type=int, default=100)
  args = parser.parse_args()
  rng = np.random.default_rng(0)
  roulette_variance(args.calls)
  training_speed(args.steps, rng)


if __name__ == "__main__":
  main()
