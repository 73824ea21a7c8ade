"""Gradients of a numeric inverse by the implicit-function theorem.

If x solves F(x; theta) = z, then with J = dF/dx and an upstream gradient g,

    dL/dz = lambda,   dL/dtheta = -lambda dF/dtheta,   where lambda J = g.

`attach_implicit_gradient` gives a solved root exactly these gradients without
differentiating through the solver's loop (which XLA cannot compile and which
would cost memory per iteration).  The forward value is the root, unchanged.
"""
import tensorflow as tf

from tfp_ldu.solvers.convergence import require_converged
from tfp_ldu.solvers.fixed_point import fixed_point_iteration

__all__ = ['attach_implicit_gradient']


def _vector_jacobian_product(inverse_fn, root, cotangent):
  """cotangent^T J at `root` (gradient w.r.t. x only)."""
  with tf.GradientTape() as tape:
    tape.watch(root)
    value = inverse_fn(root)
  return tape.gradient(value, root, output_gradients=cotangent)


def attach_implicit_gradient(inverse_fn, root, target, *, diagonal_jacobian_fn=None,
                             tolerance=None, max_iterations_adjoint=None,
                             event_ndims=1):
  """Returns `root` carrying the implicit gradients of F(root) = target.

  Args:
    inverse_fn: F, the closed-form map whose equation was solved; it may read
      parameters (tensors or variables) by closure: their gradients flow through
      ordinary autodiff of F.
    root: `[B..., E...]` solution x (gradients through it are ignored).
    target: `[B..., E...]` right-hand side z.
    diagonal_jacobian_fn: for element-wise maps, `x -> dF/dx` (same shape as x);
      then lambda = g / F'(x) exactly.  If None, J - I must be a contraction or
      nilpotent (triangular shifts, residual maps) and lambda is found by the
      shared fixed-point iteration lambda <- lambda + g - lambda J.
    tolerance, max_iterations_adjoint: for that adjoint iteration.
    event_ndims: event rank of one problem in the adjoint iteration.
  """
  root = tf.stop_gradient(root)

  @tf.custom_gradient
  def zero_carrying_adjoint(residual):
    def grad(upstream):
      if diagonal_jacobian_fn is not None:
        return upstream / diagonal_jacobian_fn(root)
      result = fixed_point_iteration(
          lambda lam: lam + upstream - _vector_jacobian_product(inverse_fn, root, lam),
          upstream, tolerance=tolerance, max_iterations=max_iterations_adjoint,
          event_ndims=event_ndims)
      return require_converged(result.state, result.converged,
                               what="implicit gradient (adjoint solve)",
                               max_iterations=max_iterations_adjoint)
    return tf.zeros_like(residual), grad

  # The residual is ~0 in value but has d/dtarget = I and d/dtheta = -dF/dtheta.
  return root + zero_carrying_adjoint(target - inverse_fn(root))
