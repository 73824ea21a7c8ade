"""Neural spline flow, coupling variant (Durkan et al. 2019, RQ-NSF (C)): `--model nsf-coupling`.

`NSF(coupling=True)`: rational-quadratic splines (K bins on [-B, B], linear
tails) on half the dimensions, their parameters from a gated residual MLP
of the other half, the order reversed between couplings; sampling is one
pass per coupling.  On images it models the flattened pixels.
"""
from models.nsf import SPLINE_FLAGS
from models.spec import FlowSpec
from models.spec import Option
from models.spec import Variant
from tfp_ldu.flows import NSF

SPEC = FlowSpec(
    name="nsf-coupling",
    summary="Neural spline flow: rational-quadratic spline couplings on residual MLPs",
    vectors=Variant(
        NSF,
        options=dict(num_blocks=Option("num_blocks", "spline couplings"),
                     hidden_units=Option("hidden_units", "conditioner residual block widths"),
                     dropout=Option("dropout", "conditioner dropout rate")),
        table_options=("hidden_units", "dropout"),
        fixed=dict(coupling=True)),
    flags=SPLINE_FLAGS,
    # One coupling: tracing the splines is most of a test's time (the reversal
    # between couplings is the layer's, checked in tests/cases/vector_coupling.py).
    tiny=dict(num_blocks=1, hidden_units=(8,)),
    tiny_flag_values=dict(num_bins=4),
)
