"""Fixed-point iterations, round-trip and log-det errors of a random 12-block LDU flow.

    python bench/solver_iterations.py [--event-dim 8] [--num-points 1024]

The flow has the GAS configuration (12 blocks, 4 D-scales, K = 4, MADE
256-256).  Since a fresh flow's D-scales are the identity (r = tanh(0) = 0),
every D-scale's raw residual scale is drawn from U(-2, 2) (|r| up to 0.96),
its mixture logits and out shift from N(0, 1), to resemble a trained flow.
For both D-scale solvers (Picard fixed point and bracketed Newton) and for
float32 (tolerance 1e-5) and float64 (tolerance 1e-10) it reports the largest
iteration count of the triangular-shift sweeps and of the D-scale solves over
a batch of latents z, the data-space round trip
max|x - T^-1(T(x))| (the solver's own error) and the latent residual
max|z - T(T^-1(z))| (that error amplified by the conditioning of T, large
for an untrained random flow), and max|ILDJ - log|det dT/dx|| with the
Jacobian from `tf.GradientTape.batch_jacobian` (in float64 arithmetic).
"""
import argparse
import os
import pathlib
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # without pip install

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfp_ldu.flows import LDUFlow  # noqa: E402
from tfp_ldu.testing import randomise_d_scales  # noqa: E402
from tfp_ldu.bijectors import Sinusoidal, TriangularShift  # noqa: E402


def random_flow(event_size, dtype, seed, solver):
  keras.utils.set_random_seed(seed)
  model = LDUFlow(event_size, num_blocks=12, num_d_scales=4, num_components=4,
                  hidden_units=(256, 256), solver=solver, dtype=dtype,
                  stacked_blocks=False)  # `measure` walks each block's parts.
  randomise_d_scales(model, np.random.default_rng(seed))
  return model


def measure(event_size, dtype, num_points, solver, seed=0):
  model = random_flow(event_size, dtype, seed, solver)
  latents = tf.constant(np.random.default_rng(seed + 1).normal(size=(num_points, event_size)),
                        dtype)
  worst = {TriangularShift: 0, Sinusoidal: 0}
  x = latents
  for layer in reversed(model.flow_layers):
    bijector = layer.bijector()
    parts = reversed(bijector.bijectors) if hasattr(bijector, "solve_forward") else [bijector]
    for part in parts:
      if hasattr(part, "solve_forward"):
        solved = part.solve_forward(x)
        assert int(solved.num_unconverged) == 0
        worst[type(part)] = max(worst[type(part)], int(solved.num_iterations))
        x = solved.value
      else:
        x = part.forward(x)
  latent_residual = float(np.max(np.abs(model.bijector.inverse(tf.identity(x)) - latents)))
  data = tf.identity(x)
  data_round_trip = float(np.max(np.abs(
      model.bijector.forward(tf.identity(model.bijector.inverse(data))) - data)))
  with tf.GradientTape() as tape:
    tape.watch(data)
    z = model.bijector.inverse(data)
  _, log_det = np.linalg.slogdet(tape.batch_jacobian(z, data).numpy().astype(np.float64))
  ildj = model.bijector.inverse_log_det_jacobian(tf.identity(data), event_ndims=1).numpy()
  return dict(shift_sweeps=worst[TriangularShift], d_scale_iterations=worst[Sinusoidal],
              data_round_trip=data_round_trip, latent_residual=latent_residual,
              log_det=float(np.max(np.abs(ildj - log_det))))


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--event-dim", type=int, default=8)
  parser.add_argument("--num-points", type=int, default=1024)
  args = parser.parse_args(argv)
  print(f"random 12-block LDU flow, D={args.event_size}, {args.num_points} latents")
  print(f"{'D-scale solver':14s} {'dtype':8s} {'tolerance':>9s} {'shift sweeps':>12s} {'D-scale iters':>13s} "
        f"{'|x - T^-1(T(x))|':>16s} {'|z - T(T^-1(z))|':>16s} {'|ILDJ-slogdet|':>14s}")
  for solver, dtype, tolerance in ((s, d, t) for s in ("fixed_point", "newton")
                                   for d, t in (("float32", 1e-5), ("float64", 1e-10))):
    r = measure(args.event_size, dtype, args.num_points, solver)
    print(f"{solver:14s} {dtype:8s} {tolerance:9.0e} {r['shift_sweeps']:12d} {r['d_scale_iterations']:13d} "
          f"{r['data_round_trip']:16.2e} {r['latent_residual']:16.2e} {r['log_det']:14.2e}")


if __name__ == "__main__":
  main()
