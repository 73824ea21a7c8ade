"""Shared numerics for numeric inverses: one bounded loop; fixed point, bisection and
bracketed Newton iterations on it; implicit-function gradients."""
from tfp_ldu.solvers.bisection import bisection
from tfp_ldu.solvers.bounded_loop import LoopResult, bounded_loop
from tfp_ldu.solvers.convergence import ConvergenceError, require_converged
from tfp_ldu.solvers.fixed_point import default_tolerance, fixed_point_iteration
from tfp_ldu.solvers.implicit_gradient import attach_implicit_gradient
from tfp_ldu.solvers.numeric_inverse import (NumericInverse, invert_by_bisection,
                                              invert_by_fixed_point, invert_by_newton)
from tfp_ldu.solvers.safeguarded_newton import safeguarded_newton
from tfp_ldu.solvers.truncation import truncated_solves, truncation_limit
