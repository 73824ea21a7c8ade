"""Tests of `tfp_ldu.bits_per_dim` on densities whose bits/dim is known.

  * uniform on [0, 1)^D: exactly log2(L) bits/dim (8 for 8-bit images);
  * a density constant on each pixel cell of [0, 1)^D with cell
    probabilities P(x): exactly -log2 P(x) / D, the discrete data's
    bits/dim, for every x;
  * the same densities on the unscaled cube [0, L)^D;
  * the uniform density seen through the MAF/ldu-flow logit: its logit-space
    density, mapped back, gives log2(L) again, and the result matches
    ldu-flow's `test_bpd` expression term by term.
"""
import math

import numpy as np
import pytest
import tensorflow as tf

from tfp_ldu.bits_per_dim import bits_per_dim
from tfp_ldu.bits_per_dim import log_prob_from_bits_per_dim
from tfp_ldu.bits_per_dim import unit_cube_log_prob_from_logit


@pytest.mark.parametrize("num_levels", [256, 17, 2])
def test_uniform_on_unit_cube_is_log2_levels(num_levels):
  log_prob = np.zeros([5])  # log 1 for every image
  bpd = bits_per_dim(log_prob, num_dims=12, num_levels=num_levels)
  assert bpd.shape == (5,)
  np.testing.assert_array_equal(bpd, math.log2(num_levels))
  assert bits_per_dim(0., 784) == 8.


def test_density_constant_on_pixel_cells_gives_discrete_entropy():
  num_dims, num_levels = 3, 4
  rng = np.random.default_rng(0)
  probabilities = rng.dirichlet(np.ones(num_levels ** num_dims))
  # p(v) = P(x) / (cell volume L^-D) on the cell of x.
  log_density_unit = np.log(probabilities) + num_dims * np.log(num_levels)
  expected = -np.log2(probabilities) / num_dims
  np.testing.assert_allclose(
      bits_per_dim(log_density_unit, num_dims, num_levels), expected,
      rtol=1e-12)
  # On [0, L)^D the cells have volume 1: p(w) = P(x).
  np.testing.assert_allclose(
      bits_per_dim(np.log(probabilities), num_dims, num_levels,
                   pixels_scaled_to_unit=False), expected, rtol=1e-12)
  # Uniform on [0, L)^D: log p = -D log L, again log2 L bits/dim.
  assert bits_per_dim(-num_dims * math.log(num_levels), num_dims, num_levels,
                      pixels_scaled_to_unit=False) == pytest.approx(2.)


def test_tensors_in_and_out_and_inverse():
  log_prob = tf.constant([[-100., 50.], [0., 3.]], tf.float32)
  bpd = bits_per_dim(log_prob, 64, 17)
  assert isinstance(bpd, tf.Tensor) and bpd.dtype == tf.float32
  assert bpd.shape == (2, 2)
  np.testing.assert_allclose(
      bpd.numpy(), -log_prob.numpy() / (64 * np.log(2)) + np.log2(17), rtol=1e-6)
  traced = tf.function(lambda lp: bits_per_dim(lp, 64, 17))(log_prob)
  np.testing.assert_allclose(traced.numpy(), bpd.numpy())
  for scaled in (True, False):
    back = log_prob_from_bits_per_dim(
        bits_per_dim(log_prob, 64, 17, scaled), 64, 17, scaled)
    np.testing.assert_allclose(back.numpy(), log_prob.numpy(), atol=1e-4)
  assert log_prob_from_bits_per_dim(8., 3072) == pytest.approx(0.)


@pytest.mark.parametrize("alpha", [1e-6, 0.05])
def test_uniform_through_logit_is_log2_levels(alpha):
  rng = np.random.default_rng(1)
  num_dims = 10
  v = rng.random((6, num_dims))
  y = np.log(alpha + (1 - 2 * alpha) * v) - np.log1p(-(alpha + (1 - 2 * alpha) * v))
  s = 1 / (1 + np.exp(-y))
  # Density of y when v is uniform: |dv/dy| = s (1 - s) / (1 - 2 alpha).
  log_prob_y = np.sum(np.log(s) + np.log1p(-s), axis=1) - num_dims * np.log1p(-2 * alpha)
  log_prob_v = unit_cube_log_prob_from_logit(log_prob_y, y, alpha)
  np.testing.assert_allclose(log_prob_v.numpy(), 0., atol=1e-9)
  np.testing.assert_allclose(bits_per_dim(log_prob_v, num_dims).numpy(), 8.,
                             atol=1e-10)


def test_matches_ldu_flow_test_bpd_expression():
  # ldu-flow: -lp/(D ln 2) - log2(1 - 2 alpha) + 8 + mean_d log2 s (1 - s).
  rng = np.random.default_rng(2)
  alpha, num_dims = 0.05, 48
  y = rng.normal(0., 2., (4, num_dims))
  log_prob_y = rng.normal(-50., 10., 4)
  s = 1 / (1 + np.exp(-y))
  expected = (-log_prob_y / (num_dims * np.log(2)) - np.log2(1 - 2 * alpha) + 8
              + np.mean(np.log2(s) + np.log2(1 - s), axis=1))
  got = bits_per_dim(unit_cube_log_prob_from_logit(log_prob_y, y, alpha),
                     num_dims)
  np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12)
  # Stable where sigmoid saturates in float32.
  extreme = unit_cube_log_prob_from_logit(
      tf.zeros([1]), tf.constant([[-120., 120.]], tf.float32), 0.)
  assert np.isfinite(extreme.numpy()).all()


def test_argument_checks():
  with pytest.raises(ValueError, match="num_dims"):
    bits_per_dim(0., 0)
  with pytest.raises(ValueError, match="num_levels"):
    bits_per_dim(0., 4, num_levels=1)
  with pytest.raises(ValueError, match="num_dims"):
    bits_per_dim(0., 4.0)
  assert bits_per_dim(0., np.int64(4), np.int32(16)) == 4.
  with pytest.raises(ValueError, match="alpha"):
    unit_cube_log_prob_from_logit([0.], [[0.]], 0.5)
  with pytest.raises(ValueError, match=r"\[N, D\]"):
    unit_cube_log_prob_from_logit([0.], [0.], 0.05)
