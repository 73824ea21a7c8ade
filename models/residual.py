"""Invertible residual flow (Chen et al. 2019): `--model residual`.

Lipschitz-constrained residual blocks with an unbiased Russian-roulette
log-determinant estimate in training; sampling inverts each block by
fixed-point iteration.  On images it models the flattened pixels.
"""
from models.spec import FlowSpec
from models.spec import Option
from models.spec import Variant
from tfp_ldu.flows import ResidualFlow

SPEC = FlowSpec(
    name="residual",
    summary="Residual flow: Lipschitz residual blocks, Russian-roulette log-determinant",
    vectors=Variant(
        ResidualFlow,
        options=dict(num_blocks=Option("num_blocks", "residual blocks"),
                     hidden_units=Option("hidden_units", "Lipschitz MLP hidden sizes")),
        table_options=("hidden_units",)),
    tiny=dict(num_blocks=1, hidden_units=(8,)),
)
