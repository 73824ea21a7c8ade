"""TFP bijectors of tfp_ldu.

Conventions (as in `tfb.MaskedAutoregressiveFlow`): the closed-form data ->
latent map is `inverse`, so `log_prob` is one pass; `forward` is the numeric
solve (sampling), and bijectors whose `forward` is a solve derive from
`NumericInverseBijector` (`solve_forward` reports iterations and
non-convergence).  Parameters: bijectors with free parameters (`Sinusoidal`)
take constrained values; transformers driven by a conditioner
(`MixtureLogisticCDF`) take raw network outputs and constrain them inside.
"""
from tfp_ldu.bijectors.numeric_inverse_bijector import NumericInverseBijector, solve_forward
from tfp_ldu.bijectors.ldu import LDU
from tfp_ldu.bijectors.sinusoidal import Sinusoidal
from tfp_ldu.bijectors.triangular_shift import TriangularShift
from tfp_ldu.bijectors.mixture_logistic_cdf import MixtureLogisticCDF
from tfp_ldu.bijectors.masked_coupling import MaskedCoupling
from tfp_ldu.bijectors.masks import half_transform_mask
from tfp_ldu.bijectors.mixture_logistic_coupling import MixtureLogisticCoupling
from tfp_ldu.bijectors.residual import Residual
from tfp_ldu.bijectors.deep_sigmoidal import DeepSigmoidal
from tfp_ldu.bijectors.batch_norm import BatchNorm
from tfp_ldu.bijectors.planar import Planar

from tfp_ldu.bijectors.masks import channel_mask, checkerboard_mask
from tfp_ldu.bijectors.squeeze import Squeeze
from tfp_ldu.bijectors.elementwise_affine import ElementwiseAffine
from tfp_ldu.bijectors.conv1x1_lu import Conv1x1LU
from tfp_ldu.bijectors.first_channels import FirstChannels
from tfp_ldu.bijectors.looped_chain import LoopedChain
from tfp_ldu.bijectors.rational_quadratic_spline import RationalQuadraticSpline
from tfp_ldu.bijectors.conditional_bijector import ConditionalBijector
__all__ = ["NumericInverseBijector", "solve_forward", "LDU", "Sinusoidal",
           "TriangularShift", "MixtureLogisticCDF", "MaskedCoupling", "half_transform_mask",
           "MixtureLogisticCoupling", "Residual", "DeepSigmoidal", "BatchNorm",
           "Planar",
           "checkerboard_mask", "channel_mask", "Squeeze", "ElementwiseAffine", "Conv1x1LU",
           "FirstChannels", "LoopedChain", "RationalQuadraticSpline", "ConditionalBijector"]
