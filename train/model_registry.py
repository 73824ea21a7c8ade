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
MADEs; the other vector models see the image as a flat NHWC vector.

Two models are image models of their own papers: on image data, "flowpp"
is `FlowPlusPlus` (checkerboard / channel mixture-logistic couplings with
gated-convolution + attention conditioners, variational or uniform
dequantisation: `--dequantization`, `--no-attention`) and "glow" is `Glow` (multi-scale,
`--levels`, `--coupling affine|additive`; image data only).  They take
their architecture from their presets (`FlowPlusPlus.PRESETS`: "small"
under the quick preset on the digits, "paper" otherwise; `GLOW_PRESETS`),
and `--num-blocks`, `--num-mixtures`, `--filters`, `--dropout` override it
(`IMAGE_OPTION_NAMES`).
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
    "glow": "Glow",
}
# The models that also exist for vectors (the others need image data).
VECTOR_MODELS = ("ldu", "maf", "flowpp", "residual", "naf", "planar")

# The image models of their own papers, used for image data.
IMAGE_MODEL_CLASSES = {"flowpp": "FlowPlusPlus", "glow": "Glow"}

# Model-specific flags (`--batch-norm`, `--dequantization`, ...): the models that take them.
MODEL_FLAGS = {"batch_norm": ("maf",), "base": ("maf",), "dequantization": ("flowpp",),
               "attention": ("flowpp",), "levels": ("glow",), "coupling": ("glow",)}
# Flags that only the image models take.
_IMAGE_ONLY_FLAGS = ("dequantization", "attention", "levels", "coupling")

# Glow's architecture per (dataset, preset); MNIST's 28 pixels allow 2 levels.
GLOW_PRESETS = {
    "quick": dict(levels=2, steps_per_level=4, hidden_channels=32),
    "mnist": dict(levels=2, steps_per_level=32, hidden_channels=512),
    "cifar10": dict(levels=3, steps_per_level=32, hidden_channels=512),
}

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
# Generic option -> constructor argument of the image models.
IMAGE_OPTION_NAMES = {
    "flowpp": dict(num_blocks="num_blocks", num_mixtures="num_mixtures", filters="filters",
                   dropout="dropout"),
    "glow": dict(num_blocks="steps_per_level", filters="hidden_channels"),
}
# Options taken from the table even when no flag sets them.
_TABLE_OPTIONS = {"ldu": ARCHITECTURE_OPTIONS, "maf": ("hidden_units", "dropout"),
                  "flowpp": ("hidden_units", "dropout"), "residual": ("hidden_units",),
                  "naf": ("hidden_units", "dropout"), "planar": ()}


def _flag_names(options):
  """The command-line spelling of options, e.g. "--num-blocks, --no-attention"."""
  return ", ".join("--no-attention" if option == "attention" else
                   "--" + option.replace("_", "-") for option in options)


def model_class(name, images=False):
  """The `tfp_ldu.flows` class for `--model name` (on image data if `images`)."""
  if name not in MODEL_CLASSES:
    raise ValueError(f"Unknown model {name!r}; choose one of {tuple(MODEL_CLASSES)}.")
  if name in IMAGE_MODEL_CLASSES and (images or name not in VECTOR_MODELS):
    if not images:
      raise ValueError(f"--model {name} ({IMAGE_MODEL_CLASSES[name]}) needs image data "
                       f"(--dataset digits, mnist or cifar10).")
    return getattr(importlib.import_module("tfp_ldu.flows"), IMAGE_MODEL_CLASSES[name])
  return getattr(importlib.import_module("tfp_ldu.flows"), MODEL_CLASSES[name])


def _build_image_model(name, data, hyperparameters, explicit, model_flags, preset):
  """`FlowPlusPlus` or `Glow` for image `data`, from its preset and the flags."""
  cls = model_class(name, images=True)
  names = IMAGE_OPTION_NAMES[name]
  rejected = sorted(set(explicit) - set(names))
  if rejected:
    flags = _flag_names(rejected)
    raise ValueError(f"--model {name} ({cls.__name__}) on images does not take {flags}.")
  options = {names[option]: getattr(hyperparameters, option) for option in explicit}
  quick = preset == "quick" and data.name == "digits"
  if name == "flowpp":
    options.update(preset="small" if quick else "paper", num_levels=data.num_levels,
                   logit_alpha=data.alpha)
  else:
    dataset_preset = "quick" if quick else ("mnist" if data.image_shape[0] % 8 else "cifar10")
    options = {**GLOW_PRESETS[dataset_preset], **options,
               "dequantizer": UniformDequantizer(data.num_levels, event_ndims=3,
                                                 name="dequantizer")}
  options.update(model_flags)
  return cls(data.image_shape, **options)


def build_model(name, data, hyperparameters: Hyperparameters, explicit=(), augment_dims=0,
                num_importance_samples=100, model_flags=None, preset="quick"):
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
    preset: "quick" or "paper" (`train.hyperparameters.PRESETS`); picks the
      image models' architecture presets.

  Returns:
    The `FlowModel`, not yet compiled.
  """
  model_flags = dict(model_flags or {})
  images = isinstance(data, ImageData)
  if name in IMAGE_MODEL_CLASSES and (images or name not in VECTOR_MODELS):
    if augment_dims:
      raise ValueError(f"--augment-dims: --model {name} is an image model; augment a flat "
                       f"model (e.g. --model maf) instead.")
    cls = model_class(name, images)
    rejected = [flag for flag in model_flags if name not in MODEL_FLAGS[flag]]
    if rejected:
      raise ValueError(f"--model {name} ({cls.__name__}) does not take "
                       + _flag_names(rejected) + ".")
    return _build_image_model(name, data, hyperparameters, explicit, model_flags, preset)
  image_flags = [flag for flag in model_flags if flag in _IMAGE_ONLY_FLAGS]
  if image_flags:
    raise ValueError(_flag_names(image_flags)
                     + f" needs an image model on image data (--model flowpp or glow "
                     f"with --dataset digits, mnist or cifar10); got --model {name}"
                     + (" on images." if images else f" on {data.name}."))
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
  rejected = sorted(set(explicit) - set(names)) + sorted(
      flag for flag in model_flags if name not in MODEL_FLAGS[flag])
  if rejected:
    flags = _flag_names(rejected)
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
