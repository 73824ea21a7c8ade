"""Keras 3 networks that condition the bijectors (all weights via `add_weight`)."""
from tfp_ldu.nets.made import MADE, made_masks
from tfp_ldu.nets.gated_residual_mlp import GatedResidualBlock, GatedResidualMLP
from tfp_ldu.nets.lipschitz_mlp import LipschitzMLP, lipswish
from tfp_ldu.nets.masked_conv2d import MaskedConv2D, pixelcnn_mask
from tfp_ldu.nets.pixelcnn import PixelActNorm, PixelCNN, PixelCNNResidualBlock

from tfp_ldu.nets.coupling_conv_net import CouplingConvNet
from tfp_ldu.nets.gated_conv_attention import (GatedAttentionBlock, GatedConvAttentionNet,
                                               GatedConvBlock, GatedConvContextNet, concat_elu)
from tfp_ldu.nets.made import made_forward
__all__ = ["MADE", "made_masks", "GatedResidualBlock", "GatedResidualMLP", "LipschitzMLP",
           "lipswish", "MaskedConv2D", "pixelcnn_mask", "PixelActNorm", "PixelCNN",
           "PixelCNNResidualBlock",
           "CouplingConvNet", "GatedConvBlock", "GatedAttentionBlock", "GatedConvContextNet", "GatedConvAttentionNet", "concat_elu", "made_forward"]
