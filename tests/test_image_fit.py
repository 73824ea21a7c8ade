"""Images end to end: `train/fit.py` on digits, MNIST and CIFAR-10 files, then
`train/reconstruct.py`; the image presets; the opt-in truncated inverse.

Every run is tiny (one LDU block of one D-scale, 4-map PixelCNN shifts, a
few steps) so the file stays within about a minute on two CPU cores; MNIST
and CIFAR-10 read small files written in the archive's own formats.
"""
import json
import math
import os

import numpy as np
import pytest
import tensorflow as tf

from tests import make_image_files as image_files
from tfp_ldu.flows import LDUFlow
from tfp_ldu.layers import UniformDequantizer
from tfp_ldu.solvers import ConvergenceError
from tfp_ldu.solvers import truncated_solves
from tfp_ldu.testing import randomise_d_scale
from train import fit
from train import reconstruct
from train.hyperparameters import PAPER_TABLE
from train.hyperparameters import QUICK_DIGITS

TINY_IMAGE = ["--num-blocks", "1", "--num-d-scales", "1", "--num-mixtures", "2",
              "--filters", "4", "--num-residual-blocks", "1", "--batch-size", "32",
              "--num-samples", "4", "--eval-batch-size", "64", "--verbose", "0"]


def is_png(path):
  with open(path, "rb") as stream:
    return stream.read(8) == b"\x89PNG\r\n\x1a\n"


@pytest.mark.e2e
def test_digits_runs_end_to_end_then_reconstructs(tmp_path):
  out = str(tmp_path / "digits")
  # --no-jit: XLA compilation was 2/3 of the run and is not what this test checks
  # (test_fit.py runs fit.py with XLA; test_pixelcnn.py checks the PixelCNN under XLA).
  metrics = fit.main(TINY_IMAGE + ["--dataset", "digits", "--steps", "30", "--no-jit",
                                   "--out", out])
  assert metrics["image_shape"] == [8, 8, 1] and metrics["num_levels"] == 17
  # bits/dim = -(bound in nats) / (D ln 2) with the bound of the dequantised pixels.
  expected = -metrics["test_log_likelihood"] / (64 * math.log(2.))
  assert metrics["test_bits_per_dim"] == pytest.approx(expected, rel=1e-9)
  assert 0 < metrics["test_bits_per_dim"] < math.log2(17)
  # Training helped: the uniform bound above already held at initialisation
  # (2.92 bits/dim), so compare with the initial test log-likelihood (30 steps:
  # -129.75 -> -127.73 nats).
  assert metrics["test_log_likelihood"] > metrics["initial_test_log_likelihood"] + 1.0
  assert metrics["test_bits_per_dim_2se"] > 0
  assert metrics["solver_num_unconverged"] == 0
  # Both nats scales, labelled: the bound on the levels and log p(y) of the
  # dequantised pixels (what log_prob returns); uniform noise: D log L apart.
  assert "discrete levels" in metrics["test_log_likelihood_kind"]
  assert "model.log_prob" in metrics["test_log_density_kind"]
  assert metrics["test_log_density"] == pytest.approx(
      metrics["test_log_likelihood"] + 64 * math.log(17), abs=1e-3)
  assert metrics["temperature"] == 1.0
  assert is_png(os.path.join(out, "samples.png"))
  exported = tf.saved_model.load(os.path.join(out, "saved_model"))
  assert exported.sample(tf.constant(3)).shape == (3, 8, 8, 1)
  rows = np.full([2, 64], 0.5, np.float32)
  np.testing.assert_allclose(exported.log_prob(rows), exported.log_prob_images(
      rows.reshape(2, 8, 8, 1)), rtol=1e-6)

  summary = reconstruct.main([out, "--max-iterations", "4", "--num-images", "8"])
  assert summary["iterations"] == [1, 2, 3, 4] and summary["num_images"] == 8
  assert all(np.isfinite(summary["mse_mean"]))
  assert summary["mse_mean"][-1] < summary["mse_mean"][0]  # more iterations, smaller error
  for name in ("reconstruction_error.png", "reconstructions.png"):
    assert is_png(os.path.join(out, name))
  with open(os.path.join(out, "reconstruction.json")) as stream:
    assert json.load(stream)["mse_mean"] == summary["mse_mean"]


@pytest.mark.e2e
def test_mnist_archive_files_run_end_to_end(tmp_path):
  # One LDU run on archive files; Flow++ (MNIST) and Glow (CIFAR-10) read the
  # archives end to end in tests/test_image_models_fit.py.
  rng = np.random.default_rng(0)
  data = tmp_path / "data"
  image_files.write_maf_mnist(data, {name: image_files.random_images(rng, 40, (28, 28))
                                     for name in ("train", "val", "test")})
  for dataset, shape in (("mnist", [28, 28, 1]),):
    out = str(tmp_path / dataset)
    metrics = fit.main(TINY_IMAGE + ["--dataset", dataset, "--data-dir", str(data),
                                     "--steps", "2", "--no-jit", "--out", out])
    assert metrics["image_shape"] == shape and metrics["num_levels"] == 256
    assert math.isfinite(metrics["test_bits_per_dim"])
    assert metrics["config"]["hyperparameters"]["filters"] == 4
    assert is_png(os.path.join(out, "samples.png"))


def test_image_presets_are_the_papers_table_2():
  for row in (PAPER_TABLE["mnist"], PAPER_TABLE["cifar10"]):
    assert (row.num_blocks, row.num_d_scales, row.num_mixtures) == (12, 4, 4)
    assert (row.filters, row.num_residual_blocks, row.batch_size) == (16, 2, 128)
  mnist, cifar = PAPER_TABLE["mnist"], PAPER_TABLE["cifar10"]
  assert (mnist.steps, mnist.learning_rate, mnist.lr_decay, mnist.weight_decay) == (
      200_000, 1e-3, "cosine", 1e-2)
  assert (cifar.steps, cifar.learning_rate, cifar.lr_decay, cifar.weight_decay) == (
      140_000, 5e-4, "plateau", 1e-1)
  assert fit.resolve_hyperparameters(fit.parse_args(["--dataset", "digits"])) == QUICK_DIGITS
  paper = fit.resolve_hyperparameters(fit.parse_args(["--dataset", "digits",
                                                      "--preset", "paper"]))
  assert paper == mnist
  assert fit.parse_args(["--dataset", "mnist"]).num_samples == 100


def randomised_image_flow():
  model = LDUFlow((3, 4, 2), num_blocks=1, num_d_scales=2, num_components=2,
                  conditioner="pixelcnn", filters=4, num_residual_blocks=1,
                  logit_alpha=0.05, dequantizer=UniformDequantizer(4, event_ndims=3, seed=0))
  x = np.random.default_rng(0).uniform(0.05, 0.95, size=(9, 3, 4, 2)).astype("float32")
  model.initialize(np.floor(x * 4))  # Levels: initialisation goes through the dequantiser.
  for d_scale in model.blocks[0].d_scales:
    randomise_d_scale(d_scale, np.random.default_rng(1))
  return model, x


def test_truncated_inverse_is_opt_in_and_converges_to_the_strict_one():
  model, x = randomised_image_flow()
  errors = [float(np.mean((model.reconstruct(x, k)["reconstructions"] - x) ** 2))
            for k in (1, 2, 50)]
  assert errors[0] > 1e-6 and errors[0] > errors[1] > errors[2]  # the check can fail
  assert errors[2] < 1e-9
  first = model.reconstruct(x, 1)
  assert int(first["num_unconverged"]) > 0 and np.all(np.isfinite(first["reconstructions"]))
  assert float(np.max(first["latent_residual"])) > 1e-4
  # One compiled function serves every k.
  reconstruct = model.compiled_calls[("reconstruct", False, "float32")]
  assert reconstruct.experimental_get_tracing_count() == 1
  # Outside the context every solve stays strict: an unconverged solve is an error.
  d_scale = model.blocks[0].d_scales[0].bijector()
  strict = type(d_scale)(**{**d_scale.parameters, "max_iterations": 1})
  z = tf.constant(np.random.default_rng(2).normal(size=(5, 24)), tf.float32)
  with pytest.raises(ConvergenceError):
    strict.forward(z)
  with truncated_solves(1):
    assert np.all(np.isfinite(strict.forward(z)))
  with pytest.raises(ValueError, match="non-negative integer"):
    model.reconstruct(x, -1)


def test_sampling_temperature():
  model, _ = randomised_image_flow()
  cold = model.sample_with_diagnostics(6, seed=(3, 0), temperature=0.5)
  warm = model.sample_with_diagnostics(6, seed=(3, 0))
  np.testing.assert_allclose(cold["latents"], 0.5 * warm["latents"], rtol=1e-6)
  assert cold["samples"].shape == (6, 3, 4, 2)
  with pytest.raises(ValueError, match="temperature must be > 0"):
    model.sample(2, temperature=0.0)


def test_reconstruct_rebuilds_the_run_with_its_saved_preset(tmp_path, monkeypatch):
  """A `--preset paper` run must be rebuilt as the paper's model, not the quick one."""
  config = dict(model="ldu", hyperparameters=dict(fit.resolve_hyperparameters(
      fit.parse_args(["--dataset", "digits"])).to_dict()), preset="paper", patience=3)
  (tmp_path / "config.json").write_text(json.dumps(config))
  seen = {}

  class Built(Exception):
    pass

  def fake_build_model(*args, **kwargs):
    seen.update(kwargs)
    raise Built

  monkeypatch.setattr(reconstruct, "build_model", fake_build_model)
  with pytest.raises(Built):
    reconstruct.load_trained_model(str(tmp_path), None)
  assert seen["preset"] == "paper"
