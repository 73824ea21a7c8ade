"""`report.md`: a run's key numbers, data units, figures and command, in plain Markdown.

The report is read on GitHub or in any Markdown viewer next to the run's
PNGs, so figures are linked relatively (`![corner](corner.png)`).  Every
part is optional: a key missing from the metrics just leaves its row (or
section) out.
"""
import math
import numbers
import os
import shlex

import numpy as np

__all__ = ["write_report", "FIGURE_CAPTIONS"]

# Captions of the figures train/fit.py writes; other names get their own.
FIGURE_CAPTIONS = {
    "corner": "Pairs of columns: held-out data against model samples; the diagonal "
              "compares their 1-D histograms.",
    "marginals": "Each column's held-out histogram with the model's marginal density "
                 "(a kernel density estimate of its samples) over it.",
    "density": "The learned density next to the held-out data.",
    "samples": "Model samples next to the held-out data.",
}


def _number(value, digits=4):
  """`value` for a table cell: bools as yes/no, floats to `digits` decimals.

  `digits=None`, very large or very small floats: 6 significant digits.
  """
  if isinstance(value, (bool, np.bool_)):
    return "yes" if value else "no"
  if isinstance(value, numbers.Integral):
    return str(int(value))
  if isinstance(value, numbers.Real):
    value = float(value)
    if not math.isfinite(value):
      return str(value)
    if digits is None or (value != 0 and not 1e-3 <= abs(value) < 1e6):
      return f"{value:.6g}"
    return f"{value:.{digits}f}"
  if isinstance(value, (list, tuple)):
    return ", ".join(_number(item, digits) for item in value)
  return str(value)


def _cell(value, digits=4):
  """A Markdown table cell: `_number`, with pipes and line breaks escaped."""
  return _number(value, digits).replace("|", "\\|").replace("\n", " ")


def _table(header, rows):
  lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
  lines += ["| " + " | ".join(row) + " |" for row in rows]
  return lines


def _with_error(metrics, key, unit):
  value = _cell(metrics[key])
  if f"{key}_2se" in metrics:
    value += f" ± {_cell(metrics[f'{key}_2se'])}"
  return f"{value} {unit}".rstrip()


def _key_numbers(metrics):
  """(quantity, value) rows for the keys of `metrics` that are present."""
  rows = []
  for key, name in (("dataset", "data"), ("model", "model")):
    if key in metrics:
      rows.append((name, _cell(metrics[key])))
  if "test_log_likelihood" in metrics:
    notes = ["mean per row"] + (["± 2 s.e."] if "test_log_likelihood_2se" in metrics else [])
    if metrics.get("test_log_likelihood_kind"):
      notes.append(_cell(metrics["test_log_likelihood_kind"]))
    rows.append((f"test log-likelihood ({', '.join(notes)})",
                 _with_error(metrics, "test_log_likelihood", "nats")))
  if "val_log_likelihood" in metrics:
    rows.append(("validation log-likelihood", _with_error(metrics, "val_log_likelihood",
                                                          "nats")))
  if "initial_test_log_likelihood" in metrics:
    rows.append(("test log-likelihood before training",
                 f"{_cell(metrics['initial_test_log_likelihood'])} nats"))
  if "test_bits_per_dim" in metrics:
    error = " (± 2 s.e.)" if "test_bits_per_dim_2se" in metrics else ""
    rows.append((f"test bits/dim{error}", _with_error(metrics, "test_bits_per_dim", "")))
  if "steps" in metrics:
    rows.append(("training steps", _cell(metrics["steps"])))
  if "train_seconds" in metrics:
    rows.append(("training time", f"{_cell(metrics['train_seconds'], 1)} s"))
  if "samples_per_second" in metrics:
    rows.append(("sampling speed", f"{_cell(metrics['samples_per_second'], 0)} samples/s"))
  return rows


def _is_sequence(value):
  return isinstance(value, (list, tuple))


def _units_lines(units):
  """Markdown for `metrics["units"]`: a per-column table of whatever it holds.

  Accepted shapes (anything else is shown as one line of text):
    * a list of dicts, one per column: their keys are the table's columns;
    * a dict of equal-length lists (e.g. `{"name": [...], "mean": [...],
      "scale": [...], "dequantised": [...]}`): one table column per list;
    * a dict of dicts keyed by column name (`{"age": {"mean": ...}}`);
  plus, in the dict shapes, scalar entries, listed under the table.
  """
  if _is_sequence(units) and units and all(isinstance(row, dict) for row in units):
    rows, notes = list(units), {}
  elif isinstance(units, dict):
    lists = {key: value for key, value in units.items() if _is_sequence(value)}
    per_column = {key: value for key, value in units.items() if isinstance(value, dict)}
    notes = {key: value for key, value in units.items()
             if key not in lists and key not in per_column}
    rows = []
    lengths = {len(value) for value in lists.values()}
    if len(lengths) == 1:
      rows = [{key: value[index] for key, value in lists.items()}
              for index in range(lengths.pop())]
    else:
      notes.update(lists)  # ragged lists: no table of them
    if per_column and not rows:
      rows = [{"name": name, **values} for name, values in per_column.items()]
    else:
      notes.update(per_column)
  else:
    return [_cell(units)]
  lines = []
  if rows:
    header = []
    for row in rows:
      header += [key for key in row if key not in header]
    first = [key for key in header if key in ("name", "names", "column", "columns")]
    header = first[:1] + [key for key in header if key not in first[:1]]
    lines += _table([_cell(key) for key in header],
                    [[_cell(row[key], None) if key in row else "" for key in header]
                     for row in rows])
  if notes:
    lines += [""] if lines else []
    lines += [f"- {_cell(key)}: {_cell(value, None)}" for key, value in notes.items()]
  return lines


def _figure_entries(figures):
  """(name, file, caption) of `figures`: a dict name -> caption, or names / (name, caption)."""
  items = figures.items() if isinstance(figures, dict) else (
      (item if _is_sequence(item) else (item, None)) for item in figures or ())
  entries = []
  for name, caption in items:
    file = os.path.basename(str(name))
    if not file.lower().endswith(".png"):
      file += ".png"
    stem = file[:-4]
    entries.append((stem, file, caption or FIGURE_CAPTIONS.get(stem, "")))
  return entries


def write_report(out_dir, metrics, figures, title):
  """Writes `out_dir/report.md` and returns its path.

  Args:
    out_dir: the run directory (holding the figures).
    metrics: the run's metrics.json dict.  Used when present: `dataset`,
      `model`, `test_log_likelihood` (with `_2se`, `_kind`),
      `val_log_likelihood`, `initial_test_log_likelihood`,
      `test_bits_per_dim` (with `_2se`), `steps`, `train_seconds`,
      `samples_per_second`, `units` (see `_units_lines`) and
      `config["command"]` (a string or a list of words).
    figures: the PNGs in `out_dir` to show, as a dict name -> caption, or a
      sequence of names or (name, caption) pairs; a name may carry `.png`.
      Known names (`FIGURE_CAPTIONS`) have default captions.  A file that
      does not exist is listed as missing instead of shown.
    title: the report's heading.

  Returns:
    The path of `report.md`.
  """
  metrics = metrics or {}
  lines = [f"# {title}", ""]
  rows = _key_numbers(metrics)
  if rows:
    lines += _table(["quantity", "value"], [list(row) for row in rows]) + [""]
  if metrics.get("units") not in (None, {}, []):
    lines += ["## Data units", ""] + _units_lines(metrics["units"]) + [""]
  entries = _figure_entries(figures)
  if entries:
    lines += ["## Figures", ""]
  for stem, file, caption in entries:
    if os.path.exists(os.path.join(out_dir, file)):
      lines += [f"![{stem}]({file})", ""]
      lines += [f"*{caption}*", ""] if caption else []
    else:
      lines += [f"*{file} was not written.*", ""]
  config = metrics.get("config")
  command = config.get("command") if isinstance(config, dict) else None
  if command:
    if _is_sequence(command):
      command = shlex.join(str(word) for word in command)
    lines += ["## Command", "", "```", str(command), "```", ""]
  path = os.path.join(out_dir, "report.md")
  with open(path, "w", encoding="utf-8") as stream:
    stream.write("\n".join(lines).rstrip("\n") + "\n")
  return path
