"""Flow++ coupling: a conditioned `MixtureLogisticCDF` on part of the event."""
import numpy as np
import tensorflow as tf

from tfp_ldu.bijectors import shape_checks
from tfp_ldu.bijectors.instance_cached import InstanceCachedBijector
from tfp_ldu.bijectors.mixture_logistic_cdf import MixtureLogisticCDF
from tfp_ldu.solvers import NumericInverse

__all__ = ["MixtureLogisticCoupling", "half_transform_mask"]


def half_transform_mask(event_dim: int, second_half: bool = True) -> np.ndarray:
  """`[D]` bool mask transforming the second (or first) half of the event.

  The second half is dims `D // 2 .. D - 1`, the first half the rest; stacking
  couplings with alternating halves transforms every dimension.
  """
  second = np.arange(event_dim) >= event_dim // 2
  return second if second_half else ~second


class MixtureLogisticCoupling(InstanceCachedBijector):
  """Coupling layer whose transformer is a conditioned `MixtureLogisticCDF`.

  With `m` = `transform_mask` (static, `[D]` bool), x_p = x[~m] (pass-through,
  `[..., D_p]`) and x_t = x[m] (transformed, `[..., D_t]`), data -> latent is

      z[~m] = x_p                                       (bit-identical)
      z[m]  = MixtureLogisticCDF(*conditioner(x_p)).inverse(x_t)
      inverse_log_det_jacobian(x) = ildj of that MixtureLogisticCDF at x_t

  since the Jacobian is block-triangular with the identity on the pass-through
  block.  The parts are split and merged by `tf.gather` (no arithmetic), so the
  pass-through values are copied bit for bit.  `forward` reads the same
  parameters from z[~m] = x_p and solves the transformed part by bisection.

  `conditioner` maps x_p to the transformer's parameters `(logits, locs,
  log_scales, log_a, b)` of shapes `[..., D_t, K]` (three) and `[..., D_t]`
  (two); it is typically a Keras layer (see
  `tfp_ldu.layers.MixtureLogisticCouplingLayer`) and the bijector holds no
  variables.  The conditioner runs once per input tensor: `inverse` and
  `inverse_log_det_jacobian` of the same tensor (as in
  `TransformedDistribution.log_prob`) share its output, so a stochastic
  conditioner (dropout) gives a consistent density.  Like TFP's own result
  cache, this assumes both calls are made under the same `GradientTape`.
  """

  def __init__(self, conditioner, transform_mask, min_log_scale=-7., tolerance=None,
               num_halvings=64, validate_args=False, name="mixture_logistic_coupling"):
    """Builds the bijector.

    Args:
      conditioner: callable `[..., D_p] -> (logits, locs, log_scales, log_a, b)`.
      transform_mask: static `[D]` bool sequence, True where the dimension is
        transformed; it must hold at least one True and one False.
      min_log_scale, tolerance, num_halvings: passed to `MixtureLogisticCDF`.
      validate_args: passed to `MixtureLogisticCDF`.
      name: name scope.

    Raises:
      ValueError: if `transform_mask` is not a 1-D bool mask with both parts
        non-empty.
    """
    parameters = dict(locals())
    mask = np.asarray(transform_mask)
    if mask.ndim != 1 or mask.dtype != np.bool_ or mask.all() or not mask.any():
      raise ValueError(
          f"MixtureLogisticCoupling: transform_mask must be a 1-D bool mask with at "
          f"least one transformed (True) and one pass-through (False) dimension; "
          f"received {mask.tolist()!r} of dtype {mask.dtype}.")
    with tf.name_scope(name) as name:
      self._conditioner = conditioner
      self._transform_mask = mask
      self._pass_indices = np.flatnonzero(~mask)
      self._transformed_indices = np.flatnonzero(mask)
      # gather(concat([pass, transformed]), merge_indices) restores the order.
      self._merge_indices = np.argsort(
          np.concatenate([self._pass_indices, self._transformed_indices]))
      self._transformer_kwargs = dict(min_log_scale=min_log_scale, tolerance=tolerance,
                                      num_halvings=num_halvings,
                                      validate_args=validate_args)
      self._conditioned = None
      super().__init__(forward_min_event_ndims=1, validate_args=validate_args,
                       parameters=parameters, name=name)

  @classmethod
  def _parameter_properties(cls, dtype):
    return dict()

  @property
  def conditioner(self):
    return self._conditioner

  @property
  def transform_mask(self):
    """`[D]` numpy bool mask, True where the dimension is transformed."""
    return self._transform_mask.copy()

  def _split(self, x):
    """(pass-through `[..., D_p]`, transformed `[..., D_t]`) parts of `x`."""
    shape_checks.check_event_size(type(self).__name__, x, len(self._transform_mask))
    return (tf.gather(x, self._pass_indices, axis=-1),
            tf.gather(x, self._transformed_indices, axis=-1))

  def _merge(self, pass_through, transformed):
    return tf.gather(tf.concat([pass_through, transformed], axis=-1),
                     self._merge_indices, axis=-1)

  def _conditioned_parts(self, x):
    """(pass-through part, transformed part, transformer) of `x`, once per tensor."""
    if self._conditioned is None or self._conditioned[0] is not x:
      pass_through, transformed = self._split(x)
      transformer_parameters = tuple(self._conditioner(pass_through))
      if len(transformer_parameters) != 5:
        raise ValueError(
            f"MixtureLogisticCoupling: the conditioner must return the 5 tensors "
            f"(logits, locs, log_scales, log_a, b); it returned "
            f"{len(transformer_parameters)}.")
      num_transformed = len(self._transformed_indices)
      shape_checks.check_parameter_shapes(
          "MixtureLogisticCoupling (conditioner output)",
          dict(logits=(num_transformed, None), log_a=(num_transformed,)),
          dict(logits=transformer_parameters[0], log_a=transformer_parameters[3]))
      transformer = MixtureLogisticCDF(*transformer_parameters,
                                       **self._transformer_kwargs)
      self._conditioned = (x, (pass_through, transformed, transformer))
    return self._conditioned[1]

  def _inverse(self, y):
    pass_through, transformed, transformer = self._conditioned_parts(y)
    return self._merge(pass_through, transformer.inverse(transformed))

  def _inverse_log_det_jacobian(self, y):
    _, transformed, transformer = self._conditioned_parts(y)
    return transformer.inverse_log_det_jacobian(transformed, event_ndims=1)

  def solve_forward(self, x):
    """Latent -> data; the transformed part by bisection.  Returns a `NumericInverse`."""
    pass_through, transformed, transformer = self._conditioned_parts(x)
    solved = transformer.solve_forward(transformed)
    return NumericInverse(self._merge(pass_through, solved.value),
                          solved.num_iterations, solved.num_unconverged)

  def _forward(self, x):
    return self.solve_forward(x).value
