"""Keras 3 layers that own bijector parameters and build fresh bijectors in `bijector()`."""
from tfp_ldu.layers.actnorm import ActNorm
from tfp_ldu.layers.ldu_block import LDUBlock
from tfp_ldu.layers.sinusoidal_parameters import SinusoidalParameters
