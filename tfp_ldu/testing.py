"""Shared helpers for tests and benchmarks: non-trivial weights for bijector layers.

Fresh layers start at or near the identity (that is what training wants), so
checks of inverses, log-determinants and solver speed would test almost
nothing on them.  These helpers move layers to "trained-like" weights.
"""
import numpy as np
import tensorflow as tf

from tfp_ldu.layers.sinusoidal_parameters import SinusoidalParameters
from tfp_ldu.nets.lipschitz_mlp import LipschitzMLP

__all__ = ["randomise_d_scale", "randomise_d_scales", "contractive_net"]


def randomise_d_scale(layer: SinusoidalParameters, rng):
  """Moves a D-scale away from its identity initialisation (|r| up to tanh 2 = 0.96).

  Args:
    layer: a `SinusoidalParameters` layer.
    rng: a `numpy.random.Generator`.
  """
  layer.raw_residual.assign(rng.uniform(-2.0, 2.0, layer.raw_residual.shape))
  layer.out_shift.assign(rng.normal(size=layer.out_shift.shape))
  layer.mix_logits.assign(rng.normal(size=layer.mix_logits.shape))
  if getattr(layer, "context_kernel", None) is not None:  # Conditional: starts at zero.
    layer.context_kernel.assign(0.3 * rng.normal(size=layer.context_kernel.shape))


def randomise_d_scales(model, rng):
  """`randomise_d_scale` on every D-scale of an `LDUFlow` (stacked or unrolled blocks).

  A `StackedLDUBlocks` layer holds all blocks' D-scale weights on a leading
  block axis, with the same names, so it is randomised as one layer.
  """
  for block in model.blocks:
    for layer in getattr(block, "d_scales", [block]):
      randomise_d_scale(layer, rng)


def contractive_net(event_size, seed=0, coeff=0.75):
  """A float64 `LipschitzMLP` g whose Jacobian is large and non-symmetric.

      g(x) = c LipSwish(c x Q^T + b) Q R,   |eigenvalues of J_g| ~ c^2 * 0.93

  Q `[4D, D]` has orthonormal columns and R `[D, D]` is a rotation near the
  identity, so J_g is large but not symmetric (for symmetric J the Neumann
  and backprop gradients nearly coincide).  A large Jacobian makes the higher
  power-series terms matter (a 2-term series is off by many standard errors)
  while keeping the Russian-roulette variance finite.

  Returns:
    (net, points): the network and `[3, D]` float64 evaluation points.
  """
  net = LipschitzMLP(event_size, hidden_units=(4 * event_size,), coeff=coeff,
                     dtype="float64")
  net.build((None, event_size))
  rng = np.random.default_rng(seed)
  orthonormal, _ = np.linalg.qr(rng.normal(size=(4 * event_size, event_size)))
  skew = rng.normal(size=(event_size, event_size))
  rotation, triangle = np.linalg.qr(np.eye(event_size) + 0.3 * (skew - skew.T))
  rotation *= np.sign(np.diag(triangle))
  kernel_in, bias_in, kernel_out, _, raw_beta = net.trainable_weights
  kernel_in.assign(orthonormal.T)
  kernel_out.assign(orthonormal @ rotation)
  bias_in.assign(rng.uniform(0.5, 2.0, size=4 * event_size))
  raw_beta.assign(5.0)
  points = tf.constant(rng.normal(scale=0.5, size=(3, event_size)))
  return net, points
