"""Reconstruction error of a trained flow's numeric inverse (Sinusoidal Flow, Appendix C).

    python train/reconstruct.py runs/digits-ldu [--max-iterations 100] [--num-images 128]

For `--num-images` test images x of the run's data (its `--dataset`, or its
`--data` file with the same flags and splits; dequantised as in training,
y = (x + u) / L for images; a conditional run's rows under their own
contexts, as `train/fit.py` evaluates p(x | c)), the flow maps y to its latent
z = T(y) in closed form and inverts it again with every numeric solve
stopped after k iterations (`FlowModel.reconstruct`: the opt-in truncated
inverse, which returns the last iterate; the default inverse stays strict).
For k = 1 .. max it records the per-image mean squared reconstruction error

    MSE_k(y) = mean_d (y_k,d - y_d)^2

and writes to RUN_DIR (or `--out`):

  reconstruction_error.png   mean +- std over images of MSE_k against k (log axis);
  reconstructions.png        (images only) originals over their reconstructions
                             after a few k;
  reconstruction.json        k, mean, std, median and max MSE, the largest latent
                             residual max |T(y_k) - z| and the number of
                             unconverged solves, for every k.

The model is rebuilt from RUN_DIR/config.json and loaded with the
best-on-validation checkpoint, as `train/fit.py` evaluates it.
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

if __package__ in (None, ""):  # `python train/reconstruct.py`: make the repository importable.
  sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

import argparse  # noqa: E402
import json  # noqa: E402

import keras  # noqa: E402
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from train import cli_checks  # noqa: E402
from train import datasets  # noqa: E402
from train.checkpointing import TrainingCheckpoint  # noqa: E402
from train.hyperparameters import Hyperparameters  # noqa: E402
from train.image_grid import save_image_grid  # noqa: E402
from train.build import build_model  # noqa: E402

__all__ = ["main", "reconstruction_errors", "load_trained_model"]

# Iteration counts shown under the originals in reconstructions.png.
_GRID_ITERATIONS = (1, 2, 3, 5, 10)
_GRID_IMAGES = 16


def build_parser():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("run_dir", help="a run directory written by train/fit.py")
  parser.add_argument("--max-iterations", type=cli_checks.positive_int, default=100,
                      help="largest k, iterations per numeric solve (default: 100)")
  parser.add_argument("--num-images", type=cli_checks.positive_int, default=128,
                      help="test images (rows) to reconstruct (default: 128)")
  parser.add_argument("--data-dir", help="data directory (default: the run's)")
  parser.add_argument("--seed", type=cli_checks.random_seed, default=0,
                      help="seed of the dequantiser's noise, for images (default: 0)")
  parser.add_argument("--out", help="output directory (default: RUN_DIR)")
  return parser


def load_trained_model(run_dir, data):
  """The run's model, rebuilt from config.json, with its best checkpoint's weights."""
  with open(os.path.join(run_dir, "config.json")) as stream:
    config = json.load(stream)
  row = dict(config["hyperparameters"])
  row["hidden_units"] = tuple(row["hidden_units"])
  model = build_model(config["model"], data, Hyperparameters(**row),
                      explicit=tuple(config.get("explicit_architecture", ())),
                      augment_dims=config.get("augment_dims", 0),
                      num_importance_samples=config.get("importance_samples") or 100,
                      model_flags=config.get("model_flags"),
                      preset=config.get("preset", "quick"),
                      conditional=bool(config.get("conditional")))
  checkpoint = TrainingCheckpoint(os.path.join(run_dir, "checkpoints"), config["patience"])
  checkpoint.read_state()
  checkpoint.restore_best(model)
  return model, config


def reconstruction_errors(model, y, max_iterations, verbose=1, context=None):
  """Per-image MSE of the k-iteration reconstruction, for k = 1 .. max_iterations.

  Args:
    model: a `FlowModel`.
    y: `[N, *event_shape]` continuous inputs (what `model.log_prob` takes).
    max_iterations: largest k.
    verbose: show a progress bar.
    context: a conditional model's raw contexts `[N, *context_shape]`.

  Returns:
    dict with `iterations` [K], `mse` [K, N], `latent_residual` [K] (max over
    images) and `num_unconverged` [K], and `reconstructions`, a dict from
    k in `_GRID_ITERATIONS` to `[N, *event_shape]` arrays.
  """
  y = np.asarray(y, dtype=model.compute_dtype)
  axes = tuple(range(1, y.ndim))
  ks = np.arange(1, max_iterations + 1)
  mse, residual, unconverged, kept = [], [], [], {}
  progress = (keras.utils.Progbar(len(ks), unit_name="k", stateful_metrics=["mean MSE"])
              if verbose else None)
  for k in ks:
    result = model.reconstruct(y, int(k), context=context)
    x_k = result["reconstructions"].numpy()
    mse.append(np.mean((x_k - y) ** 2, axis=axes))
    residual.append(float(np.max(result["latent_residual"])))
    unconverged.append(int(result["num_unconverged"]))
    if k in _GRID_ITERATIONS or k == max_iterations:
      kept[int(k)] = x_k
    if progress:
      progress.update(int(k), [("mean MSE", float(np.mean(mse[-1])))])
  return dict(iterations=ks, mse=np.stack(mse), latent_residual=np.array(residual),
              num_unconverged=np.array(unconverged), reconstructions=kept)


def plot_errors(iterations, mse, path, title):
  """mean +- std of the per-image MSE against k, on a log axis."""
  mean, std = np.mean(mse, axis=1), np.std(mse, axis=1)
  figure, axis = plt.subplots(figsize=(6, 4))
  axis.plot(iterations, mean, marker="o", markersize=3, label="mean over images")
  axis.fill_between(iterations, np.maximum(mean - std, np.min(mse, axis=1)), mean + std,
                    alpha=0.3, label="± 1 std")
  axis.set(yscale="log", xlabel="iterations per numeric solve (k)",
           ylabel="per-image mean squared error", title=title)
  axis.grid(True, which="both", alpha=0.3)
  axis.legend()
  figure.tight_layout()
  figure.savefig(path, dpi=100)
  plt.close(figure)


def main(argv=None):
  """Runs the command line; returns the summary dict also written to JSON."""
  args = build_parser().parse_args(argv)
  config_path = os.path.join(args.run_dir, "config.json")
  if not os.path.isfile(config_path):
    raise SystemExit(f"reconstruct: error: {config_path} not found; pass a run directory "
                     f"written by train/fit.py.")
  with open(config_path) as stream:
    config = json.load(stream)
  try:
    data = datasets.load_run_data(config, data_dir=args.data_dir)
  except (OSError, ValueError) as error:
    raise SystemExit(f"reconstruct: error: {error}") from error
  out = args.out or args.run_dir
  os.makedirs(out, exist_ok=True)
  try:
    model, config = load_trained_model(args.run_dir, data)
  except FileNotFoundError as error:
    raise SystemExit(f"reconstruct: error: {error}") from error
  rows = data.test[:args.num_images]
  # p(x | c): each test row is reconstructed under its own context.
  context = data.contexts["test"][:args.num_images] if config.get("conditional") else None
  is_image = len(model.event_shape) == 3  # An image model: also show the reconstructions.
  y = rows
  if model.dequantizer is not None:  # Dequantised by the model's own q(y | x[, c]), as in training.
    model.dequantizer.seed_generator.state.assign([args.seed, 0])  # `--seed`'s noise.
    levels = rows.reshape((len(rows),) + tuple(model.event_shape))
    y = model.dequantize(levels.astype(model.compute_dtype), context, training=False)[0].numpy()
  result = reconstruction_errors(model, y, args.max_iterations, context=context)
  mse = result["mse"]
  figures = [os.path.join(out, "reconstruction_error.png")]
  plot_errors(result["iterations"], mse, figures[0],
              f"{config['dataset']} / {config['model']}: {len(rows)} test rows")
  if is_image:
    figures.append(os.path.join(out, "reconstructions.png"))
    shown = [k for k in sorted(result["reconstructions"])]
    grid = np.concatenate([y[:_GRID_IMAGES]] + [result["reconstructions"][k][:_GRID_IMAGES]
                                               for k in shown])
    save_image_grid(grid, figures[1], columns=min(_GRID_IMAGES, len(y)),
                    title="originals (top), then k = " + ", ".join(map(str, shown)))
  summary = dict(
      run_dir=args.run_dir, dataset=config["dataset"], model=config["model"],
      conditional=bool(config.get("conditional")),
      num_images=len(rows), iterations=result["iterations"].tolist(),
      mse_mean=np.mean(mse, axis=1).tolist(), mse_std=np.std(mse, axis=1).tolist(),
      mse_median=np.median(mse, axis=1).tolist(), mse_max=np.max(mse, axis=1).tolist(),
      latent_residual_max=result["latent_residual"].tolist(),
      num_unconverged=result["num_unconverged"].tolist(), figures=figures)
  with open(os.path.join(out, "reconstruction.json"), "w") as stream:
    json.dump(summary, stream, indent=1)
  final = summary["mse_mean"][-1]
  print(f"Reconstruction MSE after k = 1: {summary['mse_mean'][0]:.3e}; after k = "
        f"{args.max_iterations}: {final:.3e} (mean over {len(rows)} rows).  Outputs in {out}.")
  return summary


if __name__ == "__main__":
  tf.get_logger().setLevel("ERROR")
  main()
