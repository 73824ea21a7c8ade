"""Inverse autoregressive flow (Kingma et al. 2016): `--model iaf`.

MAF inverted: the MADEs condition on the latent side, so sampling is one
pass per block and the density D passes per block (training is D times
MAF's cost).  No dropout.  On images it models the flattened pixels.
"""
from models.spec import FlowSpec
from models.spec import Option
from models.spec import Variant
from tfp_ldu.flows import IAF

SPEC = FlowSpec(
    name="iaf",
    summary="Inverse autoregressive flow: MAF inverted, one-pass sampling, D-pass density",
    vectors=Variant(
        IAF,
        options=dict(num_blocks=Option("num_blocks", "inverse autoregressive blocks"),
                     hidden_units=Option("hidden_units", "MADE hidden sizes")),
        table_options=("hidden_units",)),
    tiny=dict(num_blocks=2, hidden_units=(8,)),
)
