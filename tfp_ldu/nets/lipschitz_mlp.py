"""A contractive MLP g with Lip(g) < 1 (i-ResNet / Residual Flows) as a Keras 3 layer."""
import math

import keras
import tensorflow as tf

from tfp_ldu.nets.context_inputs import check_context
from tfp_ldu.nets.context_inputs import concat_context

from tfp_ldu.solvers import default_tolerance, fixed_point_iteration

__all__ = ["LipschitzMLP", "lipswish", "rayleigh_quotient", "spectral_norm_estimate"]

# LipSwish divides by sup_z d/dz [z sigmoid(z)] = 1.0998... < 1.1 (Chen et al., 2019).
_SWISH_SLOPE_BOUND = 1.1


def lipswish(x, beta):
  """LipSwish(x) = x sigmoid(beta x) / 1.1, 1-Lipschitz for every beta > 0.

  d/dx = [s + beta x s (1 - s)] / 1.1 with s = sigmoid(beta x); as a function
  of z = beta x the bracket lies in (-0.1, 1.0999), so |d/dx| < 1.
  """
  return x * tf.sigmoid(beta * x) / _SWISH_SLOPE_BOUND


def _matmul_last_axis(h, kernel):
  """h `[..., m]` times kernel `[m, n]` -> `[..., n]`, as one `[-1, m] x [m, n]` product.

  Not `tf.tensordot`: for inputs whose leading dimensions are unknown at trace
  time it inserts a `Transpose` whose permutation is a tensor, and that
  Transpose's gradient reads the permutation.  The power-series log-det
  estimators take VJPs of g inside a `tf.while_loop` from a tape recorded
  outside it; there the permutation is a loop input, so the VJP loses its
  static shape and, when the loop is itself differentiated, XLA rejects the
  permutation as not a compile-time constant.  The gradients of `reshape` and
  `matmul` read only the shapes of their inputs, which stay known.
  """
  flat = tf.matmul(tf.reshape(h, [-1, tf.compat.dimension_value(kernel.shape[0])]), kernel)
  return tf.reshape(flat, tf.concat([tf.shape(h)[:-1], tf.shape(kernel)[-1:]], axis=0))


def _power_iteration_step(kernel, right):
  """One step of power iteration on `kernel` `[m, n]`: right `[n]` -> (left `[m]`, right `[n]`)."""
  left = tf.math.l2_normalize(tf.linalg.matvec(kernel, right))
  right = tf.math.l2_normalize(tf.linalg.matvec(kernel, left, transpose_a=True))
  return left, right


def rayleigh_quotient(kernel, left, right):
  """sigma = left^T kernel right for unit vectors; differentiable in `kernel`."""
  return tf.tensordot(left, tf.linalg.matvec(kernel, right), axes=1)


def spectral_norm_estimate(kernel, right, num_iterations=None, max_iterations=None):
  """Power-iteration estimate of the largest singular value of `kernel`.

  Runs either exactly `num_iterations` steps (a static Python loop: the
  training update) or, with `max_iterations`, the shared fixed-point loop until
  the right singular vector moves less than the dtype's tolerance
  (1e-5 float32 / 1e-10 float64) or the cap is hit.  Then

      left = normalize(kernel right),   sigma = left^T kernel right  <= sigma_max.

  The estimate is a lower bound; its relative error is quadratic in the
  vector's error, and when convergence is slow (sigma_2 ~ sigma_1) the
  estimate is ~sigma_2 ~ sigma_1 anyway.

  Args:
    kernel: `[m, n]` matrix.
    right: `[n]` unit starting vector (the stored power-iteration state).
    num_iterations: static number of steps, or None.
    max_iterations: static cap of the converging loop (if `num_iterations` is None).

  Returns:
    (sigma scalar, left `[m]`, right `[n]`); sigma is differentiable w.r.t.
    `kernel` (d sigma = left right^T), the vectors carry no gradient.
  """
  kernel_value = tf.stop_gradient(tf.convert_to_tensor(kernel))
  if num_iterations is not None:
    for _ in range(num_iterations):
      _, right = _power_iteration_step(kernel_value, right)
  else:
    right = fixed_point_iteration(
        lambda r: _power_iteration_step(kernel_value, r)[1], right,
        tolerance=default_tolerance(kernel_value.dtype), max_iterations=max_iterations,
        event_ndims=1).state
  left, _ = _power_iteration_step(kernel_value, right)
  left, right = tf.stop_gradient(left), tf.stop_gradient(right)
  return rayleigh_quotient(kernel, left, right), left, right


@keras.saving.register_keras_serializable(package="tfp_ldu")
class LipschitzMLP(keras.layers.Layer):
  """g: `[..., D] -> [..., D]` with Lipschitz constant at most coeff^L < 1.

      h_0 = x,   h_l = LipSwish_l(h_{l-1} W~_l + b_l)  (l < L),   g(x) = h_{L-1} W~_L + b_L
      W~_l = W_l / max(1, sigma_l / coeff),   LipSwish_l(a) = a sigmoid(beta_l a) / 1.1

  with beta_l = softplus(raw_beta_l) > 0 learnable (one scalar per hidden
  layer, starting at 1) and sigma_l the spectral-norm estimate of W_l.  Each
  W~_l has norm <= coeff (given an accurate sigma_l) and LipSwish is
  1-Lipschitz, so Lip(g) <= coeff^L with L = len(hidden_units) + 1.

  Spectral normalisation (Miyato et al., 2018) keeps one power-iteration vector
  per layer as a non-trainable weight:

  * `training=True`: `n_power_iterations` steps from the stored vector, which is
    then assigned back (a variable update, so it runs inside `model.fit`, also
    with `jit_compile=True`).  Weights change slowly between steps, so the
    warm-started estimate tracks sigma_l closely.
  * otherwise (evaluation, sampling): power iteration from the stored vector
    until the vector converges to the dtype's tolerance (at most
    `max_eval_power_iterations` steps); the state is left unchanged.  The
    estimate is a lower bound of sigma_l whose relative error is quadratic in
    the vector's (below float precision once converged), far inside the margin
    that `coeff` < 1 leaves (3% per layer at 0.97): so Lip(g) < 1 holds at
    evaluation.  An exact SVD is not used: XLA's CPU SVD is orders of
    magnitude slower per layer and call (docs/performance.md).

  The vectors start converged: their initializer runs the evaluation loop on
  the initial kernel.  Weights are created in `build`.

  Conditional (`context_size=C > 0`): g(x, c) = MLP([x, c]), the context
  features concatenated to x (`concat_context`) and the first kernel
  `[D + C, H]` normalised as a whole: its x rows are a sub-block, whose norm
  is at most the whole kernel's, so Lip(g(., c)) <= coeff^L still holds in x
  for every c, while c enters freely.

  `lipschitz_map(training)` returns g with this call's spectral estimates
  fixed, reading the Keras variables inside g itself (so `tf.custom_gradient`
  sees them): the residual bijectors call g many times per step.
  """

  def __init__(self, event_dim, hidden_units=(64, 64), coeff=0.97, n_power_iterations=5,
               max_eval_power_iterations=200, kernel_initializer="glorot_uniform",
               context_size=0, **kwargs):
    """Builds the layer.

    Args:
      event_dim: D, the input and output size.
      hidden_units: sizes of the hidden layers.
      coeff: per-layer spectral-norm bound, in (0, 1).
      n_power_iterations: power-iteration steps per training call (static).
      max_eval_power_iterations: cap of the converging loop used otherwise.
      kernel_initializer: Keras initializer of the W_l.
      context_size: C, context features read with x (0: unconditional).
      **kwargs: standard Keras layer arguments (`name`, `dtype`, ...).
    """
    super().__init__(**kwargs)
    if int(event_dim) < 1:
      raise ValueError(f"LipschitzMLP: event_dim must be >= 1; got {event_dim}.")
    if not 0.0 < float(coeff) < 1.0:
      raise ValueError(f"LipschitzMLP: coeff must be in (0, 1) so that Lip(g) < 1; "
                       f"got {coeff}.")
    if int(n_power_iterations) < 1 or int(max_eval_power_iterations) < 1:
      raise ValueError("LipschitzMLP: n_power_iterations and max_eval_power_iterations "
                       f"must be >= 1; got {n_power_iterations} and "
                       f"{max_eval_power_iterations}.")
    self.event_dim = int(event_dim)
    self.hidden_units = tuple(int(h) for h in hidden_units)
    self.coeff = float(coeff)
    self.n_power_iterations = int(n_power_iterations)
    self.max_eval_power_iterations = int(max_eval_power_iterations)
    self.kernel_initializer = keras.initializers.get(kernel_initializer)
    self.context_size = int(context_size)

  def build(self, input_shape):
    if input_shape[-1] is not None and input_shape[-1] != self.event_dim:
      raise ValueError(f"LipschitzMLP: expected input of shape [..., {self.event_dim}]; "
                       f"received shape {list(input_shape)}.")
    sizes = [self.event_dim + self.context_size, *self.hidden_units, self.event_dim]
    self._kernels, self._biases, self._power_vectors, self._raw_betas = [], [], [], []
    for index, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
      kernel = self.add_weight(shape=(fan_in, fan_out), initializer=self.kernel_initializer,
                               name=f"kernel_{index}")
      self._kernels.append(kernel)
      self._biases.append(self.add_weight(shape=(fan_out,), initializer="zeros",
                                          name=f"bias_{index}"))
      self._power_vectors.append(self.add_weight(
          shape=(fan_out,), initializer=self._converged_vector_initializer(kernel),
          trainable=False, name=f"power_iteration_vector_{index}"))
    for index in range(len(self.hidden_units)):
      self._raw_betas.append(self.add_weight(
          shape=(), initializer=keras.initializers.Constant(math.log(math.e - 1.0)),
          name=f"raw_beta_{index}"))

  def _converged_vector_initializer(self, kernel):
    def initializer(shape, dtype=None):
      start = tf.math.l2_normalize(tf.ones(shape, dtype=dtype))
      return spectral_norm_estimate(tf.cast(kernel, dtype), start,
                                    max_iterations=self.max_eval_power_iterations)[2]
    return initializer

  def spectral_norms(self, training=None):
    """Estimates sigma_l of every W_l (and updates the state when training).

    Returns:
      list of `(sigma_l, left_l, right_l)` as in `spectral_norm_estimate`.
    """
    estimates = []
    for kernel, vector in zip(self._kernels, self._power_vectors):
      start = tf.convert_to_tensor(vector)
      if training:
        estimate = spectral_norm_estimate(kernel, start, num_iterations=self.n_power_iterations)
        vector.assign(estimate[2])
      else:
        estimate = spectral_norm_estimate(kernel, start,
                                          max_iterations=self.max_eval_power_iterations)
      estimates.append(estimate)
    return estimates

  def lipschitz_map(self, training=None):
    """g with this call's power-iteration vectors; `[..., D] -> [..., D]`.

    Conditional: g(x, context) with context features `[N, C]`.
    """
    vectors = [(left, right) for _, left, right in self.spectral_norms(training)]
    coeff = self.coeff

    def g(x, context=None):
      check_context(type(self).__name__, self.context_size, context)
      h = concat_context(x, context)
      for index, (kernel, bias, (left, right)) in enumerate(
          zip(self._kernels, self._biases, vectors)):
        kernel = tf.convert_to_tensor(kernel)
        sigma = rayleigh_quotient(kernel, left, right)
        kernel = kernel / tf.maximum(tf.ones([], kernel.dtype), sigma / coeff)
        h = _matmul_last_axis(h, kernel) + bias
        if index < len(self._raw_betas):
          h = lipswish(h, tf.nn.softplus(self._raw_betas[index]))
      return h

    return g

  def call(self, x, context=None, training=None):
    return self.lipschitz_map(training)(x, context)

  def compute_output_shape(self, input_shape):
    return tuple(input_shape)

  def get_config(self):
    return {**super().get_config(), "event_dim": self.event_dim,
            "hidden_units": list(self.hidden_units), "coeff": self.coeff,
            "n_power_iterations": self.n_power_iterations,
            "max_eval_power_iterations": self.max_eval_power_iterations,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "context_size": self.context_size}
