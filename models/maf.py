"""Masked Autoregressive Flow (Papamakarios et al. 2017): `--model maf`.

MADE affine blocks with optional batch normalisation between them and a
standard-normal or MADE mixture-of-Gaussians base (MAF and MADE MoG of the
paper's tables).  On images it models the flattened pixels.
"""
from models.spec import Flag
from models.spec import FlowSpec
from models.spec import Option
from models.spec import Variant
from tfp_ldu.flows import MAF
from tfp_ldu.flows.maf import CPU_XLA_MIN_EVENT_SIZE


def _check(explicit, flag_values):
  if "num_mixtures" in explicit and flag_values.get("base") != "mog":
    raise ValueError("--num-mixtures with --model maf sets the components of the "
                     "MADE-MoG base: add --base mog.")


SPEC = FlowSpec(
    name="maf",
    summary="Masked autoregressive flow: MADE affine blocks, optional batch norm and MoG base",
    vectors=Variant(
        MAF,
        options=dict(num_blocks=Option("num_blocks", "MADE blocks"),
                     hidden_units=Option("hidden_units", "MADE hidden sizes"),
                     dropout=Option("dropout", "MADE dropout rate"),
                     num_mixtures=Option("num_components",
                                         "components of the MADE-MoG base (--base mog)")),
        table_options=("hidden_units", "dropout"),
        # As the library's compile() default (`MAF.cpu_xla_event_sizes`).
        xla_on_cpu=lambda event_size: event_size >= CPU_XLA_MIN_EVENT_SIZE),
    flags=(
        Flag("batch_norm", ("--batch-norm",),
             dict(action="store_true", default=None,
                  help="--model maf: batch normalisation between the MADEs (MAF paper)")),
        Flag("base", ("--base",),
             dict(choices=("gaussian", "mog"),
                  help="--model maf: base distribution, a standard normal (default) or a "
                       "MADE mixture of Gaussians with --num-mixtures components")),
    ),
    tiny=dict(num_blocks=2, hidden_units=(8,), num_mixtures=3),
    tiny_flag_values=dict(batch_norm=True, base="mog"),
    check=_check,
)
