"""Numeric inverses of closed-form maps: solve, check convergence, attach gradients.

Every bijector of this library has its closed-form map F (data -> latent) as
`inverse`; its `forward` solves F(x) = z with one of the functions here.
Both return a `NumericInverse` so callers can read how much work the solve took.
"""
from typing import NamedTuple

import tensorflow as tf

from tfp_ldu.solvers.bisection import bisection
from tfp_ldu.solvers.convergence import require_converged
from tfp_ldu.solvers.fixed_point import default_tolerance, fixed_point_iteration
from tfp_ldu.solvers.implicit_gradient import attach_implicit_gradient
from tfp_ldu.solvers.safeguarded_newton import safeguarded_newton
from tfp_ldu.solvers.truncation import truncation_limit

__all__ = ['NumericInverse', 'invert_by_fixed_point', 'invert_by_bisection', 'invert_by_newton']


class NumericInverse(NamedTuple):
  """A solved inverse and what it cost.

  Attributes:
    value: `[B..., E...]` the solution (NaN where a problem did not converge).
    num_iterations: scalar int32, iterations of the loop.
    num_unconverged: scalar int32, problems that hit the iteration cap.
  """
  value: tf.Tensor
  num_iterations: tf.Tensor
  num_unconverged: tf.Tensor

  @classmethod
  def closed_form(cls, value):
    """A value computed in closed form: 0 iterations, nothing unconverged."""
    return cls(value, tf.constant(0, tf.int32), tf.constant(0, tf.int32))

  @classmethod
  def combine(cls, solves, value=None):
    """Solves run one after another: the largest iteration count, the summed
    unconverged counts, and `value` (default: the last solve's value)."""
    solves = list(solves)
    if not solves:
      raise ValueError("NumericInverse.combine needs at least one solve.")
    num_iterations = solves[0].num_iterations
    num_unconverged = solves[0].num_unconverged
    for solved in solves[1:]:
      num_iterations = tf.maximum(num_iterations, solved.num_iterations)
      num_unconverged += solved.num_unconverged
    return cls(solves[-1].value if value is None else value, num_iterations,
               num_unconverged)


def _finish(inverse_fn, target, result, *, what, max_iterations, **gradient_kwargs):
  num_unconverged = tf.reduce_sum(tf.cast(tf.logical_not(result.converged), tf.int32))
  if truncation_limit() is not None:  # Opt-in: the last iterate, as it is.
    return NumericInverse(result.state, result.num_iterations, num_unconverged)
  root = require_converged(result.state, result.converged, what=what,
                           max_iterations=max_iterations)
  root = attach_implicit_gradient(inverse_fn, root, target, **gradient_kwargs)
  return NumericInverse(root, result.num_iterations, num_unconverged)


def invert_by_fixed_point(inverse_fn, target, *, initial=None, tolerance=None,
                          max_iterations: int, event_ndims: int, what: str,
                          diagonal_jacobian_fn=None) -> NumericInverse:
  """Solves F(x) = z for F = identity + (a contraction or a nilpotent map).

  Iterates the Picard map x <- x + z - F(x) (= z - h(x) for F = I + h), which
  converges geometrically when Lip(h) < 1 and exactly after D sweeps when the
  Jacobian of h is strictly triangular.  Gradients: implicit function theorem.

  Args:
    inverse_fn: F, `[B..., E...] -> [B..., E...]`.
    target: z, `[B..., E...]`.
    initial: starting point (default z).
    tolerance: step tolerance (default 1e-5 in float32, 1e-10 in float64).
    max_iterations: static int cap.
    event_ndims: 0 if F acts element-wise, 1 if it mixes a vector's entries.
    what: name used in non-convergence reports.
    diagonal_jacobian_fn: dF/dx for element-wise F (exact, cheap gradients).
  """
  target = tf.convert_to_tensor(target)
  tolerance = default_tolerance(target.dtype) if tolerance is None else tolerance
  result = fixed_point_iteration(
      lambda x: x + (target - inverse_fn(x)),
      target if initial is None else initial,
      tolerance=tolerance, max_iterations=max_iterations, event_ndims=event_ndims)
  return _finish(inverse_fn, target, result, what=what, max_iterations=max_iterations,
                 diagonal_jacobian_fn=diagonal_jacobian_fn, tolerance=tolerance,
                 max_iterations_adjoint=max_iterations, event_ndims=max(event_ndims, 1))


def invert_by_bisection(inverse_fn, target, lower, upper, *, num_halvings: int,
                        tolerance=None, what: str, diagonal_jacobian_fn) -> NumericInverse:
  """Solves F(x) = z element-wise for increasing F with z in [F(lower), F(upper)].

  Args:
    inverse_fn: F, element-wise and increasing.
    target: z.
    lower, upper: a bracket of the root, broadcastable to z.
    num_halvings: static int cap on halvings.
    tolerance: bracket-width tolerance (default as for fixed points).
    what: name used in non-convergence reports.
    diagonal_jacobian_fn: dF/dx, for the implicit gradient.
  """
  target = tf.convert_to_tensor(target)
  tolerance = default_tolerance(target.dtype) if tolerance is None else tolerance
  result = bisection(inverse_fn, target, lower, upper, num_halvings=num_halvings,
                     tolerance=tolerance)
  return _finish(inverse_fn, target, result, what=what, max_iterations=num_halvings,
                 diagonal_jacobian_fn=diagonal_jacobian_fn)


def invert_by_newton(inverse_fn, target, lower, upper, *, initial=None, max_iterations: int,
                     tolerance=None, what: str, diagonal_jacobian_fn) -> NumericInverse:
  """Solves F(x) = z element-wise by bracket-safeguarded Newton iteration.

  Args:
    inverse_fn: F, element-wise and increasing.
    target: z.
    lower, upper: a bracket of the root, broadcastable to z.
    initial: starting point (default: the bracket's midpoint).
    max_iterations: static int cap.
    tolerance: step tolerance (default 1e-5 in float32, 1e-10 in float64).
    what: name used in non-convergence reports.
    diagonal_jacobian_fn: dF/dx (> 0), for the Newton steps and the implicit gradient.
  """
  target = tf.convert_to_tensor(target)
  tolerance = default_tolerance(target.dtype) if tolerance is None else tolerance
  initial = 0.5 * (lower + upper) if initial is None else initial
  result = safeguarded_newton(inverse_fn, diagonal_jacobian_fn, target, lower, upper,
                              initial, max_iterations=max_iterations, tolerance=tolerance)
  return _finish(inverse_fn, target, result, what=what, max_iterations=max_iterations,
                 diagonal_jacobian_fn=diagonal_jacobian_fn)
