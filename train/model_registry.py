"""The flow models `train/fit.py` can train, built from generic options.

`--model` names a class of the `models` package, imported only when chosen
(so a model still being written does not break the others).  The generic
options are the table's architecture columns; each model receives those its
constructor accepts (`inspect.signature`):

* "ldu" (`LDUFlow`) takes every option from the paper's table.
* The baselines ("maf", "flowpp", "residual") take the table's MADE/network
  width (`hidden_units`) and `dropout`, but keep their own constructor
  defaults for `num_blocks`, `num_d_scales` and `num_mixtures` (the table's
  values describe LDU blocks) unless a flag sets them explicitly.
"""
import importlib
import inspect

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
_SHARED_OPTIONS = ("hidden_units", "dropout")


def model_class(name):
  """The `models` class for `--model name`."""
  if name not in MODEL_CLASSES:
    raise ValueError(f"Unknown model {name!r}; choose one of {tuple(MODEL_CLASSES)}.")
  module = importlib.import_module("models")
  try:
    return getattr(module, MODEL_CLASSES[name])
  except AttributeError as error:
    raise ImportError(f"--model {name} needs models.{MODEL_CLASSES[name]}, which this "
                      "checkout does not provide yet.") from error


def build_model(name, event_dim, hyperparameters: Hyperparameters, explicit=()):
  """Builds `--model name` for `[N, event_dim]` data.

  Args:
    name: a key of `MODEL_CLASSES`.
    event_dim: D.
    hyperparameters: the resolved row (table defaults plus flags).
    explicit: names of `ARCHITECTURE_OPTIONS` set by flags; they are passed
      to every model, and an error names any the model does not accept.

  Returns:
    The `FlowModel`, not yet compiled.
  """
  cls = model_class(name)
  accepted = inspect.signature(cls.__init__).parameters
  wanted = ARCHITECTURE_OPTIONS if name == "ldu" else set(_SHARED_OPTIONS) | set(explicit)
  rejected = sorted(set(explicit) - set(accepted))
  if rejected:
    raise ValueError(f"{cls.__name__} does not take the option(s) {rejected}.")
  options = {option: getattr(hyperparameters, option)
             for option in ARCHITECTURE_OPTIONS if option in wanted and option in accepted}
  return cls(event_dim, **options)
