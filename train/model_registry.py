"""The flow models `train/fit.py` can train, built from the table's generic options.

`--model` names a class of `tfp_ldu.flows` (re-exported by `models`).  The
generic options are the paper table's architecture columns; how each model
reads them is spelled out in `OPTION_NAMES`, so the library's constructors
take only their own options:

* "ldu" (`LDUFlow`) takes every option from the paper's table.
* The baselines ("maf", "flowpp", "residual") take the table's network
  width (`hidden_units`) and `dropout` where they have them, and keep their
  own constructor defaults for depth and mixture size (the table's values
  describe LDU blocks) unless a flag sets them explicitly.  For "flowpp",
  `--num-blocks` sets `num_couplings`.
* A flag a model has no use for (e.g. `--num-d-scales` with `--model maf`,
  `--dropout` with `--model residual`) is an error, never silently ignored.

Image data (`train.datasets.ImageData`) adds the literature's preprocessing
to every model: uniform dequantisation of the pixel levels (so `call`, the
training loss and bits/dim are the dequantisation bound) and the logit
transform with the dataset's alpha.  The LDU flow then uses PixelCNN shifts
(`--filters`, `--num-residual-blocks`, the paper's Table 2) instead of
MADEs; the other models see the image as a flat NHWC vector.
"""
import importlib

from tfp_ldu.flows import AugmentedFlow
from tfp_ldu.layers import UniformDequantizer
from train.datasets import ImageData
from train.hyperparameters import Hyperparameters

__all__ = ["MODEL_CLASSES", "ARCHITECTURE_OPTIONS", "build_model"]

MODEL_CLASSES = {
    "ldu": "LDUFlow",
    "maf": "MAF",
    "flowpp": "MixtureLogisticCouplingFlow",
    "residual": "ResidualFlow",
    "naf": "NAF",
    "planar": "PlanarFlow",
}

# Model-specific flags (`--batch-norm`, `--base`): the models that take them.
MODEL_FLAGS = {"batch_norm": ("maf",), "base": ("maf",)}

ARCHITECTURE_OPTIONS = ("num_blocks", "num_d_scales", "num_mixtures", "hidden_units",
                        "dropout", "filters", "num_residual_blocks")
# Options that only the image LDU flow (PixelCNN shifts) takes, and the one it does not.
_PIXELCNN_OPTIONS = ("filters", "num_residual_blocks")

# Generic option -> the constructor argument of each model (absent: not taken).
OPTION_NAMES = {
    "ldu": {option: option for option in ARCHITECTURE_OPTIONS
            if option not in _PIXELCNN_OPTIONS},
    "maf": dict(num_blocks="num_blocks", hidden_units="hidden_units", dropout="dropout",
                num_mixtures="num_components"),
    "planar": dict(num_blocks="num_layers"),
    "naf": dict(num_blocks="num_blocks", num_mixtures="num_components",
                hidden_units="hidden_units", dropout="dropout"),
    "flowpp": dict(num_blocks="num_couplings", num_mixtures="num_mixtures",
                   hidden_units="hidden_units", dropout="dropout"),
    "residual": dict(num_blocks="num_blocks", hidden_units="hidden_units"),
}
# Options taken from the table even when no flag sets them.
_TABLE_OPTIONS = {"ldu": ARCHITECTURE_OPTIONS, "maf": ("hidden_units", "dropout"),
                  "flowpp": ("hidden_units", "dropout"), "residual": ("hidden_units",),
                  "naf": ("hidden_units", "dropout"), "planar": ()}


def model_class(name):
  """The `tfp_ldu.flows` class for `--model name`."""
  if name not in MODEL_CLASSES:
    raise ValueError(f"Unknown model {name!r}; choose one of {tuple(MODEL_CLASSES)}.")
  return getattr(importlib.import_module("tfp_ldu.flows"), MODEL_CLASSES[name])


def build_model(name, data, hyperparameters: Hyperparameters, explicit=(), augment_dims=0,
                num_importance_samples=100, model_flags=None):
  """Builds `--model name` for `data`, optionally augmented with noise dimensions.

  Args:
    name: a key of `MODEL_CLASSES`.
    data: the `TabularData` (or `ImageData`) the model is for.
    hyperparameters: the resolved row (table defaults plus flags).
    explicit: names of `ARCHITECTURE_OPTIONS` set by flags; they are passed
      to the model, and an error names any the model does not take.
    augment_dims: E > 0 wraps the model, built on D + E dimensions, in a
      `tfp_ldu.flows.AugmentedFlow` (trained on the augmentation bound).
    num_importance_samples: K of the augmented model's `log_prob`.
    model_flags: model-specific options set by flags (`MODEL_FLAGS`), e.g.
      `{"batch_norm": True, "base": "mog"}` for MAF.

  Returns:
    The `FlowModel`, not yet compiled.
  """
  cls = model_class(name)
  names = dict(OPTION_NAMES[name])
  table_options = set(_TABLE_OPTIONS[name])
  extra = {}
  if isinstance(data, ImageData):
    extra = dict(dequantizer=UniformDequantizer(data.num_levels, event_ndims=3,
                                                name="dequantizer"),
                 logit_alpha=data.alpha)
    if name == "ldu":  # PixelCNN shifts instead of MADEs.
      names = {**{option: option for option in _PIXELCNN_OPTIONS},
               **{k: v for k, v in names.items() if k not in ("hidden_units", "dropout")}}
      table_options = (table_options - {"hidden_units", "dropout"}) | set(_PIXELCNN_OPTIONS)
      extra["conditioner"] = "pixelcnn"
    else:  # The table's sizes describe LDU blocks: keep the model's own defaults.
      table_options = set()
  model_flags = dict(model_flags or {})
  rejected = sorted(set(explicit) - set(names)) + sorted(
      flag for flag in model_flags if name not in MODEL_FLAGS[flag])
  if rejected:
    flags = ", ".join("--" + option.replace("_", "-") for option in rejected)
    raise ValueError(f"--model {name} ({cls.__name__}) does not take {flags}.")
  if name == "maf" and "num_mixtures" in explicit and model_flags.get("base") != "mog":
    raise ValueError("--num-mixtures with --model maf sets the components of the "
                     "MADE-MoG base: add --base mog.")
  wanted = table_options | set(explicit)
  options = {names[option]: getattr(hyperparameters, option)
             for option in ARCHITECTURE_OPTIONS if option in wanted and option in names}
  event_shape = data.image_shape if isinstance(data, ImageData) else data.n_dims
  options.update(model_flags)
  if not augment_dims:
    return cls(event_shape, **options, **extra)
  if "conditioner" in extra:
    raise ValueError("--augment-dims: the image LDU flow's PixelCNN shifts need image "
                     "events; augment a flat model (e.g. --model maf) instead.")
  inner = cls(data.n_dims + augment_dims, **options, name=f"{name}_joint")
  return AugmentedFlow(event_shape, inner, augment_dims,
                       num_importance_samples=num_importance_samples, **extra)
