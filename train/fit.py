"""Train a flow by maximum likelihood, evaluate it, plot it and export it.

    python train/fit.py                        # LDU flow on 2-D moons, ~1 minute
    python train/fit.py --dataset gas --data-dir ~/data     # the paper's GAS row
    python -m train.fit --dataset gas --model maf --steps 20000 --resume
    python train/fit.py --dataset rotating_moons --conditional --model nsf   # p(x | c)

Defaults come from the paper's table (`train/hyperparameters.py`); every
flag overrides its entry.  The 2-D toys default to the small "quick" preset
(`--preset paper` for the paper's 2-D row).  Outputs in `--out` (default
`runs/<dataset>-<model>`):

  checkpoints/    last and best-on-validation checkpoints (`--resume` continues
                  from the last one, optimizer state and step counter included);
  logs/           TensorBoard logs;
  config.json     the resolved configuration;
  metrics.json    test log-likelihood (nats, mean and 2 standard errors, with
                  the best checkpoint), validation log-likelihood, steps,
                  seconds, sampling speed, numeric-inverse iterations and the
                  reconstruction residual of the samples; for images also test
                  bits/dim (mean and 2 standard errors);
  density.png, samples.png   for 2-D data (with `--conditional`: the density
                  and samples for five contexts, next to held-out data near
                  each);
  samples.png     for images: a grid of samples (pixels in [0, 1], at
                  `--temperature`; with `--conditional` one row per class);
  saved_model/    `tfp_ldu.export.save` SavedModel.

Several devices or machines: `--strategy mirrored` (the local devices) or
`--strategy multi-worker` (`MultiWorkerMirroredStrategy` from `TF_CONFIG`:
run the same command on every worker; the chief writes `--out`, the others
a scratch directory; see `train.distribution` and the README).  With XLA
and several replicas (the default on GPUs, `--jit` on CPU devices), each
replica's loss and gradients are compiled with XLA and the all-reduce and
update run outside it (`FlowModel.fit`).  `--precision mixed_bfloat16` runs the networks in
bfloat16 and everything else in float32 (`tfp_ldu.layers.precision`).

Steps and epochs: an epoch is at most one pass over the training set; with
`--steps N` alone the run is the fewest such epochs covering N steps (see
`train.data_pipeline.epoch_schedule`).  The validation loss is computed, and
checkpoints written, at the end of every epoch; early stopping waits
`--patience` epochs.  A non-finite loss stops the run with a message naming
the step and exit status 1, keeping the last good checkpoint.

User mistakes end the run with one line, not a traceback: a flag out of
range, an `--out` that is not a writable directory or a batch larger than the
training set with an argparse error (exit status 2, before any training); a
missing or invalid data file with `error: ...` (status 1).  Ctrl-C exits
with status 130 after printing the step reached and the command that resumes
from the last checkpoint.
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

if __package__ in (None, ""):  # `python train/fit.py`: make the repository importable.
  sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

import argparse  # noqa: E402
import contextlib  # noqa: E402
import dataclasses  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import shlex  # noqa: E402
import time  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import models  # noqa: E402

from tfp_ldu import export  # noqa: E402
from tfp_ldu.bits_per_dim import bits_per_dim  # noqa: E402
from tfp_ldu.layers.precision import flow_dtype_policy  # noqa: E402
from train import cli_checks  # noqa: E402
from train import datasets  # noqa: E402
from train import distribution  # noqa: E402
from train import plots  # noqa: E402
from train import table_plots  # noqa: E402
from train.datasets import user_files  # noqa: E402
from train.report import write_report  # noqa: E402
from train.image_grid import save_image_grid  # noqa: E402
from train.checkpointing import TrainingCheckpoint  # noqa: E402
from train.data_pipeline import EpochSchedule  # noqa: E402
from train.data_pipeline import epoch_schedule  # noqa: E402
from train.data_pipeline import training_dataset  # noqa: E402
from train.evaluation import BatchedLogProb  # noqa: E402
from train.evaluation import sampling_diagnostics  # noqa: E402
from train.evaluation import summarize_log_likelihood  # noqa: E402
from train.hyperparameters import LR_DECAYS  # noqa: E402
from train.hyperparameters import PRESETS  # noqa: E402
from train.hyperparameters import default_hyperparameters  # noqa: E402
from train.hyperparameters import table_batch_size  # noqa: E402
from train.build import build_model  # noqa: E402
from train.build import column_units  # noqa: E402
from train.build import data_info  # noqa: E402
from train.training_loop import make_optimizer  # noqa: E402
from train.training_loop import run_training  # noqa: E402

__all__ = ["main", "cli", "fit_table", "FitResult", "build_parser", "parse_args",
           "resolve_hyperparameters"]

# Fields of config.json that define the trajectory of a run: `--resume`
# refuses to continue a checkpoint written under different values, except
# that a longer budget extends the run (`_EXTENSIBLE`).
_RUN_IDENTITY = ("dataset", "data", "data_flags", "model", "seed", "hyperparameters", "epochs",
                 "steps_per_epoch", "patience", "augment_dims", "precision", "conditional")
_EXTENSIBLE = ("hyperparameters.steps", "epochs", "steps_per_epoch")
# The optimizer's step counter and Keras' epoch loop count in int32 / int64:
# a budget above this is a typo, refused before anything runs.
MAX_TOTAL_STEPS = 2**31 - 1


# The generic architecture flags: their range-checked type and what they are.
_ARCHITECTURE_FLAGS = {
    "num_blocks": (cli_checks.positive_int, "flow depth"),
    "num_d_scales": (cli_checks.positive_int, "D-scales per block"),
    "num_mixtures": (cli_checks.positive_int, "mixture components"),
    "hidden_units": (cli_checks.hidden_units, "hidden sizes, e.g. 256,256"),
    "dropout": (cli_checks.dropout_rate, "dropout rate in [0, 1)"),
    "filters": (cli_checks.positive_int, "convolutional width"),
    "num_residual_blocks": (cli_checks.positive_int, "residual blocks of the PixelCNN"),
}
assert tuple(_ARCHITECTURE_FLAGS) == models.ARCHITECTURE_OPTIONS


def _meanings(option):
  """What the generic `option` means for each family that takes it, from the specs."""
  meanings = []
  for spec in models.SPECS.values():
    for kind, variant in (("vectors", spec.vectors), ("images", spec.images)):
      if variant is not None and option in variant.options:
        where = f" on {kind}" if spec.vectors and spec.images else ""
        meanings.append(f"{spec.name}{where}: {variant.options[option].meaning}")
  return "; ".join(meanings)


def build_parser(prog=None):
  """The argument parser; `prog` (the usage line's command) defaults to how this ran.

  Every numeric flag is range-checked by its `type` (`train.cli_checks`), so a
  bad value ends with a one-line argparse error (exit status 2).
  """
  parser = argparse.ArgumentParser(
      prog=prog or shlex.join(cli_checks.command_words()),
      description=__doc__.split("\n")[0])
  table = "default: the table's row for --dataset"
  data = parser.add_argument_group("data")
  data.add_argument("--dataset", choices=datasets.DATASET_NAMES,
                    help="a built-in or benchmark data set (default: moons)")
  data.add_argument("--data", metavar="FILE",
                    help="your own data instead of --dataset: a table (" +
                         user_files.SUPPORTED_FORMATS + ") or a folder of 8-bit PNG/JPEG "
                         "images of one size (one subfolder per class gives class contexts); "
                         "the model takes and returns rows in the table's units")
  data.add_argument("--columns", type=cli_checks.column_names,
                    help="--data: the columns to model, by name or 0-based index, e.g. "
                         "a,b,c (default: every column not named by another flag)")
  data.add_argument("--context-columns", type=cli_checks.column_names,
                    help="--data: columns to condition on: learns p(x | c) "
                         "(implies --conditional)")
  data.add_argument("--split-column",
                    help="--data: a column of train/val/test labels that sets the splits "
                         "(default: a shuffle, see --val-fraction)")
  data.add_argument("--val-fraction", type=cli_checks.fraction, default=0.1,
                    help="--data: share of the rows held out for validation (default: 0.1)")
  data.add_argument("--test-fraction", type=cli_checks.fraction, default=0.1,
                    help="--data: share of the rows held out for the test (default: 0.1)")
  data.add_argument("--discrete-columns", type=cli_checks.column_names,
                    help="--data: columns to dequantise as whole numbers (default: every "
                         "column whose values are all whole numbers)")
  data.add_argument("--continuous-columns", type=cli_checks.column_names,
                    help="--data: whole-number columns to model as continuous instead")
  data.add_argument("--bounded-columns", type=cli_checks.column_bounds, metavar="NAME:LOW:HIGH",
                    help="--data: open bounds of continuous columns, e.g. share:0:1,amount:0: "
                         "(an empty side is unbounded): the model maps them to R by a logit "
                         "or a log, so its density and samples stay inside")
  data.add_argument("--drop-nonfinite", action="store_true",
                    help="--data: drop (and report) rows with NaN, infinite or empty "
                         "values instead of stopping")
  data.add_argument("--plot-columns", type=cli_checks.column_names,
                    help="vector data with more than 2 columns: the columns (at most "
                         f"{table_plots.MAX_CORNER_COLUMNS}) of the corner plot (default: "
                         "the first ones)")
  data.add_argument("--data-dir", help="unpacked MAF archive (default: "
                    "$TFP_LDU_DATA_DIR or ~/.tfp_ldu/data)")
  data.add_argument("--download", action="store_true",
                    help="download the MAF archive into --data-dir first")
  data.add_argument("--conditional", action="store_true",
                    help="learn p(x | c) from a data set of pairs: the digits, mnist and "
                         "cifar10 with their one-hot class (class-conditional images), "
                         "rotating_moons with its angle c, --data with --context-columns "
                         "or class subfolders")
  model = parser.add_argument_group("model")
  model.add_argument("--model", default="ldu", choices=tuple(models.SPECS),
                     help="the flow family (default: ldu): " + "; ".join(
                         f"{spec.name}: {spec.summary}" for spec in models.SPECS.values()))
  model.add_argument("--preset", default="quick", choices=PRESETS,
                     help="quick (default): the small CPU configuration where the table "
                          "has one (the 2-D toys: about a minute; digits: 800 steps), the "
                          "paper's row otherwise; paper: always the paper's row")
  for option, (flag_type, what) in _ARCHITECTURE_FLAGS.items():
    model.add_argument("--" + option.replace("_", "-"), type=flag_type,
                       help=f"{what} ({table}); per model: {_meanings(option)}")
  for flag in models.ALL_FLAGS:
    kwargs = dict(flag.kwargs)
    if isinstance(kwargs.get("type"), str):  # A range-checked type of the CLI.
      kwargs["type"] = getattr(cli_checks, kwargs["type"])
    model.add_argument(*flag.option_strings, **kwargs)
  model.add_argument("--augment-dims", type=cli_checks.positive_int,
                     help="marginalising flow: model (x, e) with this many N(0, I) noise "
                          "dimensions e, trained on the bound E[log p(x, e) - log q(e)]")
  model.add_argument("--importance-samples", type=cli_checks.positive_int,
                     help="with --augment-dims: samples K of the importance-weighted "
                          "test log-likelihood (default: 100); on images: also report "
                          "the importance-weighted estimate log mean_k exp(log p(y_k) - "
                          "log q(y_k | x)) over K draws of the dequantiser (Flow++: 4096; "
                          "default: only the one-sample bound)")
  optim = parser.add_argument_group("optimisation")
  optim.add_argument("--steps", type=cli_checks.positive_int,
                     help=f"optimisation steps ({table}, unless --epochs is given)")
  optim.add_argument("--epochs", type=cli_checks.positive_int,
                     help="epochs; alone: passes over the data; with --steps: the "
                          "steps are split into this many epochs")
  optim.add_argument("--batch-size", type=cli_checks.positive_int, help=table)
  optim.add_argument("--lr", type=cli_checks.positive_float,
                     help=f"initial learning rate ({table})")
  optim.add_argument("--lr-decay", choices=LR_DECAYS,
                     help=f"cosine over the run, exponential (0.99 per epoch), plateau "
                          f"(x0.9 after 2 epochs without progress) or none ({table})")
  optim.add_argument("--weight-decay", type=cli_checks.non_negative_float,
                     help=f"AdamW weight decay, 0 for Adam ({table})")
  optim.add_argument("--patience", type=cli_checks.positive_int, default=30,
                     help="early stopping: epochs without a lower validation loss "
                          "(default: 30)")
  optim.add_argument("--seed", type=cli_checks.random_seed, default=0,
                     help="weights and data order (default: 0)")
  run = parser.add_argument_group("run")
  run.add_argument("--out", help="output directory (default: runs/<dataset>-<model>)")
  run.add_argument("--resume", action="store_true",
                   help="continue from the last checkpoint in --out")
  run.add_argument("--no-jit", dest="jit", action="store_false", default=None,
                   help="do not compile with XLA")
  run.add_argument("--jit", dest="jit", action="store_true", default=None,
                   help="compile with XLA even where plain graphs were measured faster "
                        "without a GPU (several replicas; the LDU flow on more than 24 "
                        "dimensions); the default compiles everywhere else")
  run.add_argument("--strategy", default="default", choices=distribution.STRATEGIES,
                   help="mirrored: tf.distribute.MirroredStrategy over the local devices; "
                        "multi-worker: MultiWorkerMirroredStrategy configured by TF_CONFIG "
                        "(run the same command on every worker)")
  run.add_argument("--precision", default="float32", choices=("float32", "mixed_bfloat16"),
                   help="mixed_bfloat16: the conditioner networks compute in bfloat16, "
                        "log-determinants, base density and solves in float32 "
                        "(default: float32)")
  run.add_argument("--eval-batch-size", type=cli_checks.positive_int, default=1000,
                   help="rows per evaluation batch (default: 1000)")
  run.add_argument("--num-samples", type=cli_checks.positive_int,
                   help="samples for the sampling diagnostics and plots (default: 5000; "
                        "100 for images)")
  run.add_argument("--temperature", type=cli_checks.positive_float,
                   help="temperature of the image sample grid, images only (default: 1)")
  run.add_argument("--verbose", type=int, choices=(0, 1, 2),
                   help="Keras fit verbosity: 0 silent, 1 progress bar, 2 one line per "
                        "epoch (default: 1 on a terminal, 2 when the output is "
                        "redirected to a file or pipe)")
  return parser


def parse_args(argv=None, parser=None, in_memory=False):
  """Parses the command line (see the module docstring) with `parser` or `build_parser()`.

  Flags that do not apply to `--dataset` end with an argparse error:
  `--temperature` on vector data (there is no image grid), `--data-dir` or
  `--download` with a built-in data set (which reads no files).
  """
  parser = parser or build_parser()
  args = parser.parse_args(argv)
  args.frame = None  # `fit_table`'s data frame, set by `_fit`.
  _check_data_flags(args, parser, in_memory)
  images = args.dataset in datasets.IMAGE_NAMES or args.dataset == datasets.USER_IMAGES
  if args.temperature is not None and not images:
    parser.error(f"--temperature sets the temperature of the image sample grid; "
                 f"--dataset {args.dataset} is not an image data set.")
  if args.dataset in datasets.BUILT_IN_NAMES and (args.data_dir or args.download):
    flag = "--data-dir" if args.data_dir else "--download"
    parser.error(f"{flag}: --dataset {args.dataset} is built in and reads no files; "
                 f"{flag} is for {', '.join(datasets.TABULAR_NAMES)}, mnist and cifar10.")
  args.temperature = 1.0 if args.temperature is None else args.temperature
  if args.verbose is None:  # Progress bars would fill a log file with ANSI codes.
    args.verbose = 1 if sys.stdout.isatty() else 2
  if args.out is None:
    args.out = os.path.join("runs", f"{_data_name(args)}-{args.model}")
  if args.num_samples is None:
    args.num_samples = 100 if images else 5000
  return args


# `--data`'s table flags that only `--data` may take (the split fractions have
# defaults, so every run has them).
_TABLE_FLAGS = tuple(flag for flag in datasets.USER_DATA_FLAGS
                     if flag not in ("val_fraction", "test_fraction"))


def _data_flags(args):
  """`{flag: value}` of `--data`'s table flags (`datasets.USER_DATA_FLAGS`)."""
  return {flag: getattr(args, flag) for flag in datasets.USER_DATA_FLAGS}


def _check_data_flags(args, parser, in_memory=False):
  """`--data` or `--dataset` (default moons); sets `args.dataset` to the kind of user data.

  `in_memory`: `--data` names a data frame that `fit_table` was given, not a file.
  """
  given = [flag for flag in _TABLE_FLAGS if getattr(args, flag)]
  if args.data is None:
    if given:
      parser.error(f"--{given[0].replace('_', '-')} is for your own table (--data FILE).")
    args.dataset = args.dataset or "moons"
    return
  if args.dataset is not None:
    parser.error("--data and --dataset: pass one (--data FILE for your own data).")
  if args.data_dir or args.download:
    parser.error("--data-dir and --download are for the benchmark data sets, not --data.")
  images = not in_memory and os.path.isdir(args.data)
  if images and given:
    parser.error(f"--{given[0].replace('_', '-')}: --data {args.data} is a folder of "
                 f"images, not a table.")
  args.dataset = datasets.USER_IMAGES if images else datasets.USER_TABLE
  if args.context_columns:
    args.conditional = True


def _data_name(args):
  """What the data are called in reports: the --dataset, or the --data file's stem."""
  if args.data is None:
    return args.dataset
  return datasets.user_data_name(args.data)


def resolve_hyperparameters(args):
  """The table row for `args.dataset` and `args.preset`, overridden by the flags."""
  row = default_hyperparameters(args.dataset, args.preset, args.model)
  return row.replace(
      num_blocks=args.num_blocks, num_d_scales=args.num_d_scales,
      num_mixtures=args.num_mixtures, hidden_units=args.hidden_units,
      dropout=args.dropout, steps=args.steps, batch_size=args.batch_size,
      learning_rate=args.lr, lr_decay=args.lr_decay, weight_decay=args.weight_decay,
      filters=args.filters, num_residual_blocks=args.num_residual_blocks)


def _model_flags(args):
  """`{argument: value}` of the family flags that were set (`models.ALL_FLAGS`)."""
  return {flag.argument: getattr(args, flag.argument) for flag in models.ALL_FLAGS
          if getattr(args, flag.argument) is not None}


def _explicit_architecture(args):
  return tuple(option for option in models.ARCHITECTURE_OPTIONS
               if getattr(args, option) is not None)


def _write_json(path, content):
  partial = path + ".partial"
  with open(partial, "w") as stream:
    json.dump(content, stream, indent=1)
  os.replace(partial, path)


def _identity(config):
  """The run-defining values of a config, flattened: {"hyperparameters.lr": ..., ...}."""
  values = {}
  for key in _RUN_IDENTITY:
    value = config.get(key)
    if isinstance(value, dict):
      values.update({f"{key}.{name}": item for name, item in value.items()})
    else:
      values[key] = value
  return values


def _extension_schedule(saved, schedule):
  """`schedule`, or for a longer budget the saved run's epoch length with more epochs.

  Extending keeps the steps per epoch of the saved run `saved` (its
  config.json; so the epochs it completed, and the data order, stay as they
  were) and adds the fewest epochs that cover the new budget.
  """
  steps_per_epoch = saved.get("steps_per_epoch")
  if not steps_per_epoch or schedule.total_steps <= saved.get("total_steps", 0):
    return schedule
  return EpochSchedule(math.ceil(schedule.total_steps / steps_per_epoch), steps_per_epoch)


def _check_resumable(config_path, saved, config):
  """Returns the saved config's total steps if `--resume` may continue it, else exits.

  `saved` is the config read from `config_path`, `config` the requested one.
  The run must have been configured identically, except that a larger step
  budget (`--steps`, `--epochs`) extends it: training continues from the
  last checkpoint to the new end (a cosine learning rate then follows the
  longer schedule from the step reached).  A refusal names each differing
  value, saved and requested.
  """
  before, now = _identity(saved), _identity(config)
  changed = [key for key in sorted(set(before) | set(now)) if before.get(key) != now.get(key)]
  longer = config["total_steps"] > saved.get("total_steps", 0)
  if changed and not (longer and set(changed) <= set(_EXTENSIBLE)):
    differences = "; ".join(f"{key}: {before.get(key)!r} then, {now.get(key)!r} now"
                            for key in changed)
    hint = ("" if set(changed) <= set(_EXTENSIBLE) else
            " Only a larger --steps/--epochs can extend a run.")
    raise SystemExit(f"--resume: {config_path} was written with different values "
                     f"({differences}); pass the original flags or a new --out.{hint}")
  return saved.get("total_steps")


def _use_xla(requested, strategy, prefers_xla_on_cpu=True):
  """`--jit` (True), `--no-jit` (False), or the default (None): XLA where it is faster.

  Under a strategy of several replicas `FlowModel.fit` compiles each
  replica's loss and gradients with XLA and runs the all-reduce and the
  update outside it (one XLA cluster cannot span the replicas' devices).
  That works on CPU devices too, but there the plain graph was measured
  faster (docs/performance.md), so the default turns XLA off for several
  replicas without a GPU; and likewise where the model's spec says a plain
  graph is faster on a CPU (`prefers_xla_on_cpu`, `models.Variant.xla_on_cpu`).
  """
  if requested is not None:
    return requested
  if tf.config.list_physical_devices("GPU"):
    return True
  return strategy.num_replicas_in_sync == 1 and prefers_xla_on_cpu


@contextlib.contextmanager
def _dtype_policy(precision):
  """Builds layers under `precision` (`flow_dtype_policy`), then restores the global policy."""
  previous = keras.config.dtype_policy()
  keras.config.set_dtype_policy(flow_dtype_policy(precision))
  try:
    yield
  finally:
    keras.config.set_dtype_policy(previous)


def _load_data(args, prog):
  """`args.dataset`'s splits.

  A missing or unreadable file, a failed download or a file the dataset's
  checks reject (`OSError`, `ValueError`, each naming the file) ends the run
  with the one-line `"<prog>: error: <explanation>"` (exit status 1).
  """
  try:
    if args.data is not None:
      data = datasets.load_user_data(
          args.frame if args.frame is not None else args.data, name=_data_name(args),
          seed=args.seed, **datasets.user_data_options(_data_flags(args)))
      print("\n".join(data.notes))
      return data
    if args.download:
      datasets.download(args.data_dir)
    return datasets.load_dataset(args.dataset, data_dir=args.data_dir)
  except (OSError, ValueError) as error:
    raise SystemExit(f"{prog}: error: {error}") from error


def _run_config(args, data, hyperparameters, schedule, strategy):
  """The JSON-ready description of a run written to `config.json`."""
  return dict(dataset=args.dataset, data=args.data, model=args.model, seed=args.seed,
              augment_dims=args.augment_dims or 0, model_flags=_model_flags(args),
              importance_samples=(args.importance_samples or AUGMENTED_IMPORTANCE_SAMPLES
                                  if args.augment_dims else args.importance_samples),
              hyperparameters=hyperparameters.to_dict(), epochs=schedule.epochs,
              steps_per_epoch=schedule.steps_per_epoch, total_steps=schedule.total_steps,
              patience=args.patience, preset=args.preset,
              jit_compile=_use_xla(args.jit, strategy, _prefers_xla_on_cpu(args, data)),
              precision=args.precision,
              strategy=args.strategy, num_replicas_in_sync=strategy.num_replicas_in_sync,
              num_workers=distribution.worker_info(strategy).num_workers,
              eval_batch_size=args.eval_batch_size, num_samples=args.num_samples,
              data_dir=args.data_dir, explicit_architecture=list(_explicit_architecture(args)),
              conditional=bool(args.conditional), command=getattr(args, "command", None),
              data_flags=json.loads(json.dumps(_data_flags(args))) if args.data else None,
              data_in_memory=args.frame is not None,
              context_shape=list(data.context_shape) if args.conditional else [],
              event_size=data.n_dims, num_train=len(data.train), num_val=len(data.val),
              num_test=len(data.test))


def _prefers_xla_on_cpu(args, data):
  """The spec's answer for `--model` on `data`; True if the model cannot be built there."""
  try:
    return models.spec_for(args.model).prefers_xla_on_cpu(data_info(data, args.conditional))
  except ValueError:  # e.g. an image model on vectors; `build_model` explains it.
    return True


def _start_or_resume(model, checkpoint, resuming, first_batch, log_prob, data, out):
  """Loads the last checkpoint, or initialises ActNorm and records the initial test LL.

  A conditional model's context standardisation comes from every training
  context (`data.contexts["train"]`) before the first batch initialises
  the layers.
  """
  if resuming:
    model.optimizer.build(model.trainable_variables)  # Its slots are in the checkpoint.
    checkpoint.restore(model)
    print(f"Resuming {out} after epoch {checkpoint.state['epoch']} "
          f"(step {checkpoint.state['step']}).")
    return
  checkpoint.reset()
  if model.conditional:
    model.set_context_statistics(data.contexts["train"])
  model.initialize(first_batch)
  test_data = data.inputs("test", model.conditional)
  initial = summarize_log_likelihood(log_prob(test_data))
  checkpoint.state["extra"]["initial_test_log_likelihood"] = initial.mean
  print(f"Initial test log-likelihood: {initial} nats.")


@dataclasses.dataclass
class _Progress:
  """How far a run got, for the Ctrl-C message: set once training has started."""
  model: keras.Model = None
  checkpoint: TrainingCheckpoint = None


def main(argv=None, *, callbacks=()):
  """Runs the command line `argv` (default `sys.argv[1:]`).

  Args:
    argv: list of flags.
    callbacks: extra Keras callbacks for `fit` (run after each epoch's
      checkpoint is written).

  Returns:
    The metrics dict also written to `<out>/metrics.json`.

  Raises:
    SystemExit: exit status 2 after a one-line argparse error for a flag out
      of range, an `--out` that is not a writable directory, or a batch size
      larger than the training set; status 1 with a message if a data file
      is missing or invalid, the loss became non-finite, or `--resume` finds
      a checkpoint of a different configuration; status 130 after Ctrl-C,
      once a line naming the step, the checkpoint and the command that
      resumes the run is printed.  Unexpected errors keep their traceback.
  """
  return _fit(argv, callbacks).metrics


@dataclasses.dataclass
class FitResult:
  """What `fit_table` returns.

  Attributes:
    model: the trained `tfp_ldu.flows.FlowModel` (the best checkpoint's
      weights), taking and returning rows in the table's units.
    metrics: the dict written to `<out>/metrics.json`.
    out: the run directory (figures, `report.md`, `saved_model/`).
  """
  model: keras.Model
  metrics: dict
  out: str


def fit_table(table, model="ldu", out=None, name="table", **flags):
  """Fits a flow to a table in Python: the job of `python train/fit.py --data FILE`.

  The same loading, checks, splits, dequantisation, training, figures,
  report and export as the command line, for a notebook:

      import pandas as pd
      from train import fit_table
      result = fit_table(pd.read_csv("measurements.csv"), model="maf", steps=500,
                         columns=["a", "b", "c"])
      result.model.log_prob(rows)          # densities of raw rows, in their units
      result.metrics["test_log_likelihood"]

  Args:
    table: a pandas `DataFrame`, a `[N, D]` NumPy array (columns "0", "1",
      ...) or the path of a table file (anything `--data` reads).
    model: the flow family (`--model`).
    out: the run directory (default: `runs/<name>-<model>`).
    name: the data's name in reports, for a data frame or array.
    **flags: any other flag of `train/fit.py` by its argument name:
      `steps=500`, `columns=["a", "b"]`, `hidden_units=(64, 64)`,
      `drop_nonfinite=True`, `verbose=0`, ...  Lists and tuples are joined
      with commas; `True` turns a switch on.

  Returns:
    A `FitResult` (model, metrics, out).

  Raises:
    SystemExit: as `main` (a bad flag, a bad table: the message says what).
  """
  path = table if isinstance(table, (str, os.PathLike)) else None
  argv = ["--data", os.fspath(path) if path is not None else name, "--model", model]
  if out is not None:
    argv += ["--out", os.fspath(out)]
  for key, value in flags.items():
    flag = "--" + key.replace("_", "-")
    if value is True:
      argv.append(flag)
    elif value is not None and value is not False:
      argv += [flag, ",".join(map(str, value)) if isinstance(value, (list, tuple))
               else str(value)]
  frame = None if path is not None else user_files.as_frame(table)
  return _fit(argv, (), frame)


def _fit(argv, callbacks, frame=None):
  """`main`'s work, returning a `FitResult`; `frame` a data frame in the place of `--data`'s file."""
  started = time.perf_counter()
  flags = sys.argv[1:] if argv is None else list(argv)
  command = cli_checks.command_words()
  parser = build_parser(shlex.join(command))
  args = parse_args(flags, parser, in_memory=frame is not None)
  args.command = shlex.join([*command, *flags])
  args.frame = frame
  problem = cli_checks.output_directory_problem(args.out)
  if problem:
    parser.error(problem)
  progress = _Progress()
  try:
    metrics = _train_and_evaluate(args, parser, callbacks, progress, started)
    return FitResult(progress.model, metrics, args.out)
  except KeyboardInterrupt:
    if sys.stdout.isatty():
      print()  # Ends the progress bar's line.
    step = state = None
    if progress.model is not None:
      step = int(progress.model.optimizer.iterations.numpy())
      state = progress.checkpoint.state
    print(cli_checks.interruption_message(command, flags, step, state,
                                          os.path.join(args.out, "checkpoints")),
          file=sys.stderr)
    raise SystemExit(130) from None


def _train_and_evaluate(args, parser, callbacks, progress, started):
  """`main` after the flags are checked; records in `progress` when training starts."""
  # Before any other TensorFlow op: MultiWorkerMirroredStrategy configures the
  # collectives of the process when it is created.
  strategy = distribution.make_strategy(args.strategy)
  worker = distribution.worker_info(strategy)
  out = distribution.output_directory(args.out, worker, resume=args.resume)
  try:
    metrics = _run(args, parser, callbacks, progress, started, strategy, out)
    # The chief hosts the coordination service: no worker leaves before all are done.
    distribution.check_agreement(strategy, 0, "the end of the run")
    return metrics
  finally:
    distribution.remove_scratch(out, worker)


def _run(args, parser, callbacks, progress, started, strategy, out):
  """Trains, evaluates and exports; this worker writes into `out`."""
  data = _load_data(args, parser.prog)
  if args.conditional and not data.conditional:
    if args.data is not None:
      parser.error(f"--conditional: --data {args.data} has no contexts; name them with "
                   f"--context-columns (a table) or use one subfolder per class (images).")
    conditional = [name for name in datasets.BUILT_IN_NAMES
                   if datasets.load_dataset(name).conditional]
    parser.error(f"--conditional: --dataset {args.dataset} has no contexts; data sets of "
                 f"pairs (x, c): {', '.join(conditional)}.")
  hyperparameters = resolve_hyperparameters(args)
  if args.data is not None and args.batch_size is None:  # A small table or folder.
    hyperparameters = hyperparameters.replace(
        batch_size=table_batch_size(len(data.train), hyperparameters.batch_size))
  problem = cli_checks.batch_size_problem(
      hyperparameters.batch_size, len(data.train), _data_name(args), args.batch_size is not None,
      default_hyperparameters(args.dataset, args.preset, args.model).batch_size)
  if problem:
    parser.error(problem)
  requested_steps = (hyperparameters.steps if args.steps is not None or args.epochs is None
                     else None)
  schedule = epoch_schedule(len(data.train), hyperparameters.batch_size,
                            steps=requested_steps, epochs=args.epochs)
  if schedule.total_steps > MAX_TOTAL_STEPS:
    parser.error(f"the run would take {schedule.total_steps:,} steps, more than "
                 f"{MAX_TOTAL_STEPS:,}; pass a smaller --steps or --epochs.")
  if requested_steps is not None and schedule.total_steps != requested_steps:
    print(f"--steps {requested_steps}: running {schedule.total_steps} steps, "
          f"{schedule.epochs} epochs of {schedule.steps_per_epoch} (an epoch is at most "
          f"one pass over the {len(data.train):,} training rows, and every epoch has "
          f"the same length).")
  config = _run_config(args, data, hyperparameters, schedule, strategy)
  config_path = os.path.join(out, "config.json")
  checkpoint = TrainingCheckpoint(os.path.join(out, "checkpoints"), args.patience)
  resuming = args.resume and checkpoint.exists
  if args.resume and not resuming:
    print(f"--resume: no checkpoint in {checkpoint.directory}; starting afresh.")
  if resuming:
    with open(config_path) as stream:
      saved = json.load(stream)
    schedule = _extension_schedule(saved, schedule)
    config = _run_config(args, data, hyperparameters, schedule, strategy)
    saved_steps = _check_resumable(config_path, saved, config)
    if saved_steps is not None and saved_steps < schedule.total_steps:
      print(f"--resume: extending the run from {saved_steps} to {schedule.total_steps} "
            f"steps ({schedule.epochs} epochs of {schedule.steps_per_epoch}).")
  _write_json(config_path, config)

  keras.utils.set_random_seed(args.seed)
  with strategy.scope():
    try:
      with _dtype_policy(args.precision):
        model = build_model(args.model, data, hyperparameters,
                            explicit=_explicit_architecture(args),
                            augment_dims=args.augment_dims or 0,
                            num_importance_samples=(args.importance_samples
                                                    or AUGMENTED_IMPORTANCE_SAMPLES),
                            model_flags=_model_flags(args), preset=args.preset,
                            conditional=args.conditional)
    except ValueError as error:  # A flag the model cannot take.
      parser.error(str(error))
    model.compile(make_optimizer(hyperparameters, schedule),
                  jit_compile=config["jit_compile"])
    log_prob = BatchedLogProb(
        model, args.eval_batch_size, jit_compile=config["jit_compile"],
        dequantized_parts=model.dequantizer is not None and not args.augment_dims)
    train, val = (data.inputs(split, args.conditional) for split in ("train", "val"))
    first_batch = next(iter(training_dataset(
        train, hyperparameters.batch_size, schedule.steps_per_epoch, args.seed, 0, 1)))
    _start_or_resume(model, checkpoint, resuming, first_batch, log_prob, data, out)
    distribution.check_agreement(strategy, checkpoint.state["epoch"],
                                 "the epoch to resume from")
    progress.model, progress.checkpoint = model, checkpoint
    outcome = run_training(
        model, train, val, schedule, hyperparameters.batch_size, args.seed,
        checkpoint, os.path.join(out, "logs"), args.eval_batch_size,
        verbose=args.verbose, callbacks=callbacks, lr_decay=hyperparameters.lr_decay,
        strategy=strategy)
    if outcome.nan_message:
      raise SystemExit(f"{outcome.nan_message} Checkpoints: {checkpoint.directory}")
    checkpoint.restore_best(model)
    model.after_training(train)  # e.g. MAF's batch-norm statistics.
    metrics = _evaluate(args, data, model, log_prob, checkpoint, outcome, config, out)
  metrics["total_seconds"] = time.perf_counter() - started
  metrics["resumed"] = bool(resuming)
  _write_json(os.path.join(out, "metrics.json"), metrics)
  write_report(out, metrics, metrics["figures"], f"{metrics['dataset']} / {args.model}")
  _print_summary(metrics, out, distribution.worker_info(strategy))
  return metrics


def _evaluate(args, data, model, log_prob, checkpoint, outcome, config, out):
  """Test/validation log-likelihood, sampling diagnostics, plots and export."""
  state = checkpoint.state
  parts = None
  test_inputs = data.inputs("test", args.conditional)
  if log_prob.dequantized_parts:
    # log p(y) and log q(y | x) of one draw: the bound and the density of y agree.
    parts = log_prob.parts(test_inputs)
    test = summarize_log_likelihood(parts[:, 0] - parts[:, 1])
  else:
    test = summarize_log_likelihood(log_prob(test_inputs))
  val = summarize_log_likelihood(log_prob(data.inputs("val", args.conditional)))
  # A conditional model samples one x for each of the first held-out contexts,
  # so its samples follow the data's marginal of x.
  contexts = _repeated_rows(data.contexts["test"], args.num_samples) if args.conditional else None
  sampling = sampling_diagnostics(model, args.num_samples, args.seed, contexts)
  figures, images = [], {}
  if args.augment_dims:  # Both estimates of the marginalising flow, each labelled.
    bound = summarize_log_likelihood(BatchedLogProb(
        model, args.eval_batch_size, jit_compile=config["jit_compile"], bound=True)(test_inputs))
    images.update(
        test_log_likelihood_kind=model.test_log_likelihood_kind,
        importance_samples=((args.importance_samples or AUGMENTED_IMPORTANCE_SAMPLES)
                            if model.dequantizer is None else 1),
        test_one_sample_bound=bound.mean, test_one_sample_bound_2se=bound.two_standard_errors)
  if data_info(data).images:
    images.update(_bits_per_dim(test, data), temperature=args.temperature)
    if not args.augment_dims:
      images["test_log_likelihood_kind"] = model.test_log_likelihood_kind
      density = summarize_log_likelihood(parts[:, 0])
      images.update(
          test_log_density=density.mean, test_log_density_2se=density.two_standard_errors,
          test_log_density_kind=(
              "log p(y) of dequantised pixels y = (x + u) / L in [0, 1)^D (one draw of "
              "u, the draw of the bound), the scale of model.log_prob and the "
              "SavedModel's log_prob; with uniform dequantisation it is the bound + "
              "D log L"))
      if args.importance_samples:
        images.update(_importance_weighted(
            model, data, args.importance_samples,
            contexts=data.contexts["test"] if args.conditional else None))
    figures = [os.path.join(out, "samples.png")]
    title = f"{args.dataset} / {args.model}, T = {args.temperature:g}"
    if args.conditional:  # One row per distinct context (class), in class order.
      classes = np.unique(data.contexts["test"], axis=0)[::-1]
      grid = model.sample(10, seed=args.seed, temperature=args.temperature, context=classes)
      grid = np.swapaxes(grid.numpy(), 0, 1).reshape(-1, *grid.shape[2:])
      title += ", one row per class"
    else:
      grid = model.sample(min(args.num_samples, 100), seed=args.seed,
                          temperature=args.temperature).numpy()
    save_image_grid(grid, figures[0], columns=10 if args.conditional else None, title=title)
  elif data.n_dims == 2 and args.conditional:
    figures = [os.path.join(out, "samples.png")]
    plots.plot_conditional_samples(model, data.test, data.contexts["test"], figures[0],
                                   seed=args.seed)
  elif data.n_dims == 2:
    figures = [os.path.join(out, "density.png"), os.path.join(out, "samples.png")]
    # The heat-map is the density of continuous points: with a dequantiser
    # (whole-number columns) that of the dequantised y, not the bound of
    # `log_prob`, which takes whole numbers only.
    density = log_prob if model.dequantizer is None else (
        lambda grid: model.log_prob(grid).numpy())
    plots.plot_density(density, data.test, figures[0])
    plots.plot_samples(sampling["samples"], data.test, figures[1])
  else:
    figures = _table_figures(args, data, np.asarray(sampling["samples"]), out)
  saved_model = os.path.join(out, "saved_model")
  export.save(model, saved_model)
  if data.raw_units:
    images["units"] = _units(data)
  conditional = {}
  if args.conditional:
    conditional = dict(conditional=True, context_description=data.context_description,
                       test_log_likelihood_of="log p(x | c), each held-out x given its c")
  return dict(**images, **conditional,
      dataset=_data_name(args), data=args.data, model=args.model,
      test_log_likelihood=test.mean, test_log_likelihood_2se=test.two_standard_errors,
      test_non_finite=test.num_non_finite,
      initial_test_log_likelihood=state["extra"].get("initial_test_log_likelihood"),
      val_log_likelihood=val.mean, val_log_likelihood_2se=val.two_standard_errors,
      best_epoch=state["best_epoch"], epochs_completed=state["epoch"], steps=state["step"],
      stopped_early=outcome.stopped_early, train_seconds=state["train_seconds"],
      samples_per_second=sampling["samples_per_second"],
      solver_max_iterations=sampling["max_iterations"],
      solver_num_unconverged=sampling["num_unconverged"],
      reconstruction_residual=sampling["reconstruction_residual"],
      num_replicas_in_sync=config["num_replicas_in_sync"],
      history=state["history"], figures=figures, saved_model=saved_model, config=config)


def _table_figures(args, data, samples, out):
  """The corner plot and the per-column marginals of vector data with D > 2 columns."""
  names = list(data.columns) or [str(index) for index in range(data.n_dims)]
  try:
    shown = table_plots.choose_plot_columns(
        data.n_dims, _column_indices(args.plot_columns, names))
  except ValueError as error:
    raise SystemExit(f"--plot-columns: {error}") from error
  title = f"{_data_name(args)} / {args.model}"
  marginals = os.path.join(out, "marginals.png")
  if data.n_dims < 2:
    table_plots.plot_marginals(data.test, samples, names, marginals, title=title)
    return [marginals]
  corner, marginals = os.path.join(out, "corner.png"), os.path.join(out, "marginals.png")
  table_plots.plot_corner(data.test[:, shown], samples[:, shown], [names[i] for i in shown],
                          corner, title=title)
  table_plots.plot_marginals(data.test, samples, names, marginals, title=title)
  return [corner, marginals]


def _column_indices(requested, names):
  """0-based indices of `--plot-columns` (names or indices), or None for the default."""
  if requested is None:
    return None
  indices = []
  for name in requested:
    if name in names:
      indices.append(names.index(name))
    elif name.isdigit() and int(name) < len(names):
      indices.append(int(name))
    else:
      raise SystemExit(f"--plot-columns: no column {name!r}; columns: {', '.join(names)}.")
  return indices


def _units(data):
  """metrics.json's description of the units the model and its export speak."""
  units = column_units(data)
  return dict(
      columns=list(data.columns), mean=list(units.loc), scale=list(units.scale),
      dequantised=list(units.integer),
      bounds=[list(bound) for bound in units.bounds] or None,
      log_prob="log-density of rows in the table's own units (nats); on the "
               "dequantised integer columns, of x + u with u in [0, 1)",
      sample="rows in the table's own units; an integer column's samples lie in "
             "[k, k + 1): their floor is the level k")


def _repeated_rows(values, count):
  """The first `count` rows of `values`, cycling through them if there are fewer."""
  return values[np.arange(count) % len(values)]


# K of the augmented flows' importance-weighted test log-likelihood by default.
AUGMENTED_IMPORTANCE_SAMPLES = 100


def _bits_per_dim(test, data):
  """Test bits/dim (mean, 2 SE) of the dequantisation bound `test` (nats per image).

  The bound already subtracts log q(y | x) = D log L, so it bounds the
  discrete log-probability and bits/dim is -bound / (D ln 2)
  (`bits_per_dim(..., pixels_scaled_to_unit=False)`).
  """
  scale = float(bits_per_dim(1.0, data.n_dims, data.num_levels, pixels_scaled_to_unit=False))
  return dict(test_bits_per_dim=float(bits_per_dim(test.mean, data.n_dims, data.num_levels,
                                                   pixels_scaled_to_unit=False)),
              test_bits_per_dim_2se=abs(scale) * test.two_standard_errors,
              image_shape=list(data.image_shape), num_levels=data.num_levels)


def _importance_weighted(model, data, num_samples, images_per_call=64, contexts=None):
  """Test log-likelihood and bits/dim of the importance-weighted estimate with K draws.

  `contexts`: the test contexts of a conditional model (each image given its own).
  """
  rows = lambda values, start: (  # noqa: E731
      None if values is None else values[start:start + images_per_call])
  test = np.concatenate([
      model.importance_weighted_log_likelihood(rows(data.test, start), num_samples,
                                               context=rows(contexts, start)).numpy()
      for start in range(0, len(data.test), images_per_call)])
  estimate = summarize_log_likelihood(test)
  in_bits = _bits_per_dim(estimate, data)
  return {"importance_samples": num_samples,
          "test_importance_weighted_log_likelihood": estimate.mean,
          "test_importance_weighted_log_likelihood_2se": estimate.two_standard_errors,
          "test_importance_weighted_bits_per_dim": in_bits["test_bits_per_dim"],
          "test_importance_weighted_bits_per_dim_2se": in_bits["test_bits_per_dim_2se"]}


def _print_summary(metrics, out, worker):
  if "test_one_sample_bound" in metrics:
    print(f"Augmented by {metrics['config']['augment_dims']} dimensions: test "
          f"{metrics['test_log_likelihood_kind']} (K = {metrics['importance_samples']}) "
          f"{metrics['test_log_likelihood']:.4f}; one-sample bound "
          f"{metrics['test_one_sample_bound']:.4f} ± {metrics['test_one_sample_bound_2se']:.4f}"
          f" nats.")
  if "test_bits_per_dim" in metrics:
    print(f"{metrics['dataset']} / {metrics['model']}: test "
          f"{metrics['test_bits_per_dim']:.4f} ± {metrics['test_bits_per_dim_2se']:.4f} "
          f"bits/dim (levels: {metrics['num_levels']}), "
          f"{metrics.get('test_log_likelihood_kind', 'exact log-likelihood')}.")
  if "test_importance_weighted_bits_per_dim" in metrics:
    print(f"{metrics['dataset']} / {metrics['model']}: test "
          f"{metrics['test_importance_weighted_bits_per_dim']:.4f} ± "
          f"{metrics['test_importance_weighted_bits_per_dim_2se']:.4f} bits/dim, "
          f"importance-weighted estimate with K = {metrics['importance_samples']} draws "
          f"of the dequantiser.")
  scale = ""
  if "test_log_density" in metrics:
    scale = (f" of the discrete levels (the bound); the density of the dequantised "
             f"pixels, model.log_prob's scale, is {metrics['test_log_density']:.4f} ± "
             f"{metrics['test_log_density_2se']:.4f} nats")
  timing = (f"{metrics['train_seconds']:.1f} s of training over every session of the run, "
            f"{metrics['total_seconds']:.1f} s for this command" if metrics.get("resumed")
            else f"{metrics['train_seconds']:.1f} s of training "
                 f"({metrics['total_seconds']:.1f} s in all)")
  where = (f"Outputs in {out}." if worker.is_chief else
           f"Worker {worker.task_type}:{worker.task_id} done; the chief writes the "
           f"outputs to --out.")
  given = (f" of x given c ({metrics['context_description']})"
           if metrics.get("conditional") else "")
  print(f"{metrics['dataset']} / {metrics['model']}: test log-likelihood{given} "
        f"{metrics['test_log_likelihood']:.4f} ± {metrics['test_log_likelihood_2se']:.4f} "
        f"nats{scale} (initial {metrics['initial_test_log_likelihood']:.4f}), validation "
        f"{metrics['val_log_likelihood']:.4f}; {metrics['steps']} steps in {timing}."
        f"\nSampling: {metrics['samples_per_second']:.0f} samples/s, numeric "
        f"inverse <= {metrics['solver_max_iterations']} iterations "
        f"({metrics['solver_num_unconverged']} unconverged), reconstruction residual "
        f"{metrics['reconstruction_residual']:.2e}.\n{where}")


def cli(argv=None):
  """The `tfp-ldu-fit` console script: `main`, then exit status 0.

  (`main` returns the metrics dict; a console wrapper's `sys.exit(main())`
  would print it and exit with status 1 after every successful run.)
  """
  main(argv)
  return 0


if __name__ == "__main__":
  sys.exit(cli())
