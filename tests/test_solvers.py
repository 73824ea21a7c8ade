"""The shared solvers: convergence, non-convergence reports, bisection."""
import numpy as np
import pytest
import tensorflow as tf

from tfp_ldu.bijectors import Sinusoidal
from tfp_ldu.solvers import (ConvergenceError, bisection, fixed_point_iteration,
                             invert_by_fixed_point, invert_by_newton)


def slow_sinusoidal(max_iterations, residual_scale=0.999):
  """|r| near 1: the fixed-point rate is ~|r|, far too slow for a few iterations."""
  d, k = 2, 1
  return Sinusoidal(in_scale=tf.ones([d, k], tf.float64), in_shift=tf.zeros([d, k], tf.float64),
                    mix_weights=tf.ones([d, k], tf.float64),
                    out_shift=tf.zeros([d], tf.float64),
                    residual_scale=tf.fill([d], tf.constant(residual_scale, tf.float64)),
                    max_iterations=max_iterations, solver="fixed_point")


def test_fixed_point_stops_per_problem_and_counts_iterations():
  # x <- 0.5 x + c converges to 2c; problems with c = 0 converge at once.
  c = tf.constant([0.0, 1.0, 100.0], tf.float64)
  result = fixed_point_iteration(lambda x: 0.5 * x + c, tf.zeros_like(c),
                                 tolerance=1e-12, max_iterations=200)
  np.testing.assert_allclose(result.state, 2 * c, rtol=1e-10)
  assert bool(tf.reduce_all(result.converged))
  assert 30 < int(result.num_iterations) < 200


def test_unconverged_inverse_raises_eagerly():
  with pytest.raises(ConvergenceError, match=r"2 of 2 problems did not converge within 3"):
    slow_sinusoidal(3).forward(tf.constant([[2.0, -1.5]], tf.float64))


def test_unconverged_inverse_raises_in_a_graph():
  bij = slow_sinusoidal(3)
  with pytest.raises(tf.errors.InvalidArgumentError, match="did not converge within 3"):
    tf.function(bij.forward)(tf.constant([[2.0, -1.5]], tf.float64))


def test_unconverged_inverse_is_nan_under_xla_never_a_wrong_number():
  bij = slow_sinusoidal(3)
  out = tf.function(bij.forward, jit_compile=True)(tf.constant([[2.0, 0.0]], tf.float64))
  assert np.isnan(out[0, 0])  # did not converge in 3 iterations: reported as NaN
  assert out[0, 1] == 0.0  # the fixed point at 0 converged


def test_solve_reports_diagnostics():
  solved = slow_sinusoidal(5000, 0.99).solve_forward(tf.constant([[2.0, -1.5]], tf.float64))
  assert int(solved.num_unconverged) == 0
  assert 100 < int(solved.num_iterations) < 5000


def test_newton_solver_needs_few_iterations_where_the_fixed_point_needs_many():
  z = tf.constant([[2.0, -1.5]], tf.float64)
  picard = slow_sinusoidal(5000, 0.99).solve_forward(z)
  newton_bijector = Sinusoidal(**{**slow_sinusoidal(5000, 0.99).parameters,
                                  "solver": "newton", "max_iterations": 100})
  newton = newton_bijector.solve_forward(z)
  np.testing.assert_allclose(newton.value, picard.value, atol=1e-9)
  np.testing.assert_allclose(newton_bijector.inverse(tf.identity(newton.value)), z, atol=1e-12)
  assert int(newton.num_iterations) < int(picard.num_iterations) / 10


def test_newton_two_cycle_between_the_bracket_ends_falls_back_to_bisection():
  # F(x) = sign(x) sqrt|x| is increasing with root 0; Newton from x = 1 goes to
  # 1 - F(1) / F'(1) = -1 and back to 1, exactly, in floating point.  Both
  # points are the bracket's ends, so the step must bisect, not cycle.
  fn = lambda x: tf.sign(x) * tf.sqrt(tf.abs(x))
  derivative = lambda x: 0.5 / tf.sqrt(tf.abs(x))
  for dtype in (tf.float32, tf.float64):
    solved = invert_by_newton(fn, tf.zeros([3], dtype), -1.0, 1.0,
                              initial=tf.ones([3], dtype), max_iterations=50,
                              what="sqrt", diagonal_jacobian_fn=derivative)
    np.testing.assert_array_equal(solved.value, np.zeros(3))
    assert int(solved.num_iterations) < 5


def test_unknown_solver_is_rejected():
  with pytest.raises(ValueError, match='solver must be "newton" or "fixed_point"'):
    Sinusoidal(**{**slow_sinusoidal(5).parameters, "solver": "secant"})


def test_bisection_finds_roots_of_a_monotone_map():
  target = tf.constant([-1e3, -2.0, 0.5, 7.0], tf.float64)
  result = bisection(lambda x: x ** 3 + x, target, -20.0, 20.0, num_halvings=80,
                     tolerance=1e-14)
  x = result.state.numpy()
  np.testing.assert_allclose(x ** 3 + x, target, rtol=1e-10)
  assert bool(tf.reduce_all(result.converged))


def test_implicit_gradient_of_fixed_point_matches_closed_form():
  # x + 0.5 sin(x) = z  =>  dx/dz = 1 / (1 + 0.5 cos x); the general (adjoint
  # iteration) path is used since no diagonal Jacobian is given.
  z = tf.constant([[0.3, -2.0, 4.0]], tf.float64)
  with tf.GradientTape() as tape:
    tape.watch(z)
    solved = invert_by_fixed_point(lambda x: x + 0.5 * tf.sin(x), z, max_iterations=200,
                                   event_ndims=1, what="test")
  grad = tape.gradient(solved.value, z)
  np.testing.assert_allclose(grad, 1 / (1 + 0.5 * np.cos(solved.value)), rtol=1e-8)


def test_static_iteration_cap_is_required():
  with pytest.raises(ValueError, match="max_iterations must be a positive Python int"):
    fixed_point_iteration(lambda x: x, tf.zeros([2]), tolerance=1e-5,
                          max_iterations=tf.constant(3))


@pytest.mark.parametrize("jit_compile", [False, True])
def test_a_nan_event_never_counts_as_converged(jit_compile):
  """XLA's CPU reduce_max skips NaN; the per-event test must not let a NaN row pass."""
  @tf.function(jit_compile=jit_compile)
  def run(x):
    nan_row = tf.constant([[0.0, 0.0], [np.nan, 0.0]])
    return fixed_point_iteration(lambda v: 0.5 * v + nan_row, x, tolerance=1e-6,
                                 max_iterations=50, event_ndims=1).converged
  converged = run(tf.ones([2, 2])).numpy()
  assert converged.tolist() == [True, False]


def test_sinusoidal_matmul_form_matches_the_elementwise_form():
  """Unbatched [D, K] parameters take block-diagonal matmuls; batched ones the
  element-wise sums of the docstring's formulas.  Both, and the formulas, agree."""
  rng = np.random.default_rng(4)
  d, k = 3, 4
  a = rng.uniform(0.2, 3.0, (d, k))
  b, c = rng.normal(size=(d, k)), rng.normal(size=d)
  w = rng.dirichlet(np.ones(k), size=d)
  r = rng.uniform(-0.95, 0.95, d)
  x = rng.normal(size=(2, 5, d)) * 2.0
  unbatched = Sinusoidal(a, b, w, c, r)
  batched = Sinusoidal(a[None], b[None], w[None], c[None], r[None])  # [1, D, K]: element-wise.
  u = a * x[..., None] + b
  z = x + r * np.sum(w * (np.sin(2 * b) - np.sin(2 * u)) / (2 * a), -1) + c
  log_det = np.sum(np.log1p(-r * np.sum(w * np.cos(2 * u), -1)), -1)
  for bijector in (unbatched, batched):
    np.testing.assert_allclose(bijector.inverse(x), z, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(bijector.inverse_log_det_jacobian(x, event_ndims=1),
                               np.broadcast_to(log_det, (2, 5)), rtol=1e-12, atol=1e-12)
  # A single event (rank 1) keeps its shape.
  np.testing.assert_allclose(unbatched.inverse(x[0, 0]), z[0, 0], rtol=1e-12, atol=1e-12)


def test_sinusoidal_above_the_block_diagonal_size_runs_element_wise(monkeypatch):
  """Block-diagonal matrices hold D^2 K entries: above `BLOCK_DIAGONAL_MAX_EVENT_SIZE`
  unbatched parameters take the element-wise sums (no MatMul), with the same values."""
  from tfp_ldu.bijectors import sinusoidal
  rng = np.random.default_rng(5)
  d, k = 3, 2
  a, b = rng.uniform(0.2, 3.0, (d, k)), rng.normal(size=(d, k))
  w, c, r = rng.dirichlet(np.ones(k), size=d), rng.normal(size=d), rng.uniform(-0.9, 0.9, d)
  x = rng.normal(size=(4, d))
  bijector = Sinusoidal(a, b, w, c, r)

  def run():
    fn = tf.function(lambda t: (bijector.inverse(t),
                                bijector.inverse_log_det_jacobian(t, event_ndims=1)))
    ops = {op.type for op in fn.get_concrete_function(tf.constant(x)).graph.get_operations()}
    return [v.numpy() for v in fn(tf.constant(x))], "MatMul" in ops

  matmul_values, used_matmul = run()
  monkeypatch.setattr(sinusoidal, "BLOCK_DIAGONAL_MAX_EVENT_SIZE", d - 1)
  elementwise_values, used_matmul_above = run()
  assert used_matmul and not used_matmul_above
  for ours, theirs in zip(elementwise_values, matmul_values):
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)


def test_the_sinusoidal_kernel_benchmark_times_both_kernels_and_restores_the_limit():
  from bench import sinusoidal_kernels
  from tfp_ldu.bijectors import sinusoidal
  limit = sinusoidal.BLOCK_DIAGONAL_MAX_EVENT_SIZE
  times = sinusoidal_kernels.time_kernels(3, batch=4, k=2)
  assert set(times) == {"block_diagonal", "element_wise"} and min(times.values()) > 0
  assert sinusoidal.BLOCK_DIAGONAL_MAX_EVENT_SIZE == limit
