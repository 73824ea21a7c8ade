"""RealNVP for vectors (Dinh et al. 2017): `--model realnvp`.

Affine couplings with soft-clipped log-scales on alternating halves, their
shifts and scales from gated residual MLPs, after an ActNorm; sampling and
density are one pass per coupling.  On images it models the flattened pixels.
"""
from models.spec import FlowSpec
from models.spec import Option
from models.spec import Variant
from tfp_ldu.flows import RealNVP

SPEC = FlowSpec(
    name="realnvp",
    summary="RealNVP: affine couplings on residual MLPs, alternating halves",
    vectors=Variant(
        RealNVP,
        options=dict(num_blocks=Option("num_blocks", "affine couplings"),
                     hidden_units=Option("hidden_units", "conditioner residual block widths"),
                     dropout=Option("dropout", "conditioner dropout rate")),
        table_options=("hidden_units", "dropout")),
    tiny=dict(num_blocks=2, hidden_units=(8,)),
)
