"""`FlowSpec`: how one `--model` family is built, trained and checked, declared in one place.

Every module of `models/` (other than this one) holds one `SPEC = FlowSpec(...)`
for one flow family of `tfp_ldu.flows`.  A spec says, next to each other:

* the classes it builds for vector data and for image data (`Variant`, one
  per kind of data; `None` if the family has no such model);
* what each generic architecture option of the paper's table
  (`ARCHITECTURE_OPTIONS`: `--num-blocks`, `--hidden-units`, ...) means for
  this family, and which of them it reads from the table when no flag sets
  them (`Option`, `Variant.table_options`);
* the family's own flags (`Flag`, e.g. MAF's `--batch-norm`);
* the papers' architecture presets per data set (`Variant.architecture`)
  and optimiser columns (`Variant.training`, `Variant.quick_training`),
  which override the table's row;
* whether XLA pays on a CPU at a given event size (`Variant.xla_on_cpu`);
* a tiny configuration for tests (`FlowSpec.tiny`).

`train/` looks a spec up by name (`models.spec_for`) and calls
`FlowSpec.build`; it never names a family.  The tests parametrise over
`models.SPECS`, so a family is covered as soon as its spec exists.

Data reach a spec as a `DataInfo` (the data set's name, the row of the paper's
table it uses, its event shape, and for images the pixel levels and the logit
alpha), so `models/` never imports `train/`.
"""
import dataclasses
import math
from typing import Callable, Mapping, Optional, Tuple

from tfp_ldu.flows import AugmentedFlow
from tfp_ldu.layers import ColumnBounds
from tfp_ldu.layers import IntegerDequantizer
from tfp_ldu.layers import Standardization
from tfp_ldu.layers import UniformDequantizer

__all__ = ["ARCHITECTURE_OPTIONS", "ColumnUnits", "DataInfo", "Option", "Flag", "Variant", "FlowSpec",
           "uniform_dequantization", "uniform_dequantization_and_logit", "always",
           "flag_names", "QUICK_IMAGE_TRAINING"]

# The architecture columns of the paper's table (`train.hyperparameters.Hyperparameters`),
# each also a command-line flag (`--num-blocks`, ...).
ARCHITECTURE_OPTIONS = ("num_blocks", "num_d_scales", "num_mixtures", "hidden_units",
                        "dropout", "filters", "num_residual_blocks")


@dataclasses.dataclass(frozen=True)
class ColumnUnits:
  """How the raw columns of a user's table enter a vector model.

  The model dequantises the integer-valued columns
  (`tfp_ldu.layers.IntegerDequantizer`), maps the bounded columns to R
  (`tfp_ldu.layers.ColumnBounds`), then standardises
  (`tfp_ldu.layers.Standardization(loc, scale)`), every log-det counted, so it
  takes and returns rows in the table's units.

  Attributes:
    loc: `[D]` column centres (training means, after the bounds' maps).
    scale: `[D]` column scales (training standard deviations, likewise).
    integer: `[D]` bools, the columns dequantised as whole numbers.
    bounds: `[D]` `(low, high)` open bounds (None for an open side), or `()`.
  """
  loc: Tuple[float, ...]
  scale: Tuple[float, ...]
  integer: Tuple[bool, ...]
  bounds: Tuple[Tuple[Optional[float], Optional[float]], ...] = ()


@dataclasses.dataclass(frozen=True)
class DataInfo:
  """What a spec needs to know about the data.

  Attributes:
    name: the data set (`--dataset`).
    table_row: the row of the paper's table it uses ("toy2d", "power", ...,
      "mnist", "cifar10"; the built-in digits use "mnist").
    event_shape: shape of one example: `(D,)` for vectors, `(H, W, C)` for images.
    quick: whether `--preset quick` has a small CPU configuration for this data set.
    num_levels: pixel levels L of image data; `None` for vectors.
    logit_alpha: the data set's logit alpha (images); `None` for vectors.
    context_shape: for a conditional density p(x | c), the shape of c
      (`--conditional`); `()` for p(x).
    units: for a user's table in raw units (`train/fit.py --data`), how its
      columns are standardised and dequantised (`ColumnUnits`); None for data
      the loader already preprocessed.
  """
  name: str
  table_row: str
  event_shape: Tuple[int, ...]
  quick: bool = False
  num_levels: Optional[int] = None
  logit_alpha: Optional[float] = None
  context_shape: Tuple[int, ...] = ()
  units: Optional[ColumnUnits] = None

  @property
  def images(self):
    return self.num_levels is not None

  @property
  def event_size(self):
    return math.prod(int(dim) for dim in self.event_shape)


@dataclasses.dataclass(frozen=True)
class Option:
  """What a generic option means for one family.

  Attributes:
    argument: the constructor argument it sets.
    meaning: what it means for this family, for `--help`.
  """
  argument: str
  meaning: str


@dataclasses.dataclass(frozen=True)
class Flag:
  """A family's own command-line flag.

  Attributes:
    argument: the constructor argument (and `args` attribute) it sets.
    option_strings: the flag as typed, e.g. `("--batch-norm",)`.
    kwargs: `argparse.ArgumentParser.add_argument` keyword arguments (with
      `default=None`, so an unset flag leaves the constructor's default); a
      string `type` names one of the CLI's range-checked types
      (`train.cli_checks`, e.g. "positive_int").
    images_only: the flag applies only to the family's image model.
  """
  argument: str
  option_strings: Tuple[str, ...]
  kwargs: Mapping
  images_only: bool = False

  @property
  def display(self):
    return self.option_strings[0]


# The optimiser of the image models of other papers under `--preset quick` on
# the built-in digits: 800 steps of Adam at 1e-3 with cosine decay, batch 64.
QUICK_IMAGE_TRAINING = dict(steps=800, batch_size=64, learning_rate=1e-3, lr_decay="cosine",
                            weight_decay=0.0)


def raw_units_options(data):
  """Vector data: none, or for a table in raw units its standardisation and dequantiser."""
  if data.units is None:
    return {}
  bounds = [] if not data.units.bounds else [ColumnBounds(
      *zip(*data.units.bounds), name="column_bounds")]
  options = dict(preprocessing=[*bounds, Standardization(data.units.loc, data.units.scale,
                                                         name="standardization")])
  if any(data.units.integer):
    options["dequantizer"] = IntegerDequantizer(data.units.integer, name="dequantizer")
  return options


def uniform_dequantization(data):
  """Uniform dequantisation of the pixel levels: y = (x + u) / L."""
  return dict(dequantizer=UniformDequantizer(data.num_levels, event_ndims=3,
                                             name="dequantizer"))


def uniform_dequantization_and_logit(data):
  """Uniform dequantisation, then the logit transform with the data set's alpha."""
  return dict(**uniform_dequantization(data), logit_alpha=data.logit_alpha)


def always(event_size):
  """XLA pays at every size."""
  del event_size
  return True


@dataclasses.dataclass(frozen=True)
class Variant:
  """How a family builds its model for one kind of data (vectors or images).

  Attributes:
    flow_class: the `tfp_ldu.flows` class.
    options: generic option (`ARCHITECTURE_OPTIONS`) -> `Option`; a flag
      for any other generic option is refused.
    table_options: generic options read from the table's row even when no
      flag sets them (the others keep the constructor's defaults).
    fixed: constructor arguments always passed (e.g. `conditioner="pixelcnn"`).
    data_options: `DataInfo` -> constructor arguments of the data's
      preprocessing (dequantiser, logit alpha).
    architecture: `(DataInfo, quick)` -> the architecture preset for that
      data set (the paper's, or the small CPU one if `quick`, i.e. under
      `--preset quick` on a data set that has one); the table options and
      flags override it.
    training: the paper's optimiser columns (`batch_size`, `learning_rate`,
      `lr_decay`, `weight_decay`), overriding the table's row; `None`: the row's.
    quick_training: the same under `--preset quick` on a data set with a
      quick configuration (`DataInfo.quick`); `None`: the row's.
    xla_on_cpu: event size D -> whether XLA is faster than a plain graph
      without a GPU (measured by `bench/throughput.py`).
  """
  flow_class: type
  options: Mapping[str, Option]
  table_options: Tuple[str, ...] = ()
  fixed: Mapping = dataclasses.field(default_factory=dict)
  data_options: Callable[[DataInfo], dict] = raw_units_options
  architecture: Optional[Callable[[DataInfo, bool], dict]] = None
  training: Optional[Mapping] = None
  quick_training: Optional[Mapping] = None
  xla_on_cpu: Callable[[int], bool] = always


def flag_names(options, flags=()):
  """The command-line spelling of options and flags, e.g. "--num-blocks, --no-attention"."""
  spelled = {flag.argument: flag.display for flag in flags}
  return ", ".join(spelled.get(option, "--" + option.replace("_", "-")) for option in options)


@dataclasses.dataclass(frozen=True)
class FlowSpec:
  """One `--model` family: its models, options, flags, presets and test size.

  Attributes:
    name: the `--model` name.
    summary: one line for `--help` and the README.
    vectors: the `Variant` for vector data (`None`: images only).  On image
      data without an `images` variant it models the flattened pixels, with
      uniform dequantisation and the logit transform, and keeps its own
      defaults for the options no flag sets (the table's sizes describe LDU
      blocks).
    images: the `Variant` for image data (`None`: the flat vector model).
    flags: the family's own `Flag`s.
    tiny: generic option -> value of a tiny vector model for tests (seconds on a CPU).
    tiny_flag_values: `{argument: value}` of the family's own flags in that model.
    check: optional `(explicit, flag_values) -> None` raising `ValueError`
      for a combination of flags the family refuses.
  """
  name: str
  summary: str
  vectors: Optional[Variant] = None
  images: Optional[Variant] = None
  flags: Tuple[Flag, ...] = ()
  tiny: Mapping = dataclasses.field(default_factory=dict)
  tiny_flag_values: Mapping = dataclasses.field(default_factory=dict)
  check: Optional[Callable] = None

  def variant(self, data):
    """The `Variant` for `data` (a `DataInfo`), or a `ValueError` naming what is missing."""
    if not data.images:
      if self.vectors is None:
        raise ValueError(f"--model {self.name} ({self.images.flow_class.__name__}) needs "
                         f"image data (--dataset digits, mnist or cifar10).")
      return self.vectors
    if self.images is not None:
      return self.images
    return dataclasses.replace(self.vectors, table_options=(),
                               data_options=uniform_dequantization_and_logit)

  def conditional_on(self, data):
    """Whether the family's model for `data` can be conditional (`--conditional`).

    Whether its flow class takes a context (`takes_context`).
    """
    return bool(self.variant(data).flow_class.takes_context)

  def has_image_model(self, data):
    """Whether the family's own image model (not the flat vector model) serves `data`."""
    return data.images and self.images is not None

  def training_overrides(self, images, quick):
    """The paper's optimiser columns, or `{}` to keep the table row's.

    Args:
      images: whether the data are images.
      quick: whether the quick CPU configuration applies (`--preset quick` on
        a data set that has one).
    """
    variant = self.images if images and self.images is not None else self.vectors
    if variant is None:
      return {}
    if quick and variant.quick_training is not None:
      return dict(variant.quick_training)
    return dict(variant.training or {})

  def prefers_xla_on_cpu(self, data):
    """Whether XLA is faster than a plain graph on a CPU for this family on `data`."""
    return self.variant(data).xla_on_cpu(data.event_size)

  def build(self, data, hyperparameters, explicit=(), flag_values=None, preset="quick",
            augment_dims=0, num_importance_samples=100):
    """Builds the family's model for `data`.

    Args:
      data: a `DataInfo`.
      hyperparameters: the resolved table row (an object with one attribute
        per `ARCHITECTURE_OPTIONS`).
      explicit: the generic options set by flags; an error names any the
        family does not take.
      flag_values: `{argument: value}` of the family's own flags that were
        set (`models.build_model` refuses other families' flags first).
      preset: "quick" or "paper": picks the architecture preset
        (`Variant.architecture`) where the data set has a quick one.
      augment_dims: E > 0 wraps the vector model, built on D + E dimensions,
        in a `tfp_ldu.flows.AugmentedFlow` with `num_importance_samples`.

    Returns:
      The `FlowModel`, not yet compiled.

    Raises:
      ValueError: a flag or combination the family cannot take (the message
        names the flags as typed).
    """
    flag_values = dict(flag_values or {})
    variant = self.variant(data)
    image_model = self.has_image_model(data)
    by_argument = {flag.argument: flag for flag in self.flags}
    image_only = [name for name in flag_values
                  if by_argument[name].images_only and not image_model]
    if image_only:
      where = "images" if data.images else data.name
      raise ValueError(f"{flag_names(image_only, self.flags)} needs --model {self.name} on "
                       f"image data (--dataset digits, mnist or cifar10); got {where}.")
    rejected = sorted(set(explicit) - set(variant.options))
    if rejected:
      raise ValueError(f"--model {self.name} ({variant.flow_class.__name__}"
                       f"{' on images' if image_model else ''}) does not take "
                       f"{flag_names(rejected)}.")
    if self.check is not None:
      self.check(tuple(explicit), flag_values)
    quick = preset == "quick" and data.quick
    options = dict(variant.architecture(data, quick) if variant.architecture else {})
    wanted = set(variant.table_options) | set(explicit)
    options.update({variant.options[name].argument: getattr(hyperparameters, name)
                    for name in ARCHITECTURE_OPTIONS if name in wanted})
    options.update(variant.fixed)
    options.update(flag_values)
    if data.context_shape:
      if not self.conditional_on(data):
        raise ValueError(f"--conditional: --model {self.name} builds "
                         f"{variant.flow_class.__name__}"
                         f"{' on images' if image_model else ''}, which is not "
                         f"conditional yet.")
      options["context_shape"] = tuple(data.context_shape)
    if not augment_dims:
      return variant.flow_class(data.event_shape, **options, **variant.data_options(data))
    if image_model:
      raise ValueError(f"--augment-dims: --model {self.name} on images is an image model "
                       f"({variant.flow_class.__name__}); augment a flat model (e.g. "
                       f"--model maf) instead.")
    inner = variant.flow_class(data.event_size + augment_dims, **options,
                               name=f"{self.name}_joint")
    return AugmentedFlow(data.event_shape, inner, augment_dims,
                         num_importance_samples=num_importance_samples,
                         **variant.data_options(data))
