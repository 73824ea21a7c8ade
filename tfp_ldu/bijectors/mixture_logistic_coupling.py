"""Flow++ coupling: a `MaskedCoupling` whose transformer is a `MixtureLogisticCDF`."""
import functools

from tfp_ldu.bijectors import shape_checks
from tfp_ldu.bijectors.masked_coupling import MaskedCoupling
from tfp_ldu.bijectors.masks import half_transform_mask
from tfp_ldu.bijectors.mixture_logistic_cdf import MixtureLogisticCDF

__all__ = ["MixtureLogisticCoupling", "half_transform_mask"]


class MixtureLogisticCoupling(MaskedCoupling):
  """`MaskedCoupling` with the mixture-of-logistics CDF of Flow++ as transformer.

      z[m] = MixtureLogisticCDF(logits, locs, log_scales, log_a, b).inverse(x[m])

  where the conditioner maps the event with x[m] zeroed to the 5 tensors
  `(logits, locs, log_scales, log_a, b)` of shapes `[..., D_t, K]` (three)
  and `[..., D_t]` (two); see `MaskedCoupling` for the split and the log-det
  and `MixtureLogisticCDF` for the transformer and its bisection inverse.
  """

  def __init__(self, conditioner, transform_mask, min_log_scale=-7., tolerance=None,
               num_halvings=64, validate_args=False, name="mixture_logistic_coupling"):
    """Builds the bijector.

    Args:
      conditioner: callable `[..., *E] -> (logits, locs, log_scales, log_a, b)`.
      transform_mask: static bool array of the event shape, True where the
        element is transformed; at least one True and one False.
      min_log_scale, tolerance, num_halvings, validate_args: passed to
        `MixtureLogisticCDF`.
      name: name scope.
    """
    transformer_fn = functools.partial(
        MixtureLogisticCDF, min_log_scale=min_log_scale, tolerance=tolerance,
        num_halvings=num_halvings, validate_args=validate_args)
    super().__init__(conditioner, transformer_fn, transform_mask,
                     validate_args=validate_args, name=name)

  def _check_theta(self, theta, transformed):
    if len(theta) != 5:
      raise ValueError(
          f"MixtureLogisticCoupling: the conditioner must return the 5 tensors "
          f"(logits, locs, log_scales, log_a, b); it returned {len(theta)}.")
    num_transformed = len(self._transformed_indices)
    shape_checks.check_parameter_shapes(
        "MixtureLogisticCoupling (conditioner output)",
        dict(logits=(num_transformed, None), log_a=(num_transformed,)),
        dict(logits=theta[0], log_a=theta[3]))
