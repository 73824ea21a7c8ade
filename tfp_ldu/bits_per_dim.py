"""Bits per dimension of discrete images from a density on dequantised pixels.

Pixels x are integers in {0, .., L-1}^D (L = `num_levels`: 256 for 8-bit
images, 17 for scikit-learn's digits).  Uniform dequantisation gives
continuous data, either scaled to the unit cube, v = (x + u) / L, or left on
the levels' scale, w = x + u, with u ~ U[0, 1)^D.  A density p on that data
bounds the probability of the discrete image (Jensen, Theis et al. 2016):

  log P(x) >= E_u[log p_v((x + u) / L)] - D log L = E_u[log p_w(x + u)],

so the discrete-data bits/dim (an upper bound in expectation; exact when p
is constant on each pixel cell) is

  on [0, 1)^D:  bpd = -log p_v(v) / (D ln 2) + log2 L,
  on [0, L)^D:  bpd = -log p_w(w) / (D ln 2).

Uniform p_v on [0, 1)^D (log p_v = 0) gives exactly log2 L: 8 bits for
8-bit images.  A model that also applies the logit of MAF / ldu-flow,
y = logit(alpha + (1 - 2 alpha) v), *inside* the flow already reports
log p_v; a model fitted to y itself reports log p_y, and
`unit_cube_log_prob_from_logit` adds the Jacobian back:

  log p_v(v) = log p_y(y) + D log(1 - 2 alpha) - sum_d [log s_d + log(1 - s_d)],
  s_d = sigmoid(y_d),

which with `bits_per_dim` reproduces ldu-flow's `test_bpd`.
"""
import math
import numbers

import tensorflow as tf

__all__ = ["bits_per_dim", "log_prob_from_bits_per_dim",
           "unit_cube_log_prob_from_logit"]


def _is_int(value) -> bool:
  """Python or numpy integer, not a bool."""
  return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_sizes(num_dims, num_levels):
  if not _is_int(num_dims) or num_dims < 1:
    raise ValueError(f"num_dims must be a positive int (D = H*W*C); got "
                     f"{num_dims!r}.")
  if not _is_int(num_levels) or num_levels < 2:
    raise ValueError(f"num_levels must be an int >= 2; got {num_levels!r}.")


def bits_per_dim(log_prob_nats, num_dims: int, num_levels: int = 256,
                 pixels_scaled_to_unit: bool = True):
  """Discrete-data bits/dim from log-densities of dequantised images.

    pixels_scaled_to_unit=True  (density on v = (x + u) / L in [0, 1)^D):
      bpd = -log p(v) / (D ln 2) + log2 L
    pixels_scaled_to_unit=False (density on w = x + u in [0, L)^D):
      bpd = -log p(w) / (D ln 2)

  Pure arithmetic: works on numpy arrays, Python floats and TensorFlow
  tensors alike (inside `tf.function` too) and returns the same kind.

  Args:
    log_prob_nats: log-densities in nats, any shape `[...]` (e.g. `[N]`
      per image).
    num_dims: D = H * W * C, the dimensions each log-density covers.
    num_levels: L, the number of intensity levels per dimension.
    pixels_scaled_to_unit: which of the two scales the density is on.

  Returns:
    Bits per dimension, shape `[...]` (same as `log_prob_nats`).

  Raises:
    ValueError: `num_dims` < 1 or `num_levels` < 2 (or not ints).
  """
  _check_sizes(num_dims, num_levels)
  bits = -log_prob_nats / (num_dims * math.log(2.))
  return bits + math.log2(num_levels) if pixels_scaled_to_unit else bits


def log_prob_from_bits_per_dim(bpd, num_dims: int, num_levels: int = 256,
                               pixels_scaled_to_unit: bool = True):
  """Inverse of `bits_per_dim`: the log-density (nats) with that bits/dim.

    log p = -(bpd - log2 L) D ln 2   (or -bpd D ln 2 on [0, L)^D).

  Args and shapes as in `bits_per_dim`, with `bpd` in place of the
  log-densities.
  """
  _check_sizes(num_dims, num_levels)
  if pixels_scaled_to_unit:
    bpd = bpd - math.log2(num_levels)
  return -bpd * (num_dims * math.log(2.))


def unit_cube_log_prob_from_logit(log_prob_logit_nats, logits, alpha: float):
  """log p_v(v) on [0, 1)^D from a density of y = logit(alpha + (1-2 alpha) v).

    log p_v = log p_y(y) + D log(1 - 2 alpha)
              - sum_d [log sigmoid(y_d) + log(1 - sigmoid(y_d))]

  with log sigmoid(y) = -softplus(-y) and log(1 - sigmoid(y)) = -softplus(y)
  for stability.  Feed the result to `bits_per_dim` (unit scale).

  Args:
    log_prob_logit_nats: `[N]` log-densities of the logit-space data.
    logits: `[N, D]` the logit-space data y they were evaluated at.
    alpha: the logit constant in [0, 0.5) (MNIST 1e-6, CIFAR-10 0.05).

  Returns:
    `[N]` tensor of log-densities on [0, 1)^D (numpy inputs are converted;
    the dtype is that of `logits`).
  """
  if not 0. <= alpha < 0.5:
    raise ValueError(f"alpha must lie in [0, 0.5); got {alpha!r}.")
  logits = tf.convert_to_tensor(logits)
  if logits.shape.rank != 2:
    raise ValueError(f"logits must have shape [N, D]; got {logits.shape}.")
  log_prob = tf.convert_to_tensor(log_prob_logit_nats, dtype=logits.dtype)
  num_dims = tf.cast(tf.shape(logits)[-1], logits.dtype)
  log_sigmoid_terms = -tf.reduce_sum(
      tf.math.softplus(-logits) + tf.math.softplus(logits), axis=-1)
  return (log_prob + num_dims * math.log1p(-2. * alpha)
          - log_sigmoid_terms)
