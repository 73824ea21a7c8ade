"""Results table (text, JSON, CSV), verdicts and validation-curve plots of the parity harness.

A run's record is a dict with `dataset`, `variant`, `seed` and the training
result of `torch_runner.train` / `library_runner.train_library` (curves, best
validation log-likelihood and its step, test log-likelihood and its standard
error SE, wall time).  Per (dataset, variant) the seeds are summarised as the
mean of best validation LL and test LL; the noise of a mean test LL is

    SE = sqrt(mean_seeds(SE_test^2) / n + var_seeds(test LL) / n)

(test-sampling noise plus seed-to-seed noise, the latter 0 for one seed), and
a variant is "at least as good" as its counterpart (`Variant.counterpart`:
the authors' LDU for the LDU variants, zuko's MAF / NSF for the library's
other flows) on a data set when
mean test LL - counterpart mean test LL >= -2 sqrt(SE^2 + SE_ref^2).
`best_flows` compares, per data set, the best library flow with the best
zuko flow the same way.
"""
import csv
import json
import math
import pathlib
from collections import defaultdict

import numpy as np

from bench.parity_reference.variants import VARIANTS

__all__ = ["summarise", "verdicts", "best_flows", "format_table", "write_outputs",
           "plot_curves"]

TABLE_FIELDS = ("dataset", "variant", "seed", "best_val_ll", "best_step", "test_ll",
                "test_2se", "wall_time_s", "train_steps_per_s", "forward_parity")


def _row(record):
  # Steps after the first (which traces / warms up), over their training time.
  steps_done = record["steps"][-1] if record["steps"] else 0
  timed = record["train_time_s"] - record["first_step_s"]
  return dict(dataset=record["dataset"], variant=record["variant"], seed=record["seed"],
              best_val_ll=record["best_val_ll"], best_step=record["best_step"],
              test_ll=record["test_ll"], test_2se=2 * record["test_se"],
              wall_time_s=record["wall_time_s"],
              train_steps_per_s=(steps_done - 1) / timed if timed > 0 else math.nan,
              forward_parity=record.get("forward_parity"))


def summarise(records):
  """{(dataset, variant): dict(n, best_val_ll, test_ll, test_se, best_step, wall_time_s)}."""
  groups = defaultdict(list)
  for record in records:
    groups[(record["dataset"], record["variant"])].append(record)
  summary = {}
  for key, group in groups.items():
    tests = np.array([r["test_ll"] for r in group])
    n = len(group)
    seed_var = tests.var(ddof=1) if n > 1 else 0.0
    summary[key] = dict(
        n=n, best_val_ll=float(np.mean([r["best_val_ll"] for r in group])),
        test_ll=float(tests.mean()),
        test_se=float(math.sqrt(np.mean([r["test_se"] ** 2 for r in group]) / n + seed_var / n)),
        best_step=float(np.mean([r["best_step"] for r in group])),
        wall_time_s=float(np.mean([r["wall_time_s"] for r in group])))
  return summary


def counterpart(variant):
  """The variant `variant`'s verdict is taken against (None: none)."""
  known = VARIANTS.get(variant)
  return known.counterpart if known else None


def _compare(s, ref):
  delta = s["test_ll"] - ref["test_ll"]
  two_se = 2 * math.sqrt(s["test_se"] ** 2 + ref["test_se"] ** 2)
  return delta, two_se, bool(delta >= -two_se)


def verdicts(summary):
  """[(dataset, variant, counterpart, delta test LL, 2 SE of the delta, at least as good)].

  One row per variant whose counterpart ran on the same data set.
  """
  rows = []
  for (dataset, variant), s in sorted(summary.items()):
    other = counterpart(variant)
    ref = summary.get((dataset, other))
    if ref is not None:
      rows.append((dataset, variant, other, *_compare(s, ref)))
  return rows


def best_flows(summary):
  """[(dataset, best library variant, best zuko variant, delta, 2 SE, at least as good)].

  "Best" is the highest mean test LL; only data sets where both sides ran.
  """
  rows = []
  for dataset in sorted({d for d, _ in summary}):
    def best(side_test):
      names = [v for d, v in summary if d == dataset and side_test(v)]
      return max(names, key=lambda v: summary[(dataset, v)]["test_ll"]) if names else None
    library = best(lambda v: v in VARIANTS and VARIANTS[v].side == "library")
    zuko = best(lambda v: v in VARIANTS and VARIANTS[v].model.startswith("zuko"))
    if library and zuko:
      rows.append((dataset, library, zuko,
                   *_compare(summary[(dataset, library)], summary[(dataset, zuko)])))
  return rows


def format_table(records, summary, truths=None):
  """The printed report: per-run rows, per-variant means, verdicts."""
  truths = truths or {}
  lines = [f"{'dataset':<14}{'variant':<22}{'seed':>5}{'best val LL':>13}{'@step':>7}"
           f"{'test LL':>10}{'+-2SE':>8}{'wall s':>8}{'steps/s':>9}"]
  lines.append("-" * len(lines[0]))
  for record in records:
    r = _row(record)
    lines.append(f"{r['dataset']:<14}{r['variant']:<22}{r['seed']:>5}{r['best_val_ll']:>13.3f}"
                 f"{r['best_step']:>7}{r['test_ll']:>10.3f}{r['test_2se']:>8.3f}"
                 f"{r['wall_time_s']:>8.0f}{r['train_steps_per_s']:>9.1f}"
                 + (f"   forward parity max|dlogp| = {r['forward_parity']:.2e}"
                    if r["forward_parity"] is not None else ""))
  lines.append("")
  lines.append(f"{'dataset':<14}{'variant':<22}{'seeds':>5}{'mean best val':>14}"
               f"{'mean step':>10}{'mean test LL':>13}{'+-2SE':>8}")
  lines.append("-" * 86)
  for (dataset, variant), s in sorted(summary.items()):
    lines.append(f"{dataset:<14}{variant:<22}{s['n']:>5}{s['best_val_ll']:>14.3f}"
                 f"{s['best_step']:>10.0f}{s['test_ll']:>13.3f}{2 * s['test_se']:>8.3f}")
  for dataset, truth in sorted(truths.items()):
    lines.append(f"{dataset:<14}{'TRUE DENSITY':<22}{'':>5}{'':>14}{'':>10}"
                 f"{truth[0]:>13.3f}{2 * truth[1]:>8.3f}")
  for title, rows in (
      ("test LL minus its counterpart's (mean over seeds), +-2SE of the difference:",
       verdicts(summary)),
      ("best library flow minus the best zuko flow:", best_flows(summary))):
    if rows:
      lines.append("")
      lines.append(title)
    for dataset, variant, other, delta, two_se, ok in rows:
      lines.append(f"  {dataset:<14}{variant:<22}{'vs ' + other:<16}{delta:>+9.3f} +- "
                   f"{two_se:.3f}   {'at least as good' if ok else 'WORSE'}")
  return "\n".join(lines)


def write_outputs(out_dir, records, summary, settings, truths=None):
  """results.json (settings, every record with its curves, summary) and results.csv."""
  out = pathlib.Path(out_dir)
  out.mkdir(parents=True, exist_ok=True)
  payload = dict(settings=settings, records=records, truths=truths or {},
                 summary=[dict(dataset=d, variant=v, **s) for (d, v), s in sorted(summary.items())],
                 verdicts=[dict(dataset=d, variant=v, counterpart=c, delta_test_ll=delta,
                                two_se=two_se, at_least_as_good=ok)
                           for d, v, c, delta, two_se, ok in verdicts(summary)],
                 best_flows=[dict(dataset=d, library=lib, zuko=z, delta_test_ll=delta,
                                  two_se=two_se, at_least_as_good=ok)
                             for d, lib, z, delta, two_se, ok in best_flows(summary)])
  (out / "results.json").write_text(json.dumps(payload, indent=1))
  with open(out / "results.csv", "w", newline="") as handle:
    writer = csv.DictWriter(handle, fieldnames=TABLE_FIELDS)
    writer.writeheader()
    for record in records:
      writer.writerow(_row(record))


def plot_curves(out_dir, dataset, records, truth=None, max_columns=4):
  """curves_<dataset>.png: one panel pair per variant with a counterpart, over the counterpart.

  Upper panel: validation log-likelihood per evaluation; lower panel: mean
  training-batch log-likelihood over the same windows (the gap between the
  two is the overfit).  Counterpart runs (`counterpart`) in black, the
  variant's in red; a data set without such pairs gets one panel per variant.
  """
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  own = [r for r in records if r["dataset"] == dataset]
  ran = {r["variant"] for r in own}
  variants = sorted(v for v in ran if counterpart(v) in ran) or sorted(ran)
  columns = min(max_columns, len(variants))
  grid_rows = math.ceil(len(variants) / columns)
  fig, axes = plt.subplots(2 * grid_rows, columns, figsize=(4.2 * columns, 5.2 * grid_rows),
                           squeeze=False, sharex=True)
  val_values = [v for r in own for v in r["val_ll"] if math.isfinite(v)]
  top = max(val_values + ([truth] if truth is not None else []))
  bottom = np.percentile(val_values, 5) if val_values else top - 1
  for index, variant in enumerate(variants):
    grid_row, column = divmod(index, columns)
    for offset, key in enumerate(("val_ll", "train_ll")):
      ax = axes[2 * grid_row + offset][column]
      for record in own:
        if record["variant"] not in (variant, counterpart(variant)):
          continue
        is_ref = record["variant"] != variant
        ax.plot(record["steps"], record[key], color="black" if is_ref else "tab:red",
                alpha=0.8, lw=1.1, ls="-" if record["seed"] == own[0]["seed"] else "--",
                label=f"{record['variant']} s{record['seed']}")
      if key == "val_ll":
        if truth is not None:
          ax.axhline(truth, color="tab:green", ls=":", lw=1, label="true test LL")
        ax.set_ylim(bottom - 0.05 * (top - bottom), top + 0.1 * (top - bottom))
        ax.set_title(f"{variant} vs {counterpart(variant)}", fontsize=9)
        ax.legend(fontsize=6, loc="lower right")
      ax.grid(alpha=0.3)
      if column == 0:
        ax.set_ylabel("validation LL" if key == "val_ll" else "training-batch LL", fontsize=8)
      ax.set_xlabel("step", fontsize=8)
  for index in range(len(variants), grid_rows * columns):
    grid_row, column = divmod(index, columns)
    axes[2 * grid_row][column].axis("off")
    axes[2 * grid_row + 1][column].axis("off")
  fig.suptitle(f"{dataset}: counterpart (black) vs variant (red); solid/dashed = seeds",
               fontsize=10)
  fig.tight_layout()
  path = pathlib.Path(out_dir) / f"curves_{dataset}.png"
  fig.savefig(path, dpi=90)
  plt.close(fig)
  return path
