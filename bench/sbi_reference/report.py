"""Metrics (C2ST), summaries and the results table of the SBI benchmark.

A run's record is a dict with `task`, `model`, `seed`, per-observation lists
`c2st` and `log_q_true` (length O), `train_time_s`, `first_epoch_s`,
`sample_time_s`, `epochs_run`, `best_epoch` and, for a run that failed,
`error`.  Per (task, model) the summary pools the per-observation values of
every seed: mean and SE = std / sqrt(O x seeds); the times are pooled over
seeds.  A run that failed (diverged) is counted in `failed` and left out of
the means.
"""
import csv
import json
import math
import pathlib
import warnings
from collections import defaultdict

import numpy as np

__all__ = ["c2st", "summarise", "format_table", "write_outputs"]

CSV_FIELDS = ("task", "model", "seed", "c2st", "c2st_2se", "log_q_true", "log_q_true_2se",
              "train_time_s", "first_epoch_s", "sample_time_s", "epochs_run", "best_epoch",
              "nonfinite_samples", "error")


def c2st(reference, samples, seed=1, folds=5, max_iter=1000):
  """Classifier two-sample test accuracy of `samples` `[n, D]` against `reference` `[m, D]`.

  As sbibm's `c2st`: both sets z-scored by the reference's mean and standard
  deviation, an `MLPClassifier` with two hidden layers of 10 D ReLU units
  (Adam), 5-fold shuffled cross-validated accuracy.  0.5: indistinguishable,
  1.0: disjoint.  Runs single-threaded (threadpoolctl).
  """
  from sklearn.exceptions import ConvergenceWarning
  from sklearn.model_selection import KFold
  from sklearn.model_selection import cross_val_score
  from sklearn.neural_network import MLPClassifier
  from threadpoolctl import threadpool_limits
  mean, std = reference.mean(axis=0), reference.std(axis=0)
  data = np.concatenate([(reference - mean) / std, (samples - mean) / std])
  target = np.concatenate([np.zeros(len(reference)), np.ones(len(samples))])
  dim = reference.shape[1]
  classifier = MLPClassifier(hidden_layer_sizes=(10 * dim, 10 * dim), activation="relu",
                             solver="adam", max_iter=max_iter, random_state=seed)
  with threadpool_limits(1), warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    scores = cross_val_score(classifier, data, target, scoring="accuracy",
                             cv=KFold(n_splits=folds, shuffle=True, random_state=seed))
  return float(np.mean(scores))


def _mean_2se(values):
  values = np.asarray(values, np.float64)
  if values.size == 0 or not np.all(np.isfinite(values)):
    return math.nan, math.nan
  se = values.std(ddof=1) / math.sqrt(values.size) if values.size > 1 else 0.0
  return float(values.mean()), float(2 * se)


def summarise(records):
  """{(task, model): dict(runs, c2st, c2st_2se, log_q_true, ..., sample_time_s_2se)}."""
  groups = defaultdict(list)
  for record in records:
    groups[(record["task"], record["model"])].append(record)
  summary = {}
  for key, runs in groups.items():
    group = [r for r in runs if not r.get("error")]  # A failed run counts only as failed.
    row = dict(runs=len(runs), failed=len(runs) - len(group))
    for name in ("c2st", "log_q_true"):
      row[name], row[f"{name}_2se"] = _mean_2se([v for r in group for v in r[name]])
    for name in ("train_time_s", "sample_time_s", "epochs_run", "best_epoch"):
      row[name], row[f"{name}_2se"] = _mean_2se([r[name] for r in group])
    summary[key] = row
  return summary


def _row(record):
  """One CSV row: a run's means over its observations."""
  c2st_mean, c2st_2se = _mean_2se(record["c2st"])
  log_q, log_q_2se = _mean_2se(record["log_q_true"])
  return dict(task=record["task"], model=record["model"], seed=record["seed"], c2st=c2st_mean,
              c2st_2se=c2st_2se, log_q_true=log_q, log_q_true_2se=log_q_2se,
              train_time_s=record["train_time_s"], first_epoch_s=record["first_epoch_s"],
              sample_time_s=record["sample_time_s"],
              epochs_run=record["epochs_run"], best_epoch=record["best_epoch"],
              nonfinite_samples=record.get("nonfinite_samples", 0),
              error=record.get("error", ""))


def format_table(summary):
  """A markdown table: a row per task x model, mean +- 2 SE."""
  lines = ["| task | model | runs | C2ST (0.5 best) | log q(θ_true) | train s | sample s "
           "| epochs (best) |",
           "|---|---|---:|---:|---:|---:|---:|---:|"]
  for (task, model), s in sorted(summary.items()):
    failed = f" ({s['failed']} failed)" if s["failed"] else ""
    lines.append(
        f"| {task} | {model} | {s['runs']}{failed} | {s['c2st']:.3f} ± {s['c2st_2se']:.3f} "
        f"| {s['log_q_true']:.2f} ± {s['log_q_true_2se']:.2f} "
        f"| {s['train_time_s']:.1f} ± {s['train_time_s_2se']:.1f} "
        f"| {s['sample_time_s']:.3f} ± {s['sample_time_s_2se']:.3f} "
        f"| {s['epochs_run']:.0f} ({s['best_epoch']:.0f}) |")
  return "\n".join(lines)


def write_outputs(out_dir, records, settings):
  """results.json (settings, records, summary, table) and results.csv (a row per run)."""
  out = pathlib.Path(out_dir)
  out.mkdir(parents=True, exist_ok=True)
  summary = summarise(records)
  payload = dict(settings=settings, records=records, table=format_table(summary),
                 summary=[dict(task=t, model=m, **s) for (t, m), s in sorted(summary.items())])
  (out / "results.json").write_text(json.dumps(payload, indent=1))
  with open(out / "results.csv", "w", newline="") as handle:
    writer = csv.DictWriter(handle, fieldnames=CSV_FIELDS)
    writer.writeheader()
    for record in records:
      writer.writerow(_row(record))
  return summary
