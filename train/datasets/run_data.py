"""The data a `train/fit.py` run trained on, again: from its flags or its config.json.

    options = user_data_options({"columns": ["a", "b"], "val_fraction": 0.2})
    data = load_user_data("table.csv", seed=0, **options)
    data = load_run_data(json.load(open("runs/x/config.json")))   # the same splits

`train/fit.py` records `--data`'s table flags in config.json (`data_flags`,
named as the flags: `columns`, `context_columns`, `split_column`,
`discrete_columns`, `continuous_columns`, `bounded_columns`,
`drop_nonfinite`, `val_fraction`, `test_fraction`) with the run's `seed`;
the analysis tools (`train/reconstruct.py`) read a run's test split and its
contexts back through `load_run_data`, which rebuilds the same splits.
"""
from train.datasets.registry import load_dataset
from train.datasets.user_data import load_user_data

__all__ = ["USER_DATA_FLAGS", "user_data_options", "load_run_data"]

# `--data`'s flags that decide which rows and columns a run sees, as named in
# `argparse` and in config.json's `data_flags`.
USER_DATA_FLAGS = ("columns", "context_columns", "split_column", "discrete_columns",
                   "continuous_columns", "bounded_columns", "drop_nonfinite", "val_fraction",
                   "test_fraction")


def user_data_options(flags):
  """`load_user_data` keyword arguments from `{flag: value}` (unset or None flags left out).

  `bounded_columns` (`{column: (low, high)}`, or lists after JSON) becomes
  `bounds`; every other flag keeps its name.
  """
  options = {flag: flags[flag] for flag in USER_DATA_FLAGS if flags.get(flag) is not None}
  if "bounded_columns" in options:
    options["bounds"] = {column: tuple(bound)
                         for column, bound in options.pop("bounded_columns").items()}
  return options


def load_run_data(config, data_dir=None):
  """The `TabularData` / `ImageData` of a run, from its config.json's dict.

  Args:
    config: a run's config.json (`dataset`, `data`, `data_flags`, `seed`,
      `data_dir`, `data_in_memory`).
    data_dir: where the built-in data sets are (default: the run's).

  Raises:
    ValueError: the run trained on a data frame passed in memory
      (`train.fit.fit_table`), which config.json cannot bring back.
    OSError, ValueError: from the loaders, naming the file.
  """
  source = config.get("data")
  if source is None:
    return load_dataset(config["dataset"], data_dir=data_dir or config.get("data_dir"))
  if config.get("data_in_memory"):
    raise ValueError(f"the run trained on a table passed in memory (named {source!r}), "
                     f"which its config.json cannot bring back.")
  return load_user_data(source, seed=config.get("seed", 0),
                        **user_data_options(config.get("data_flags") or {}))
