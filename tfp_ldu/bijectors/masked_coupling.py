"""Coupling layer on any mask: a conditioned transformer on the masked-in elements."""
import numpy as np
import tensorflow as tf

from tfp_ldu.bijectors.last_input_cache import LastInputCache
from tfp_ldu.bijectors.numeric_inverse_bijector import NumericInverseBijector
from tfp_ldu.bijectors.numeric_inverse_bijector import solve_forward
from tfp_ldu.bijectors.shape_checks import check_transform_mask

__all__ = ["MaskedCoupling"]


class MaskedCoupling(NumericInverseBijector):
  """`z[~m] = x[~m]`, `z[m] = T_theta(x[~m]).inverse(x[m])` for a static mask m.

  With `m` = `transform_mask` (a bool array of the event shape E: `[D]` for
  vectors, `[H, W, C]` for images), the event is flattened in row-major
  order (NHWC: channels fastest) and split into the pass-through elements
  x_p = x[~m] (`[..., D_p]`) and the transformed elements x_t = x[m]
  (`[..., D_t]`).  Data -> latent (`inverse`, closed form if T's is):

      theta = conditioner(where(m, 0, x))           x with x_t zeroed, `[..., *E]`
      z[~m] = x_p                                   (bit-identical: gathers only)
      z[m]  = transformer_fn(*theta).inverse(x_t)
      inverse_log_det_jacobian(x) = ildj of that transformer at x_t

  since the Jacobian is block-triangular with the identity on the pass-through
  block.  `forward` reads theta from z with z_t zeroed (= x with x_t zeroed)
  and inverts the transformer; if the transformer is a
  `NumericInverseBijector` its solve is reported by `solve_forward`.

  The conditioner sees the whole event with the transformed elements zeroed,
  so a vector conditioner can gather the pass-through entries and a
  convolutional one can keep the image layout.  It returns the transformer's
  parameters (a tensor or a tuple of tensors) for the D_t transformed
  elements in flat order, e.g. `[..., D_t, K]`; `transformer_fn(*theta)` must
  return a bijector on `[..., D_t]` vectors (event rank 1), typically
  element-wise: `MixtureLogisticCDF` (Flow++), an affine map (RealNVP, Glow),
  a shift (NICE).  The conditioner runs once per input tensor: `inverse` and
  `inverse_log_det_jacobian` of the same tensor (as in
  `TransformedDistribution.log_prob`) share its output, so a stochastic
  conditioner (dropout) gives a consistent density.

  #### Example

  ```python
  mask = np.array([False, True, False, True])        # transform elements 1 and 3
  conditioner = lambda masked: (0.5 * tf.gather(masked, [0, 2], axis=-1),  # log-scale
                                tf.gather(masked, [0, 2], axis=-1))       # shift
  affine = lambda log_scale, shift: tfb.Chain([tfb.Shift(shift),
                                               tfb.Scale(log_scale=log_scale)])
  coupling = MaskedCoupling(conditioner, affine, mask)
  z = coupling.inverse(tf.constant([[1., 2., 3., 4.]]))   # elements 0 and 2 pass through
  ```

  #### References

  [1] Dinh, Krueger, Bengio. NICE: Non-linear Independent Components
      Estimation. https://arxiv.org/abs/1410.8516
  [2] Dinh, Sohl-Dickstein, Bengio. Density estimation using Real NVP.
      https://arxiv.org/abs/1605.08803
  [3] Ho, Chen, Srinivas, Duan, Abbeel. Flow++. https://arxiv.org/abs/1902.00275
  """

  def __init__(self, conditioner, transformer_fn, transform_mask, validate_args=False,
               name="masked_coupling"):
    """Builds the bijector.

    Args:
      conditioner: callable `[..., *E] -> theta` (see the class docstring).
      transformer_fn: callable `(*theta) -> tfb.Bijector` on `[..., D_t]`.
      transform_mask: static bool array of the event shape E, True where the
        element is transformed; it must hold at least one True and one False.
      validate_args: TFP's flag (kept for the API; the mask is checked here).
      name: name scope.

    Raises:
      ValueError: if `transform_mask` is not a bool array with both parts
        non-empty.
    """
    parameters = dict(locals())
    mask = check_transform_mask(type(self).__name__, transform_mask)
    with tf.name_scope(name) as name:
      self._conditioner = conditioner
      self._transformer_fn = transformer_fn
      self._transform_mask = mask
      flat = mask.reshape(-1)
      self._pass_indices = np.flatnonzero(~flat)
      self._transformed_indices = np.flatnonzero(flat)
      # gather(concat([pass, transformed]), merge_indices) restores the order.
      self._merge_indices = np.argsort(
          np.concatenate([self._pass_indices, self._transformed_indices]))
      self._conditioned_parts = LastInputCache(self._condition)
      super().__init__(event_shape=mask.shape, forward_min_event_ndims=mask.ndim,
                       validate_args=validate_args, parameters=parameters, name=name)

  @classmethod
  def _parameter_properties(cls, dtype):
    return dict()

  conditioner = property(lambda self: self._conditioner, doc="The conditioner.")
  transformer_fn = property(lambda self: self._transformer_fn,
                            doc="`(*theta) -> bijector` on the transformed elements.")

  @property
  def transform_mask(self):
    """Numpy bool mask of the event shape, True where the element is transformed."""
    return self._transform_mask.copy()

  def _flatten(self, x):
    """`[..., *E] -> [..., D]`."""
    if self._transform_mask.ndim == 1:
      return x
    batch_shape = tf.shape(x)[:tf.rank(x) - self._transform_mask.ndim]
    return tf.reshape(x, tf.concat([batch_shape, [self._transform_mask.size]], axis=0))

  def _unflatten(self, flat):
    """`[..., D] -> [..., *E]`."""
    if self._transform_mask.ndim == 1:
      return flat
    return tf.reshape(flat, tf.concat([tf.shape(flat)[:-1], self._transform_mask.shape],
                                      axis=0))

  def _check_theta(self, theta, transformed):
    """Hook for subclasses: validate the conditioner's output."""

  def _condition(self, x):
    """(pass-through `[..., D_p]`, transformed `[..., D_t]`, transformer) of x.

    Called through `self._conditioned_parts` (`LastInputCache`): once per x,
    shared by the value and the log-det.
    """
    self._check_event(x)
    flat = self._flatten(x)
    pass_through = tf.gather(flat, self._pass_indices, axis=-1)
    transformed = tf.gather(flat, self._transformed_indices, axis=-1)
    masked = tf.where(tf.constant(self._transform_mask), tf.zeros([], x.dtype), x)
    theta = self._conditioner(masked)
    theta = tuple(theta) if isinstance(theta, (tuple, list)) else (theta,)
    self._check_theta(theta, transformed)
    return pass_through, transformed, self._transformer_fn(*theta)

  def _merge(self, pass_through, transformed):
    flat = tf.gather(tf.concat([pass_through, transformed], axis=-1),
                     self._merge_indices, axis=-1)
    return self._unflatten(flat)

  def _inverse(self, y):
    pass_through, transformed, transformer = self._conditioned_parts(y)
    return self._merge(pass_through, transformer.inverse(transformed))

  def _inverse_log_det_jacobian(self, y):
    _, transformed, transformer = self._conditioned_parts(y)
    return transformer.inverse_log_det_jacobian(transformed, event_ndims=1)

  def _solve_forward(self, x):
    """Latent -> data: the transformer's inverse on the transformed elements."""
    pass_through, transformed, transformer = self._conditioned_parts(x)
    solved = solve_forward(transformer, transformed)
    return solved._replace(value=self._merge(pass_through, solved.value))
