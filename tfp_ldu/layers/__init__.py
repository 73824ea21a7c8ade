"""Keras 3 layers that own bijector parameters and build fresh bijectors in `bijector()`."""
from tfp_ldu.layers.actnorm import ActNorm
from tfp_ldu.layers.ldu_block import LDUBlock
from tfp_ldu.layers.sinusoidal_parameters import SinusoidalParameters
from tfp_ldu.layers.masked_autoregressive import MaskedAutoregressive
from tfp_ldu.layers.made_shift import MADEShift
from tfp_ldu.layers.mixture_logistic_coupling_layer import MixtureLogisticCouplingLayer
from tfp_ldu.layers.residual_block import ResidualBlock
