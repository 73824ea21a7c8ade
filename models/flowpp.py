"""Flow++ (Ho et al. 2019): `--model flowpp`.

Vectors: `MixtureLogisticCouplingFlow`, couplings whose transformer is the
mixture-of-logistics CDF.  Images: `FlowPlusPlus`, checkerboard and channel
couplings with gated-convolution + attention conditioners and variational
(or uniform) dequantisation; its architecture comes from its presets
(`tfp_ldu.flows.flow_plus_plus.PRESETS`: "small" under the quick preset on the
digits, "paper" otherwise) and its optimiser from the paper's `run_cifar.py`
(batch 64, Adam 3e-4 without decay; the 2,000-step linear warm-up is not
modelled).
"""
from models.spec import QUICK_IMAGE_TRAINING
from models.spec import Flag
from models.spec import FlowSpec
from models.spec import Option
from models.spec import Variant
from tfp_ldu.flows import FlowPlusPlus
from tfp_ldu.flows import MixtureLogisticCouplingFlow

SPEC = FlowSpec(
    name="flowpp",
    summary="Flow++: mixture-of-logistics CDF couplings (vectors and images)",
    vectors=Variant(
        MixtureLogisticCouplingFlow,
        options=dict(num_blocks=Option("num_couplings", "mixture-logistic couplings"),
                     num_mixtures=Option("num_components", "logistic components K"),
                     hidden_units=Option("hidden_units", "conditioner hidden sizes"),
                     dropout=Option("dropout", "conditioner dropout rate")),
        table_options=("hidden_units", "dropout")),
    images=Variant(
        FlowPlusPlus,
        options=dict(num_blocks=Option("conditioner_blocks",
                                       "gated blocks of each coupling's conditioner"),
                     num_mixtures=Option("num_components", "logistic components K"),
                     filters=Option("filters", "conditioner width F"),
                     dropout=Option("dropout", "conditioner dropout rate")),
        architecture=lambda data, quick: dict(preset="small" if quick else "paper"),
        data_options=lambda data: dict(num_levels=data.num_levels,
                                       logit_alpha=data.logit_alpha),
        training=dict(batch_size=64, learning_rate=3e-4, lr_decay="none", weight_decay=0.0),
        quick_training=QUICK_IMAGE_TRAINING),
    flags=(
        Flag("dequantization", ("--dequantization",),
             dict(choices=("variational", "uniform"),
                  help="--model flowpp on images: learned q(u | x) (default, Flow++) or "
                       "uniform noise (the paper's ablation)"),
             images_only=True),
        Flag("attention", ("--no-attention",),
             dict(dest="attention", action="store_false", default=None,
                  help="--model flowpp on images: gated convolutions only, without the "
                       "self-attention blocks (cheaper on CPUs)"),
             images_only=True),
    ),
    tiny=dict(num_blocks=2, num_mixtures=2, hidden_units=(8,)),
)
