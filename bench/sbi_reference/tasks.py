"""Simulators and reference posteriors of the SBI benchmark (numpy only).

Both sides of `bench/sbi.py` (the library in-process, zuko under a separate
PyTorch interpreter) read the arrays these functions make, so this module needs
nothing but numpy.  Each `Task` has a prior, a simulator and an exact sampler of
the posterior p(theta | x_o) for one observation x_o:

* `gaussian_linear` (sbibm): theta in R^10 ~ N(0, 0.1 I), x | theta ~
  N(theta, 0.1 I); the posterior is N(x_o / 2, 0.05 I).
* `two_moons` (Greenberg et al. 2019; sbibm): theta ~ U[-1, 1]^2, a ~
  U(-pi/2, pi/2), r ~ N(0.1, 0.01^2), p = (r cos a + 0.25, r sin a) and
  x = p + (-|z0|, z1) with z = R theta, z0 = (theta1 + theta2) / sqrt(2),
  z1 = (-theta1 + theta2) / sqrt(2).  Posterior sampler: draw p, then
  q = x_o - p must equal (-|z0|, z1); a draw with q0 > 0 has no solution and is
  rejected, otherwise z0 = +-(-q0) with probability 1/2 each, theta = R^T z,
  kept if inside the prior box.  Every branch is a rotation (unit Jacobian)
  and the prior is flat on the box, so the kept draws follow
  p(theta | x_o) proportional to p_p(x_o - g(theta)) exactly.

Shapes: theta `[N, D]`, x `[N, C]`, float32 from the public helpers.
"""
import dataclasses
import math
import zlib
from typing import Callable

import numpy as np

__all__ = ["Task", "TASKS", "get_task", "simulate_dataset", "observations",
           "reference_samples"]

OBSERVATION_SEED = 1000


@dataclasses.dataclass(frozen=True)
class Task:
  """One benchmark problem.

  Attributes:
    name: the task's key in `TASKS`.
    theta_dim: D, the size of one parameter vector.
    x_dim: C, the size of one simulated data vector (the flows' context).
    prior: `(rng, n) -> [n, D]` float64 prior draws.
    simulator: `(rng, theta [N, D]) -> [N, C]` float64 simulations.
    posterior: `(rng, x_o [C], n) -> [n, D]` float64 exact posterior draws.
  """
  name: str
  theta_dim: int
  x_dim: int
  prior: Callable
  simulator: Callable
  posterior: Callable


# ---- gaussian_linear ---------------------------------------------------------
_GL_DIM, _GL_VARIANCE = 10, 0.1


def _gl_prior(rng, n):
  return rng.normal(0.0, math.sqrt(_GL_VARIANCE), size=(n, _GL_DIM))


def _gl_simulator(rng, theta):
  return theta + rng.normal(0.0, math.sqrt(_GL_VARIANCE), size=theta.shape)


def _gl_posterior(rng, x_o, n):
  # Prior and likelihood variances are equal: mean x_o / 2, variance 0.1 / 2.
  return rng.normal(np.asarray(x_o, np.float64) / 2, math.sqrt(_GL_VARIANCE / 2),
                    size=(n, _GL_DIM))


# ---- two_moons -----------------------------------------------------------------
def _moons_prior(rng, n):
  return rng.uniform(-1.0, 1.0, size=(n, 2))


def _crescent(rng, n):
  """`[n, 2]` draws of p = (r cos a + 0.25, r sin a), the simulator's noise."""
  a = rng.uniform(-math.pi / 2, math.pi / 2, size=n)
  r = rng.normal(0.1, 0.01, size=n)
  return np.stack([r * np.cos(a) + 0.25, r * np.sin(a)], axis=1)


def _moons_simulator(rng, theta):
  z0 = (theta[:, 0] + theta[:, 1]) / math.sqrt(2)
  z1 = (-theta[:, 0] + theta[:, 1]) / math.sqrt(2)
  return _crescent(rng, len(theta)) + np.stack([-np.abs(z0), z1], axis=1)


def _moons_posterior(rng, x_o, n):
  x_o = np.asarray(x_o, np.float64)
  kept, count = [], 0
  while count < n:
    q = x_o - _crescent(rng, 2 * n)             # q = (-|z0|, z1)
    q = q[q[:, 0] <= 0]                          # no |z0| < 0
    z0 = -q[:, 0] * rng.choice([-1.0, 1.0], size=len(q))
    z1 = q[:, 1]
    theta = np.stack([z0 - z1, z0 + z1], axis=1) / math.sqrt(2)
    theta = theta[np.all(np.abs(theta) <= 1.0, axis=1)]
    kept.append(theta)
    count += len(theta)
  return np.concatenate(kept)[:n]


TASKS = {
    "gaussian_linear": Task("gaussian_linear", _GL_DIM, _GL_DIM, _gl_prior, _gl_simulator,
                            _gl_posterior),
    "two_moons": Task("two_moons", 2, 2, _moons_prior, _moons_simulator, _moons_posterior),
}


def get_task(name):
  """The `Task` called `name`, or a `ValueError` listing the known ones."""
  if name not in TASKS:
    raise ValueError(f"unknown task {name!r}; expected one of {sorted(TASKS)}")
  return TASKS[name]


def simulate_dataset(task, num_simulations, seed):
  """`(theta [N, D], x [N, C])` float32: N prior draws and their simulations.

  `seed` (an int) is mixed with the task's name, so tasks draw different streams.
  """
  rng = np.random.default_rng([seed, zlib.crc32(task.name.encode())])
  theta = task.prior(rng, num_simulations)
  return theta.astype(np.float32), task.simulator(rng, theta).astype(np.float32)


def observations(task, num_observations, seed=OBSERVATION_SEED):
  """`(theta_true [O, D], x_o [O, C])` float32 held-out observations (fixed seed)."""
  return simulate_dataset(task, num_observations, seed)


def reference_samples(task, x_obs, num_samples, seed=OBSERVATION_SEED):
  """`[O, n, D]` float32 exact posterior draws for each observation of `x_obs` `[O, C]`."""
  rng = np.random.default_rng([seed, 1])
  return np.stack([task.posterior(rng, x_o, num_samples) for x_o in x_obs]).astype(np.float32)
