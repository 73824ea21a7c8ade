"""Estimators of log det(I + J_g(x)) for residual maps x -> x + g(x) with Lip(g) < 1.

All functions take g as a callable `[..., D] -> [..., D]` acting on each event
independently (any leading dimensions), and return one value per event `[B...]`.

* `exact_log_det`: the full Jacobian by D vector-Jacobian products (one batched
  VJP), then log|det(I + J)| from a QR factorisation.  O(D) passes of g and
  O(D^3) per event: the test oracle and the evaluation mode for small D.
* `power_series_log_det`: the series (Behrmann et al., 2019)

      log det(I + J) = sum_{k>=1} (-1)^{k+1} tr(J^k) / k,

  which converges because every eigenvalue of J has modulus <= Lip(g) < 1,
  with Hutchinson's estimator tr(A) = E[v^T A v] (E[v v^T] = I, Gaussian or
  Rademacher v) and v^T J^k computed by k VJPs.  Which terms are computed and
  how they are weighted (a fixed length, or Russian roulette: unbiased) is a
  `TermSchedule`.  Randomness is stateless: one seed gives one estimate
  (eagerly and in graphs; XLA's stateless kernels turn the same seed into
  other numbers, so compiled estimates agree with uncompiled ones only in
  distribution), and the loop (capped at `schedule.max_terms`) compiles
  under XLA.  Since |tr(J^k)| <= D rho^k for the spectral radius rho of J,
  the cap K's bias is at most D rho^{K+1} / ((K + 1)(1 - rho)) (1e-10 for
  D = 8, rho = 0.5 and the default K = 31 of geometric(0.5)).

The power series is either differentiated by backpropagating through its loop
or, with `neumann_gradient=True`, given the Neumann-series gradient of Residual
Flows (Chen et al., 2019), d log det(I + J) = tr((I + J)^{-1} dJ) with

    (I + J)^{-1} = sum_{k>=0} (-1)^k J^k
    =>  d log det(I + J) ~= sum_{k=0}^{n-1} (-1)^k w_{k+1} v^T J^k (dJ) v = u^T (dJ) v,

where n and w_k are the schedule's number of terms and weights (unbiased for a
roulette schedule) and u^T = sum_k (-1)^k w_{k+1} v^T J^k is accumulated from
the VJPs the value needs anyway.  The backward pass is then one VJP of g
differentiated once (d/d(x, theta) of u^T J v with u, v fixed), whatever the
number of terms: memory does not grow with the series length.
"""
import tensorflow as tf

from tfp_ldu.bijectors.roulette import TermSchedule

__all__ = ["PROBE_DISTRIBUTIONS", "exact_log_det", "hutchinson_probes", "jacobian",
           "power_series_log_det"]

PROBE_DISTRIBUTIONS = ("gaussian", "rademacher")


def jacobian(fn, x):
  """Per-event Jacobian `[B..., D, D]` of `fn` at `x` `[B..., D]` (J[..., i, j] = d fn_i / d x_j).

  Row i is e_i^T J: `x` is tiled D times and one VJP with the cotangents
  e_1..e_D gives all rows.  Unlike `GradientTape.batch_jacobian` it needs no
  `pfor` and takes any batch rank; it compiles under XLA and can be
  differentiated again.
  """
  event_size = tf.compat.dimension_value(x.shape[-1])
  batch_rank = x.shape.rank - 1
  tiled = tf.broadcast_to(x, tf.concat([[event_size], tf.shape(x)], axis=0))
  with tf.GradientTape() as tape:
    tape.watch(tiled)
    value = fn(tiled)
  basis = tf.reshape(tf.eye(event_size, dtype=value.dtype),
                     [event_size] + [1] * batch_rank + [event_size])
  rows = tape.gradient(value, tiled, output_gradients=tf.broadcast_to(basis, tf.shape(value)))
  return tf.transpose(rows, [*range(1, batch_rank + 1), 0, batch_rank + 1])


def exact_log_det(g_fn, x):
  """log|det(I + J_g(x))|, `[B...]`.

  Computed as sum_i log|R_ii| of the QR factorisation of I + J: XLA has no
  kernel for `slogdet` or `lu`, and I + J is well conditioned here (its
  singular values lie in [1 - Lip(g), 1 + Lip(g)]).
  """
  jac = jacobian(g_fn, x)
  identity = tf.eye(tf.compat.dimension_value(x.shape[-1]), dtype=jac.dtype)
  _, upper = tf.linalg.qr(identity + jac)
  return tf.reduce_sum(tf.math.log(tf.abs(tf.linalg.diag_part(upper))), axis=-1)


def hutchinson_probes(shape, dtype, seed, distribution="gaussian"):
  """Probe vectors v with E[v v^T] = I, stateless in `seed` `[2]`.

  gaussian: v ~ N(0, I).  rademacher: entries +-1 with probability 1/2 (lower
  variance: Var[v^T A v] = 2 sum_{i != j} A_ij^2 instead of 2 ||A||_F^2 for
  symmetric A).
  """
  if distribution == "gaussian":
    return tf.random.stateless_normal(shape, seed=seed, dtype=dtype)
  if distribution == "rademacher":
    bits = tf.random.stateless_uniform(shape, seed=seed, minval=0, maxval=2, dtype=tf.int32)
    return tf.cast(2 * bits - 1, dtype)
  raise ValueError(f"probe distribution must be one of {PROBE_DISTRIBUTIONS}; "
                   f"got {distribution!r}.")


def _series_terms(vjp, probes, term_weights, num_terms, *, with_neumann_vector):
  """Sums the weighted terms k = 1..num_terms for every probe.

  Args:
    vjp: w `[P, B..., D]` -> w J (row vectors times the per-event Jacobian).
    probes: v `[P, B..., D]`.
    term_weights: `[max_terms]` tensor, w_k.
    num_terms: scalar int32 tensor <= max_terms.
    with_neumann_vector: also accumulate u = sum_k (-1)^{k+1} w_k v^T J^{k-1}.

  Returns:
    (estimate `[P, B...]` = sum_k (-1)^{k+1} w_k v^T J^k v / k, u or None).
  """
  dtype = probes.dtype
  max_terms = tf.compat.dimension_value(term_weights.shape[0])

  def body(index, row, estimate, *neumann):
    # Term k = index + 1: sign (-1)^{k+1} = (-1)^index; `row` is v^T J^index.
    sign_weight = tf.cast(1 - 2 * (index % 2), dtype) * tf.gather(term_weights, index)
    neumann = tuple(u + sign_weight * row for u in neumann)
    # The VJP is taken inside the loop from a tape recorded outside it: any
    # gradient that reads a forward-graph value (e.g. `tf.tensordot`'s transpose
    # permutation for unknown batch sizes) reads a loop input with no constant
    # value, and its static shape is lost.  A VJP of `tiled` has the probes'
    # shape: restore it so the loop variables keep their shapes.
    row = tf.ensure_shape(vjp(row), probes.shape)
    estimate += sign_weight / tf.cast(index + 1, dtype) * tf.reduce_sum(row * probes, axis=-1)
    return (index + 1, row, estimate, *neumann)

  initial = (tf.constant(0, tf.int32), probes, tf.zeros(tf.shape(probes)[:-1], dtype))
  if with_neumann_vector:
    initial += (tf.zeros_like(probes),)
  final = tf.while_loop(lambda index, *_: index < num_terms, body, initial,
                        maximum_iterations=max_terms)
  return final[2], (final[3] if with_neumann_vector else None)


def power_series_log_det(g_fn, x, schedule: TermSchedule, *, n_probes: int, seed,
                         context=None,
                         probe: str = "gaussian", neumann_gradient: bool = False):
  """Power-series estimate of log det(I + J_g(x)), `[B...]`.

      estimate = mean_p sum_{k=1}^{n} (-1)^{k+1} w_k v_p^T J^k v_p / k,

  with n = `schedule.sample_num_terms`, w_k = `schedule.term_weights` and
  `n_probes` probes v_p per event.  One draw of n serves the whole batch (as
  in Residual Flows), so the loop runs n terms, not the batch's maximum.

  Args:
    g_fn: the residual g, `[..., D] -> [..., D]`.  Its VJPs run inside a
      `tf.while_loop` on a tape recorded outside it; to backpropagate through
      that loop under XLA with a batch size unknown at trace time, g's
      gradient must not need constant tensors of the forward graph as
      compile-time constants (`tf.tensordot` then reads its transpose
      permutation; `tf.matmul` and `tf.reshape` need only shapes).
    x: `[B..., D]`.
    context: None, or a tensor that g also takes, `g_fn(x, context)` (a
      conditional residual's context features `[B, C]`, broadcast by g over
      the probe axis); the Neumann gradient then reaches it as an input.
    schedule: a `TermSchedule` (fixed-length or roulette).
    n_probes: P, probes per event.
    seed: stateless seed `[2]` int32 tensor; split into probe and term seeds.
    probe: "gaussian" or "rademacher".
    neumann_gradient: use the Neumann-series gradient (see the module
      docstring).  The gradient then reaches g's parameters only if g reads
      them as variables (as Keras layers do): tensors that g captures by
      closure get none, since `tf.custom_gradient` cannot see them.

  Returns:
    `[B...]` estimate, differentiable w.r.t. x and g's parameters.
  """
  probe_seed, terms_seed = tf.unstack(
      tf.random.experimental.stateless_split(seed, 2))
  probes = hutchinson_probes(tf.concat([[n_probes], tf.shape(x)], axis=0), x.dtype,
                             probe_seed, probe)
  num_terms = schedule.sample_num_terms(terms_seed)
  term_weights = tf.constant(schedule.term_weights, x.dtype)

  extra = [] if context is None else [context]

  def series(x, with_neumann_vector, *extra):
    tiled = tf.broadcast_to(x, tf.shape(probes))
    with tf.GradientTape(persistent=True) as tape:
      tape.watch(tiled)
      value = g_fn(tiled, *extra)
    vjp = lambda row: tape.gradient(value, tiled, output_gradients=row)
    return _series_terms(vjp, probes, term_weights, num_terms,
                         with_neumann_vector=with_neumann_vector)

  if not neumann_gradient:
    return tf.reduce_mean(series(x, False, *extra)[0], axis=0)

  # The context is an input of the custom gradient (not captured by g), so
  # its gradient is computed too; called positionally (tensorflow #65839).
  @tf.custom_gradient
  def log_det_with_neumann_gradient(x, *extra):
    estimate, neumann = series(x, True, *extra)

    def gradient(upstream, variables=None):
      variables = list(variables or [])
      inputs = [x, *extra]
      # d/d(x, c, theta) of mean_p sum_B upstream * u^T J v with u, v held fixed.
      cotangent = neumann * upstream[tf.newaxis, ..., tf.newaxis] / n_probes
      with tf.GradientTape() as outer:
        outer.watch([*inputs, *variables])
        tiled = tf.broadcast_to(x, tf.shape(probes))
        with tf.GradientTape() as inner:
          inner.watch(tiled)
          value = g_fn(tiled, *extra)
        surrogate = tf.reduce_sum(
            inner.gradient(value, tiled, output_gradients=cotangent) * probes)
      gradients = outer.gradient(surrogate, [*inputs, *variables],
                                 unconnected_gradients=tf.UnconnectedGradients.ZERO)
      return gradients[:len(inputs)], gradients[len(inputs):]

    return tf.reduce_mean(estimate, axis=0), gradient

  return log_det_with_neumann_gradient(x, *extra)
