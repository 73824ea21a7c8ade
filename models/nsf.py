"""Neural spline flow, autoregressive (Durkan et al. 2019): `--model nsf`.

MADE-conditioned rational-quadratic splines (K bins on [-B, B], linear
tails), after an ActNorm that standardises the data.  On images it models
the flattened pixels.
"""
from models.spec import Flag
from models.spec import FlowSpec
from models.spec import Option
from models.spec import Variant
from tfp_ldu.flows import NSF

# The spline flags, shared with --model nsf-coupling (models/nsf_coupling.py).
SPLINE_FLAGS = (
    Flag("num_bins", ("--num-bins",),
         dict(type="positive_int",
              help="--model nsf, nsf-coupling: bins K per spline (default: 8)")),
    Flag("bound", ("--spline-bound",),
         dict(dest="bound", type="positive_float",
              help="--model nsf, nsf-coupling: the splines' interval [-B, B] (default: 3)")),
)

SPEC = FlowSpec(
    name="nsf",
    summary="Neural spline flow: MADE-conditioned rational-quadratic splines (autoregressive)",
    vectors=Variant(
        NSF,
        options=dict(num_blocks=Option("num_blocks", "spline transforms"),
                     hidden_units=Option("hidden_units", "MADE hidden sizes"),
                     dropout=Option("dropout", "MADE dropout rate")),
        table_options=("hidden_units", "dropout")),
    flags=SPLINE_FLAGS,
    tiny=dict(num_blocks=2, hidden_units=(8,)),
    tiny_flag_values=dict(num_bins=4),
)
