"""Neural autoregressive flow, deep sigmoidal (Huang et al. 2018): `--model naf`."""
from models.spec import FlowSpec
from models.spec import Option
from models.spec import Variant
from tfp_ldu.flows import NAF

SPEC = FlowSpec(
    name="naf",
    summary="Neural autoregressive flow: MADE-conditioned deep sigmoidal transformers",
    vectors=Variant(
        NAF,
        options=dict(num_blocks=Option("num_blocks", "deep sigmoidal blocks"),
                     num_mixtures=Option("num_components", "sigmoids per transformer"),
                     hidden_units=Option("hidden_units", "MADE hidden sizes"),
                     dropout=Option("dropout", "MADE dropout rate")),
        table_options=("hidden_units", "dropout")),
    tiny=dict(num_blocks=2, num_mixtures=3, hidden_units=(8,)),
)
