"""Sinusoidal Flow's LDU flow (Wei, ACML 2021): `--model ldu`, the CLI's default.

Vectors: `LDUFlow` with MADE shifts, every architecture column of the
paper's Table 1.  Images: `LDUFlow(conditioner="pixelcnn")` with PixelCNN
shifts (Table 2: 12 blocks of 4 D-scales, K = 4, 16 feature maps, 2 residual
blocks), after uniform dequantisation and the logit transform.
"""
from models.spec import FlowSpec
from models.spec import Option
from models.spec import Variant
from models.spec import uniform_dequantization_and_logit
from tfp_ldu.flows import LDUFlow
from tfp_ldu.flows.ldu_flow import CPU_XLA_MAX_EVENT_SIZE


_BLOCKS = dict(
    num_blocks=Option("num_blocks", "LDU blocks"),
    num_d_scales=Option("num_d_scales", "Sinusoidal D-scales per block"),
    num_mixtures=Option("num_components", "K, sinusoid components per D-scale"),
)

SPEC = FlowSpec(
    name="ldu",
    summary="Sinusoidal Flow: LDU blocks of sinusoidal transformers (MADE or PixelCNN shifts)",
    vectors=Variant(
        LDUFlow,
        options=dict(**_BLOCKS,
                     hidden_units=Option("hidden_units", "MADE hidden sizes"),
                     dropout=Option("dropout", "MADE dropout rate")),
        table_options=("num_blocks", "num_d_scales", "num_mixtures", "hidden_units",
                       "dropout"),
        xla_on_cpu=lambda event_size: event_size <= CPU_XLA_MAX_EVENT_SIZE),
    images=Variant(
        LDUFlow,
        options=dict(**_BLOCKS,
                     filters=Option("filters", "PixelCNN feature maps"),
                     num_residual_blocks=Option("num_residual_blocks",
                                                "PixelCNN residual blocks")),
        table_options=("num_blocks", "num_d_scales", "num_mixtures", "filters",
                       "num_residual_blocks"),
        fixed=dict(conditioner="pixelcnn"),
        data_options=uniform_dequantization_and_logit),
    tiny=dict(num_blocks=1, num_d_scales=1, hidden_units=(8,)),
)
