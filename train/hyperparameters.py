"""Training hyper-parameters: the Sinusoidal Flow paper's per-dataset table.

`PAPER_TABLE` is supplementary Table 1 of Wei (ACML 2021), one row per data
set family:

  |               | 2-D toy | POWER   | GAS     | HEPMASS | MINIBOONE | BSDS300 |
  | LDU blocks    | 16      | 12      | 12      | 12      | 12        | 12      |
  | D-scales      | 4       | 4       | 4       | 4       | 4         | 4       |
  | K             | 4       | 4       | 4       | 4       | 4         | 4       |
  | MADE hidden   | 100     | 256-256 | 256-256 | 512-512 | 256-256   | 512-512 |
  | dropout       | -       | -       | -       | -       | 0.3       | 0.1     |
  | steps         | 50K     | 1.2M    | 2M      | 1M      | 125K      | 400K    |
  | batch         | 128     | 512     | 128     | 128     | 128       | 512     |
  | learning rate | 1e-3    | 5e-4    | 1e-3    | 1e-3    | 5e-4      | 5e-4    |
  | LR decay      | -       | cosine  | 0.99    | 0.99    | cosine    | cosine  |
  | weight decay  | -       | -       | 1e-5    | 5e-4    | 1e-3      | -       |

The image rows come from the paper's Table 2 (12 LDU blocks of 4 D-scales,
K = 4, PixelCNN shifts with 16 feature maps and 2 residual blocks, batch 128):

  |               | MNIST              | CIFAR-10                            |
  | steps         | 200K               | 140K                                |
  | learning rate | 1e-3, cosine       | 5e-4, x0.9 after a 2-epoch plateau  |
  | weight decay  | 1e-2 (AdamW)       | 1e-1 (AdamW)                        |

The optimiser is Adam, AdamW where a weight decay is given.  "0.99" is an
exponential decay of the learning rate by 0.99 per epoch; "plateau"
multiplies it by `PLATEAU_FACTOR` whenever the validation loss has not
improved for `PLATEAU_PATIENCE` epochs (see `train.training_loop`).

`QUICK_TOY` is not from the paper: it is the default for the 2-D toy data so
that `python train/fit.py` with no arguments trains, evaluates and plots in
about a minute on a 2-core CPU (4 blocks of 2 D-scales and a 32-32 MADE
instead of 16 blocks of 4 D-scales and a 100-unit MADE; 1,500 steps instead
of 50K, compensated by a larger, cosine-decayed learning rate).  Pass
`--preset paper` to `train/fit.py` for the paper's 2-D row.

`QUICK_TABLE` is the default for a user's own table (`train/fit.py --data
FILE`): 6 blocks of 2 D-scales and a 64-64 MADE, 3,000 steps of batch 128
(less for a small table, `table_batch_size`) with a cosine-decayed 3e-3,
and early stopping on the validation split; `--preset paper` gives it the
MINIBOONE row (the smallest benchmark, with dropout and weight decay).  A
user's image folder takes the digits' quick row, and MNIST's under "paper".

`QUICK_DIGITS` is the image counterpart, for the built-in 8x8 digits (which
the paper does not use): 4 blocks of 2 D-scales and 8-map PixelCNNs with one
residual block, so `python train/fit.py --dataset digits` finishes in a few
minutes on 2 CPU cores.  `--preset paper` gives digits the MNIST row.

The image models of other papers (`--model flowpp`, `--model glow` on image
data) take their architecture from their own presets and their optimiser
columns from their papers, both declared by their specs in `models/`
(`Variant.training`, `Variant.quick_training`); the number of steps stays the
dataset row's, except under "quick" on the digits (800 steps).
"""
import dataclasses
from typing import Tuple

import numpy as np

import models
from train.datasets import DATASET_NAMES
from train.datasets import IMAGE_NAMES
from train.datasets import TOY_NAMES
from train.datasets import USER_IMAGES
from train.datasets import USER_TABLE

__all__ = ["Hyperparameters", "PAPER_TABLE", "QUICK_TOY", "QUICK_DIGITS", "QUICK_TABLE",
           "PRESETS", "table_batch_size",
           "LR_DECAYS", "EXPONENTIAL_DECAY_RATE", "PLATEAU_FACTOR", "PLATEAU_PATIENCE",
           "table_row", "paper_row", "has_quick_row", "default_hyperparameters"]

# "quick" is `QUICK_TOY` for the 2-D toys, `QUICK_DIGITS` for the built-in
# digits, and the paper's row otherwise.
PRESETS = ("quick", "paper")

# Learning-rate decays of the table: none, cosine to zero over the run,
# multiplication by `EXPONENTIAL_DECAY_RATE` once per epoch, or by
# `PLATEAU_FACTOR` after `PLATEAU_PATIENCE` epochs without a better validation loss.
LR_DECAYS = ("none", "cosine", "exponential", "plateau")
EXPONENTIAL_DECAY_RATE = 0.99
PLATEAU_FACTOR = 0.9
PLATEAU_PATIENCE = 2


@dataclasses.dataclass(frozen=True)
class Hyperparameters:
  """One row of the table.

  Attributes:
    num_blocks: LDU blocks.
    num_d_scales: Sinusoidal D-scales per block.
    num_mixtures: K, sinusoid components per D-scale.
    hidden_units: MADE hidden layer sizes.
    dropout: MADE dropout rate.
    steps: optimisation steps.
    batch_size: examples per step.
    learning_rate: initial learning rate.
    lr_decay: one of `LR_DECAYS`.
    weight_decay: AdamW's decoupled weight decay; 0 means plain Adam.
    filters: feature maps of the PixelCNN shifts (images only).
    num_residual_blocks: residual blocks of the PixelCNN shifts (images only).
  """
  num_blocks: int
  num_d_scales: int
  num_mixtures: int
  hidden_units: Tuple[int, ...]
  dropout: float
  steps: int
  batch_size: int
  learning_rate: float
  lr_decay: str
  weight_decay: float
  filters: int = 16
  num_residual_blocks: int = 2

  def __post_init__(self):
    if self.lr_decay not in LR_DECAYS:
      raise ValueError(f"Hyperparameters: lr_decay must be one of {LR_DECAYS}; "
                       f"got {self.lr_decay!r}.")

  def replace(self, **changes):
    """A copy with the given fields changed; `None` values are ignored."""
    return dataclasses.replace(
        self, **{key: value for key, value in changes.items() if value is not None})

  def to_dict(self):
    """JSON-ready dict of the fields (`hidden_units` as a list)."""
    return {**dataclasses.asdict(self), "hidden_units": list(self.hidden_units)}


PAPER_TABLE = {
    "toy2d": Hyperparameters(
        num_blocks=16, num_d_scales=4, num_mixtures=4, hidden_units=(100,), dropout=0.0,
        steps=50_000, batch_size=128, learning_rate=1e-3, lr_decay="none",
        weight_decay=0.0),
    "power": Hyperparameters(
        num_blocks=12, num_d_scales=4, num_mixtures=4, hidden_units=(256, 256),
        dropout=0.0, steps=1_200_000, batch_size=512, learning_rate=5e-4,
        lr_decay="cosine", weight_decay=0.0),
    "gas": Hyperparameters(
        num_blocks=12, num_d_scales=4, num_mixtures=4, hidden_units=(256, 256),
        dropout=0.0, steps=2_000_000, batch_size=128, learning_rate=1e-3,
        lr_decay="exponential", weight_decay=1e-5),
    "hepmass": Hyperparameters(
        num_blocks=12, num_d_scales=4, num_mixtures=4, hidden_units=(512, 512),
        dropout=0.0, steps=1_000_000, batch_size=128, learning_rate=1e-3,
        lr_decay="exponential", weight_decay=5e-4),
    "miniboone": Hyperparameters(
        num_blocks=12, num_d_scales=4, num_mixtures=4, hidden_units=(256, 256),
        dropout=0.3, steps=125_000, batch_size=128, learning_rate=5e-4,
        lr_decay="cosine", weight_decay=1e-3),
    "bsds300": Hyperparameters(
        num_blocks=12, num_d_scales=4, num_mixtures=4, hidden_units=(512, 512),
        dropout=0.1, steps=400_000, batch_size=512, learning_rate=5e-4,
        lr_decay="cosine", weight_decay=0.0),
    "mnist": Hyperparameters(
        num_blocks=12, num_d_scales=4, num_mixtures=4, hidden_units=(), dropout=0.0,
        steps=200_000, batch_size=128, learning_rate=1e-3, lr_decay="cosine",
        weight_decay=1e-2, filters=16, num_residual_blocks=2),
    "cifar10": Hyperparameters(
        num_blocks=12, num_d_scales=4, num_mixtures=4, hidden_units=(), dropout=0.0,
        steps=140_000, batch_size=128, learning_rate=5e-4, lr_decay="plateau",
        weight_decay=1e-1, filters=16, num_residual_blocks=2),
}

QUICK_TOY = Hyperparameters(
    num_blocks=4, num_d_scales=2, num_mixtures=4, hidden_units=(32, 32), dropout=0.0,
    steps=1_500, batch_size=128, learning_rate=3e-3, lr_decay="cosine",
    weight_decay=0.0)

QUICK_DIGITS = Hyperparameters(
    num_blocks=4, num_d_scales=2, num_mixtures=4, hidden_units=(), dropout=0.0,
    steps=800, batch_size=128, learning_rate=3e-3, lr_decay="cosine",
    weight_decay=0.0, filters=8, num_residual_blocks=1)


QUICK_TABLE = Hyperparameters(
    num_blocks=6, num_d_scales=2, num_mixtures=4, hidden_units=(64, 64), dropout=0.0,
    steps=3_000, batch_size=128, learning_rate=3e-3, lr_decay="cosine",
    weight_decay=0.0)


def table_batch_size(num_train: int, default: int = 128) -> int:
  """The default batch of a user's table of `num_train` training rows.

  `default`, or for a small table the power of two nearest a quarter of its
  rows (at least 8), so an epoch has about four steps and early stopping
  sees the validation loss often.
  """
  if num_train >= 4 * default:
    return default
  return int(min(max(8, 2 ** round(np.log2(max(num_train, 1) / 4))), num_train))


def table_row(dataset: str) -> str:
  """The name of the paper's row for `dataset`: every 2-D toy shares "toy2d", the
  built-in digits and a user's image folder use "mnist", a user's table
  "miniboone"."""
  if dataset in TOY_NAMES:
    return "toy2d"
  if dataset in ("digits", USER_IMAGES):
    return "mnist"
  if dataset == USER_TABLE:
    return "miniboone"
  if dataset in PAPER_TABLE:
    return dataset
  raise ValueError(f"Unknown dataset {dataset!r}; expected one of {DATASET_NAMES}.")


def paper_row(dataset: str) -> Hyperparameters:
  """The paper's row for `dataset` (see `table_row`)."""
  return PAPER_TABLE[table_row(dataset)]


def has_quick_row(dataset: str) -> bool:
  """Whether `dataset` has a small CPU row for `--preset quick` (the toys, the digits)."""
  return dataset in TOY_NAMES or dataset in ("digits", USER_TABLE, USER_IMAGES)


def default_hyperparameters(dataset: str, preset: str = "quick",
                            model: str = "ldu") -> Hyperparameters:
  """Defaults for `dataset`: the paper's row, or under "quick" `QUICK_TOY` for a
  toy, `QUICK_TABLE` for a user's table (`USER_TABLE`) and `QUICK_DIGITS` for
  the built-in digits and a user's image folder; then the optimiser columns
  that `model`'s spec declares for the data (`FlowSpec.training_overrides`:
  the image models of other papers on image data)."""
  if preset not in PRESETS:
    raise ValueError(f"Unknown preset {preset!r}; expected one of {PRESETS}.")
  quick = preset == "quick" and has_quick_row(dataset)
  images = dataset in IMAGE_NAMES or dataset == USER_IMAGES
  overrides = models.spec_for(model).training_overrides(images, quick)
  if overrides:
    return paper_row(dataset).replace(**overrides)
  if quick:
    return {USER_TABLE: QUICK_TABLE}.get(
        dataset, QUICK_TOY if dataset in TOY_NAMES else QUICK_DIGITS)
  return paper_row(dataset)
