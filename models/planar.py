"""Planar flow (Rezende & Mohamed 2015): `--model planar`, the textbook baseline."""
from models.spec import FlowSpec
from models.spec import Option
from models.spec import Variant
from tfp_ldu.flows import PlanarFlow

SPEC = FlowSpec(
    name="planar",
    summary="Planar flow: a stack of invertible planar layers",
    vectors=Variant(PlanarFlow, options=dict(num_blocks=Option("num_layers", "planar layers"))),
    tiny=dict(num_blocks=4),
)
