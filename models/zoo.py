"""Finds the spec modules of `models/` and builds a model by family name."""
import importlib
import pkgutil

from models.spec import FlowSpec
from models.spec import flag_names

__all__ = ["SPECS", "ALL_FLAGS", "spec_for", "build_model"]

_NOT_SPECS = ("spec", "zoo")


def _discover():
  """{name: FlowSpec} of every module of this package that defines `SPEC`, by name."""
  package = importlib.import_module("models")
  specs = {}
  for module in pkgutil.iter_modules(package.__path__):
    if module.name in _NOT_SPECS or module.name.startswith("_"):
      continue
    spec = getattr(importlib.import_module(f"models.{module.name}"), "SPEC", None)
    if not isinstance(spec, FlowSpec):
      raise TypeError(f"models/{module.name}.py: expected SPEC = FlowSpec(...), found "
                      f"{type(spec).__name__}.")
    if spec.name in specs:
      raise ValueError(f"models/{module.name}.py: a second spec named {spec.name!r}.")
    specs[spec.name] = spec
  return dict(sorted(specs.items()))


SPECS = _discover()

# Every family's own flags, each declared once (two families may share a flag
# only by declaring it identically).
ALL_FLAGS = {}
for _spec in SPECS.values():
  for _flag in _spec.flags:
    if ALL_FLAGS.setdefault(_flag.argument, _flag) != _flag:
      raise ValueError(f"models: the flag {_flag.display} is declared differently by "
                       f"two families.")
ALL_FLAGS = tuple(ALL_FLAGS.values())


def spec_for(name):
  """The `FlowSpec` of `--model name`, or a `ValueError` listing the families."""
  if name not in SPECS:
    raise ValueError(f"Unknown model {name!r}; choose one of {tuple(SPECS)}.")
  return SPECS[name]


def build_model(name, data, hyperparameters, explicit=(), flag_values=None, **kwargs):
  """`spec_for(name).build(...)`, after refusing the flags of other families.

  Args:
    name: the `--model` name.
    data: a `models.DataInfo`.
    hyperparameters: the resolved table row.
    explicit: generic options set by flags.
    flag_values: `{argument: value}` of every family flag that was set.
    **kwargs: `preset`, `augment_dims`, `num_importance_samples` (`FlowSpec.build`).
  """
  spec = spec_for(name)
  flag_values = dict(flag_values or {})
  own = {flag.argument for flag in spec.flags}
  foreign = [argument for argument in flag_values if argument not in own]
  if foreign:
    owners = {flag.argument: [other.name for other in SPECS.values()
                              if any(f.argument == flag.argument for f in other.flags)]
              for flag in ALL_FLAGS}
    named = "; ".join(f"{flag_names([argument], ALL_FLAGS)} is a flag of --model "
                      f"{' / '.join(owners[argument])}" for argument in foreign)
    raise ValueError(f"--model {name} does not take {flag_names(foreign, ALL_FLAGS)} "
                     f"({named}).")
  if data.context_shape and not spec.conditional_on(data):
    others = [other.name for other in SPECS.values() if _conditional_on(other, data)]
    raise ValueError(f"--conditional: --model {name} is not conditional yet on "
                     f"{'images' if data.images else 'vectors'}; conditional models there: "
                     f"{', '.join(others)}.")
  return spec.build(data, hyperparameters, explicit, flag_values, **kwargs)


def _conditional_on(spec, data):
  """`spec.conditional_on(data)`, False for a family without a model for `data`."""
  try:
    return spec.conditional_on(data)
  except ValueError:  # e.g. an image-only family on vectors.
    return False
