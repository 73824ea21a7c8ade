"""TFP bijectors of tfp_ldu.  Closed-form data -> latent maps are `inverse`;
`forward` is the numeric solve (sampling), as in `tfb.MaskedAutoregressiveFlow`."""
from tfp_ldu.bijectors.ldu import LDU
from tfp_ldu.bijectors.sinusoidal import Sinusoidal
from tfp_ldu.bijectors.triangular_shift import TriangularShift
from tfp_ldu.bijectors.mixture_logistic_cdf import MixtureLogisticCDF
from tfp_ldu.bijectors.mixture_logistic_coupling import MixtureLogisticCoupling, half_transform_mask
from tfp_ldu.bijectors.residual import Residual
