"""Glow (Kingma & Dhariwal 2018): `--model glow`, image data only.

Multi-scale levels of squeeze, K steps of ActNorm + invertible 1x1
convolution + affine (or additive) coupling, and a split prior, after
uniform dequantisation (no logit transform: Glow models pixels in [0, 1)).
The optimiser is the paper's README's (batch 64, Adam 1e-3).
"""
from models.spec import QUICK_IMAGE_TRAINING
from models.spec import Flag
from models.spec import FlowSpec
from models.spec import Option
from models.spec import Variant
from models.spec import uniform_dequantization
from tfp_ldu.flows import Glow

# Glow's architecture per row of the table: the paper's MNIST and CIFAR-10
# models (MNIST's 28 pixels allow 2 levels), and the small CPU one.
PRESETS = {
    "quick": dict(levels=2, steps_per_level=4, hidden_channels=32),
    "mnist": dict(levels=2, steps_per_level=32, hidden_channels=512),
    "cifar10": dict(levels=3, steps_per_level=32, hidden_channels=512),
}


def architecture(data, quick):
  """The quick preset, or the paper's for the data set's row (MNIST's for the digits)."""
  if quick:
    return dict(PRESETS["quick"])
  if data.table_row in PRESETS:
    return dict(PRESETS[data.table_row])
  # Another image set: the CIFAR-10 model where the size allows 3 levels.
  height, width = data.event_shape[:2]
  return dict(PRESETS["cifar10" if height % 8 == 0 and width % 8 == 0 else "mnist"])


SPEC = FlowSpec(
    name="glow",
    summary="Glow: multi-scale ActNorm, 1x1 convolutions and couplings (images)",
    images=Variant(
        Glow,
        options=dict(num_blocks=Option("steps_per_level", "steps K per level"),
                     filters=Option("hidden_channels", "coupling network width")),
        architecture=architecture,
        data_options=uniform_dequantization,
        training=dict(batch_size=64, learning_rate=1e-3, lr_decay="none", weight_decay=0.0),
        quick_training=QUICK_IMAGE_TRAINING),
    flags=(
        Flag("levels", ("--levels",),
             dict(type="positive_int",
                  help="--model glow: multi-scale levels (default: 2 for digits and "
                       "MNIST, 3 for CIFAR-10)"),
             images_only=True),
        Flag("coupling", ("--coupling",),
             dict(choices=("affine", "additive"),
                  help="--model glow: affine couplings with Glow's sigmoid scale (default) "
                       "or additive (NICE)"),
             images_only=True),
    ),
)
