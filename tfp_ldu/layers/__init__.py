"""Keras 3 layers that own bijector weights and build fresh bijectors in `bijector()`.

Every flow layer is a `BijectorLayer`: `bijector(training=None, context=None)` builds a
TFP bijector from the current weights, `call(x)` is its data -> latent map,
and `initialize(x)` runs data-dependent initialisation (walked recursively).
"""
from tfp_ldu.layers.bijector_layer import BijectorLayer
from tfp_ldu.layers.actnorm import ActNorm
from tfp_ldu.layers.ldu_block import LDUBlock
from tfp_ldu.layers.sinusoidal_parameters import SinusoidalParameters
from tfp_ldu.layers.masked_autoregressive import MaskedAutoregressive
from tfp_ldu.layers.made_shift import MADEShift
from tfp_ldu.layers.mixture_logistic_coupling_layer import MixtureLogisticCouplingLayer
from tfp_ldu.layers.residual_block import ResidualBlock
from tfp_ldu.layers.uniform_dequantizer import UniformDequantizer
from tfp_ldu.layers.logit_preprocessing import LogitPreprocessing
from tfp_ldu.layers.pixelcnn_shift import PixelCNNShift
from tfp_ldu.layers.deep_sigmoidal_layer import DeepSigmoidalLayer
from tfp_ldu.layers.batch_normalization import BatchNormalization
from tfp_ldu.layers.made_mog import MADEMoG
from tfp_ldu.layers.planar_layer import PlanarLayer

from tfp_ldu.layers.squeeze_layer import SqueezeLayer
from tfp_ldu.layers.image_actnorm import ImageActNorm
from tfp_ldu.layers.invertible_conv1x1 import InvertibleConv1x1
from tfp_ldu.layers.affine_coupling_layer import AffineCouplingLayer
from tfp_ldu.layers.split_prior import SplitPrior
from tfp_ldu.layers.first_channels_layer import FirstChannelsLayer
from tfp_ldu.layers.image_mixture_logistic_coupling_layer import ImageMixtureLogisticCouplingLayer
from tfp_ldu.layers.variational_dequantizer import VariationalDequantizer
from tfp_ldu.layers.stacked_ldu_blocks import StackedLDUBlocks
from tfp_ldu.layers.flatten_event import FlattenEvent
from tfp_ldu.layers.context_prior import ContextPrior
from tfp_ldu.layers.context_standardization import ContextStandardization
from tfp_ldu.layers.standardization import Standardization
from tfp_ldu.layers.integer_dequantizer import IntegerDequantizer
from tfp_ldu.layers.column_bounds import ColumnBounds
from tfp_ldu.layers.vector_coupling_layer import VectorCouplingLayer
__all__ = ["BijectorLayer", "ActNorm", "LDUBlock", "SinusoidalParameters",
           "MaskedAutoregressive", "MADEShift", "MixtureLogisticCouplingLayer",
           "ResidualBlock", "UniformDequantizer", "LogitPreprocessing", "PixelCNNShift",
           "DeepSigmoidalLayer", "BatchNormalization", "MADEMoG", "PlanarLayer",
           "SqueezeLayer", "ImageActNorm", "InvertibleConv1x1", "AffineCouplingLayer", "SplitPrior", "FirstChannelsLayer", "ImageMixtureLogisticCouplingLayer", "VariationalDequantizer", "StackedLDUBlocks",
           "FlattenEvent", "ContextPrior", "ContextStandardization", "Standardization",
           "IntegerDequantizer", "ColumnBounds", "VectorCouplingLayer"]
