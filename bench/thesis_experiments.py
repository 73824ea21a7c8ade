"""The seed thesis' experiments in small: planar and MAF-BN flows with and without marginalising.

    python bench/thesis_experiments.py [--out runs/thesis] [--steps 3000] [--digits-steps 1500]

1. Two moons, 8 planar layers, plain and augmented with E = 2 and 4 noise
   dimensions (`--augment-dims`): test log-likelihood (exact for the plain
   flow; the importance-weighted estimate, K = 100, and the one-sample bound
   for the augmented ones), and a figure of the test data pushed through each
   flow (the thesis' Figures 1-2: the first two latent coordinates, coloured
   by moon), `moons_latents.png`.
2. The built-in 8x8 digits, MAF with batch normalisation (5 MADEs of 256-256,
   as in the MAF paper), plain and augmented with E = 4: test bits/dim and a
   sample grid each (`digits-maf*/samples.png`).

Every run is `train/fit.py` with the flags printed; results go to `--out`
(one directory per run) and a Markdown table to `--out/table.md`.
"""
import argparse
import json
import os
import pathlib
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
  sys.path.insert(0, str(REPO_ROOT))

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from train import datasets  # noqa: E402
from train import fit  # noqa: E402
from train.reconstruct import load_trained_model  # noqa: E402


def runs(args):
  """(name, flags) of every experiment."""
  moons = ["--dataset", "moons", "--model", "planar", "--num-blocks", "8",
           "--steps", str(args.steps), "--patience", "1000"]
  digits = ["--dataset", "digits", "--model", "maf", "--batch-norm", "--num-blocks", "5",
            "--hidden-units", "256,256", "--steps", str(args.digits_steps), "--lr", "1e-3",
            "--lr-decay", "cosine"]
  return [("moons-planar", moons),
          ("moons-planar-augment2", moons + ["--augment-dims", "2"]),
          ("moons-planar-augment4", moons + ["--augment-dims", "4"]),
          ("digits-maf-bn", digits),
          ("digits-maf-bn-augment4", digits + ["--augment-dims", "4"])]


def latent_figure(out, names):
  """Test moons pushed through each flow: the first two latent coordinates."""
  data = datasets.load_dataset("moons")
  x = data.test[:2000]
  colour = x[:, 0] + 2.0 * x[:, 1]  # follows the moons' arcs
  figure, axes = plt.subplots(1, len(names) + 1, figsize=(4 * (len(names) + 1), 4))
  axes[0].scatter(x[:, 0], x[:, 1], c=colour, s=2, cmap="viridis")
  axes[0].set(title="test data", aspect="equal")
  for axis, name in zip(axes[1:], names):
    model, config = load_trained_model(os.path.join(out, name), data)
    if config.get("augment_dims"):
      noise = np.random.default_rng(0).normal(size=(len(x), config["augment_dims"]))
      latent = model.flow.bijector.inverse(tf.constant(np.c_[x, noise], tf.float32))
    else:
      latent = model.bijector.inverse(tf.constant(x))
    latent = np.asarray(latent)
    axis.scatter(latent[:, 0], latent[:, 1], c=colour, s=2, cmap="viridis")
    axis.set(title=f"{name}: latent[0:2]", xlim=(-4, 4), ylim=(-4, 4), aspect="equal")
  figure.tight_layout()
  path = os.path.join(out, "moons_latents.png")
  figure.savefig(path, dpi=90)
  plt.close(figure)
  return path


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--out", default=os.path.join("runs", "thesis"))
  parser.add_argument("--steps", type=int, default=3000)
  parser.add_argument("--digits-steps", type=int, default=1500)
  args = parser.parse_args()
  rows = []
  for name, flags in runs(args):
    flags = flags + ["--out", os.path.join(args.out, name), "--verbose", "0"]
    print("python train/fit.py " + " ".join(flags), flush=True)
    metrics = fit.main(flags)
    rows.append((name, metrics))
  figure = latent_figure(args.out, [name for name, _ in rows if name.startswith("moons")])
  lines = ["| run | test log-likelihood (nats) | estimate | one-sample bound | bits/dim | "
           "train s |", "|---|---|---|---|---|---|"]
  for name, metrics in rows:
    kind = metrics.get("test_log_likelihood_kind", "exact")
    if kind == "importance-weighted bound":
      kind = f"importance-weighted, K = {metrics['importance_samples']}"
    bound = metrics.get("test_one_sample_bound")
    bound = "" if bound is None else f"{bound:.3f}"
    bits = metrics.get("test_bits_per_dim")
    if bits is not None:
      bits = f"{bits:.3f} ± {metrics['test_bits_per_dim_2se']:.3f}"
    lines.append(
        f"| {name} | {metrics['test_log_likelihood']:.3f} ± "
        f"{metrics['test_log_likelihood_2se']:.3f} | {kind} | {bound} | {bits or ''} | "
        f"{metrics['train_seconds']:.0f} |")
  table = "\n".join(lines)
  with open(os.path.join(args.out, "table.md"), "w") as stream:
    stream.write(table + "\n")
  with open(os.path.join(args.out, "summary.json"), "w") as stream:
    json.dump({name: {k: v for k, v in m.items() if k != "history"} for name, m in rows},
              stream, indent=1, default=str)
  print(table)
  print(f"Figure: {figure}")


if __name__ == "__main__":
  main()
