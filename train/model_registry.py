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
"""
import importlib

from train.hyperparameters import Hyperparameters

__all__ = ["MODEL_CLASSES", "ARCHITECTURE_OPTIONS", "build_model"]

MODEL_CLASSES = {
    "ldu": "LDUFlow",
    "maf": "MAF",
    "flowpp": "MixtureLogisticCouplingFlow",
    "residual": "ResidualFlow",
}

ARCHITECTURE_OPTIONS = ("num_blocks", "num_d_scales", "num_mixtures", "hidden_units",
                        "dropout")

# Generic option -> the constructor argument of each model (absent: not taken).
OPTION_NAMES = {
    "ldu": {option: option for option in ARCHITECTURE_OPTIONS},
    "maf": dict(num_blocks="num_blocks", hidden_units="hidden_units", dropout="dropout"),
    "flowpp": dict(num_blocks="num_couplings", num_mixtures="num_mixtures",
                   hidden_units="hidden_units", dropout="dropout"),
    "residual": dict(num_blocks="num_blocks", hidden_units="hidden_units"),
}
# Options taken from the table even when no flag sets them.
_TABLE_OPTIONS = {"ldu": ARCHITECTURE_OPTIONS, "maf": ("hidden_units", "dropout"),
                  "flowpp": ("hidden_units", "dropout"), "residual": ("hidden_units",)}


def model_class(name):
  """The `tfp_ldu.flows` class for `--model name`."""
  if name not in MODEL_CLASSES:
    raise ValueError(f"Unknown model {name!r}; choose one of {tuple(MODEL_CLASSES)}.")
  return getattr(importlib.import_module("tfp_ldu.flows"), MODEL_CLASSES[name])


def build_model(name, event_shape, hyperparameters: Hyperparameters, explicit=()):
  """Builds `--model name` for data points of shape `event_shape`.

  Args:
    name: a key of `MODEL_CLASSES`.
    event_shape: D, or the shape of one data point.
    hyperparameters: the resolved row (table defaults plus flags).
    explicit: names of `ARCHITECTURE_OPTIONS` set by flags; they are passed
      to the model, and an error names any the model does not take.

  Returns:
    The `FlowModel`, not yet compiled.
  """
  cls = model_class(name)
  names = OPTION_NAMES[name]
  rejected = sorted(set(explicit) - set(names))
  if rejected:
    flags = ", ".join("--" + option.replace("_", "-") for option in rejected)
    raise ValueError(f"--model {name} ({cls.__name__}) does not take {flags}.")
  wanted = set(_TABLE_OPTIONS[name]) | set(explicit)
  options = {names[option]: getattr(hyperparameters, option)
             for option in ARCHITECTURE_OPTIONS if option in wanted and option in names}
  return cls(event_shape, **options)
