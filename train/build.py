"""From the CLI to the model zoo: loaded data -> `models.DataInfo`, flags -> a model.

`--model` names a family of `models/` (`models.SPECS`); its spec says which
classes it builds, what each generic option of the paper's table means for
it, which flags it takes and which presets it uses.  This module only
translates the loaded data and the parsed flags; it never names a family.
"""
import numpy as np

import models
from tfp_ldu.layers import ColumnBounds
from train.datasets import ImageData
from train.hyperparameters import Hyperparameters
from train.hyperparameters import has_quick_row
from train.hyperparameters import table_row

__all__ = ["data_info", "column_units", "build_model"]


def data_info(data, conditional=False):
  """The `models.DataInfo` of loaded `TabularData` or `ImageData`.

  `conditional=True` (`--conditional`, data with contexts) asks for p(x | c).
  """
  defaults = data.defaults_name or data.name
  common = dict(name=data.name, table_row=table_row(defaults), quick=has_quick_row(defaults),
                context_shape=tuple(data.context_shape) if conditional else ())
  if isinstance(data, ImageData):
    return models.DataInfo(event_shape=tuple(data.image_shape), num_levels=data.num_levels,
                           logit_alpha=data.alpha, **common)
  return models.DataInfo(event_shape=(data.n_dims,), units=column_units(data), **common)


def column_units(data):
  """The `models.ColumnUnits` of a table in raw units (`data.raw_units`), else None.

  The centre and scale of each column are those of its training values as
  the standardisation sees them: x + u with u ~ U[0, 1) on the integer
  columns (mean + 1/2, variance + 1/12), the logit or log of a bounded
  column (`data.bounds`), x elsewhere.
  """
  if not data.raw_units:
    return None
  integer = np.asarray(data.integer_columns, bool)
  values = data.train.astype(np.float64)
  if data.bounds:  # The statistics of what the standardisation sees.
    values = ColumnBounds(*zip(*data.bounds), dtype="float64").bijector().inverse(
        values).numpy()
  loc = values.mean(axis=0) + 0.5 * integer
  scale = np.sqrt(values.var(axis=0) + integer / 12.0)
  return models.ColumnUnits(loc=tuple(loc.tolist()), scale=tuple(scale.tolist()),
                            integer=tuple(bool(flag) for flag in integer),
                            bounds=tuple(data.bounds))


def build_model(name, data, hyperparameters: Hyperparameters, explicit=(), augment_dims=0,
                num_importance_samples=100, model_flags=None, preset="quick",
                conditional=False):
  """Builds `--model name` for `data` (see `models.FlowSpec.build`).

  Args:
    name: a key of `models.SPECS`.
    data: the `TabularData` (or `ImageData`) the model is for.
    hyperparameters: the resolved row (table defaults plus flags).
    explicit: names of `models.ARCHITECTURE_OPTIONS` set by flags.
    augment_dims: E > 0 wraps the model in a `tfp_ldu.flows.AugmentedFlow`.
    num_importance_samples: K of the augmented model's `log_prob`.
    model_flags: `{argument: value}` of the family flags that were set
      (`models.ALL_FLAGS`), e.g. `{"batch_norm": True, "base": "mog"}`.
    preset: "quick" or "paper" (`train.hyperparameters.PRESETS`).
    conditional: build p(x | c) with the data's context shape.

  Returns:
    The `FlowModel`, not yet compiled.
  """
  return models.build_model(name, data_info(data, conditional), hyperparameters,
                            explicit=explicit,
                            flag_values=model_flags, preset=preset,
                            augment_dims=augment_dims,
                            num_importance_samples=num_importance_samples)
