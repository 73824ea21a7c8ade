"""Batch normalisation as a bijector (MAF, Papamakarios et al. 2017)."""
import tensorflow as tf

from tfp_ldu.bijectors.instance_cached import InstanceCachedBijector

__all__ = ["BatchNorm"]


class BatchNorm(InstanceCachedBijector):
  """Element-wise normalisation with statistics (m, v) and a learned affine map.

  Data -> latent (the bijector's `inverse`):

      z = (x - m) / sqrt(v + eps) * exp(log_gamma) + beta
      inverse_log_det_jacobian = sum_d [log_gamma_d - 1/2 log(v_d + eps)]

  (the same for every row).  With `mean` and `variance` given, (m, v) are
  those fixed tensors and the map is an invertible affine map (evaluation
  mode).  With `mean=variance=None` (training mode), (m, v) are the biased
  moments of the input to `inverse` over all its leading axes — the batch
  statistics, through which gradients flow — and the log-det treats them as
  constants, as the MAF paper does; `forward` then has no statistics to
  undo and raises.  The moments are computed once per input tensor, and
  `on_batch_moments(mean, variance)`, if given, is called with them then (the
  owning Keras layer updates its moving averages there).

  Shapes: `x`, `z` `[..., D]`; `log_gamma`, `beta`, `mean`, `variance` `[D]`.
  The bijector holds tensors only; `tfp_ldu.layers.BatchNormalization` owns
  the weights.

  #### Example

  ```python
  bij = BatchNorm(log_gamma=tf.zeros(2), beta=tf.zeros(2),
                  mean=tf.constant([1., 0.]), variance=tf.constant([4., 1.]))
  bij.inverse(tf.constant([[3., 1.]]))     # ~[[1., 1.]]
  ```

  #### References

  [1] George Papamakarios, Theo Pavlakou, Iain Murray. Masked Autoregressive
      Flow for Density Estimation. NeurIPS 2017. https://arxiv.org/abs/1705.07057
  """

  def __init__(self, log_gamma, beta, mean=None, variance=None, epsilon=1e-5,
               on_batch_moments=None, validate_args=False, name="batch_norm"):
    """Builds the bijector.

    Args:
      log_gamma: `[D]` log scale.
      beta: `[D]` shift.
      mean: `[D]` fixed mean, or None for the batch mean of the input.
      variance: `[D]` fixed variance (>= 0), or None for the batch variance.
      epsilon: added to the variance.
      on_batch_moments: optional callable `(mean, variance) -> None` called once
        per input with its batch moments (training mode only).
      validate_args: unused (no run-time checks); kept for the TFP API.
      name: name scope.
    """
    parameters = dict(locals())
    if (mean is None) != (variance is None):
      raise ValueError("BatchNorm: give both `mean` and `variance` (evaluation mode) "
                       "or neither (batch statistics).")
    with tf.name_scope(name) as name:
      self._log_gamma = tf.convert_to_tensor(log_gamma)
      dtype = self._log_gamma.dtype
      self._beta = tf.convert_to_tensor(beta, dtype)
      self._mean = None if mean is None else tf.convert_to_tensor(mean, dtype)
      self._variance = None if variance is None else tf.convert_to_tensor(variance, dtype)
      self._epsilon = float(epsilon)
      self._on_batch_moments = on_batch_moments
      self._batch_moments = None  # (input, (mean, variance)) of the last input.
      super().__init__(forward_min_event_ndims=1, is_constant_jacobian=False,
                       validate_args=validate_args, dtype=dtype,
                       parameters=parameters, name=name)

  @classmethod
  def _parameter_properties(cls, dtype):
    return dict()

  @property
  def uses_batch_statistics(self):
    """True in training mode: (m, v) are the moments of the input."""
    return self._mean is None

  def _moments(self, x):
    if not self.uses_batch_statistics:
      return self._mean, self._variance
    if self._batch_moments is not None and self._batch_moments[0] is x:
      return self._batch_moments[1]
    rank = x.shape.rank
    if rank is None or rank < 2:
      raise ValueError(f"BatchNorm: batch statistics need inputs of shape [N, ..., D]; "
                       f"received shape {x.shape}.")
    moments = tf.nn.moments(x, axes=list(range(rank - 1)))
    if self._on_batch_moments is not None:
      self._on_batch_moments(*moments)
    self._batch_moments = (x, moments)
    return moments

  def _log_det(self, variance):
    """sum_d [log_gamma_d - 1/2 log(v_d + eps)], the data -> latent log-det."""
    return tf.reduce_sum(self._log_gamma - 0.5 * tf.math.log(variance + self._epsilon),
                         axis=-1)

  def _inverse(self, y):
    mean, variance = self._moments(y)
    scale = tf.exp(self._log_gamma) * tf.math.rsqrt(variance + self._epsilon)
    return (y - mean) * scale + self._beta

  # No `_forward_log_det_jacobian`: TFP then evaluates the forward log-det as
  # -ILDJ at the cached data-side tensor, which in training mode is the batch
  # whose statistics are in use (`log_prob` asks for it at the latent).
  def _inverse_log_det_jacobian(self, y):
    _, variance = self._moments(y)
    return tf.broadcast_to(self._log_det(variance), tf.shape(y)[:-1])

  def _check_fixed_statistics(self):
    if self.uses_batch_statistics:
      raise NotImplementedError(
          "BatchNorm.forward: in training mode the statistics are those of the data "
          "batch, unknown from latents; build the bijector with training=False.")

  def _forward(self, x):
    self._check_fixed_statistics()
    scale = tf.sqrt(self._variance + self._epsilon) * tf.exp(-self._log_gamma)
    return (x - self._beta) * scale + self._mean
