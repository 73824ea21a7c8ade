"""`train/fit.py --model flowpp|glow` on images end to end: the built-in digits,
and MNIST / CIFAR-10 read from small files in the MAF archive's formats.

The runs use the CLI's size flags (a 4-filter conditioner, one block, a
few steps) so the file stays within half a minute or so on two CPU cores;
the digits run uses Flow++'s CPU preset with its variational dequantiser.
Flow++'s coupling counts have no flag, so the Flow++ runs shrink them
through the model spec (`small_flowpp`).
"""
import dataclasses
import math
import os

import numpy as np
import pytest
import tensorflow as tf

import models
from tests import make_image_files as image_files
from train import fit
from train.hyperparameters import default_hyperparameters

# Every test here runs train/fit.py end to end (see pytest.ini).
pytestmark = pytest.mark.e2e

TINY = ["--filters", "4", "--num-blocks", "1", "--batch-size", "16", "--steps", "2",
        "--num-samples", "4", "--eval-batch-size", "64", "--verbose", "0", "--no-jit"]


def is_png(path):
  with open(path, "rb") as stream:
    return stream.read(8) == b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def small_flowpp(monkeypatch):
  """`--model flowpp` on images builds 1 coupling and a 1-coupling dequantiser.

  Tracing and exporting the couplings is most of a run, each coupling adding
  about 4 s: the presets' 9 (4, 2, 3) and 2-coupling dequantiser made a run
  4 times as long.  Nothing asserted here depends on the number of
  couplings; chains of them train, sample and reload in
  test_flow_registry.py.
  """
  spec = models.SPECS["flowpp"]
  fixed = {**spec.images.fixed, "num_couplings": (1, 0, 0),
           "dequantizer_options": dict(num_couplings=1)}
  monkeypatch.setitem(models.SPECS, "flowpp", dataclasses.replace(
      spec, images=dataclasses.replace(spec.images, fixed=fixed)))


@pytest.mark.usefixtures("small_flowpp")
def test_flowpp_on_digits_reports_the_bound_and_the_importance_weighted_estimate(tmp_path):
  """Class-conditional (`--conditional`): the bound and the K-sample estimate each give
  q(u | x, c) and p(y | c) every test image's own class."""
  out = str(tmp_path / "digits")
  metrics = fit.main(["--dataset", "digits", "--model", "flowpp", "--steps", "3",
                      "--filters", "8", "--num-blocks", "1", "--num-mixtures", "2",
                      "--batch-size", "32", "--num-samples", "4", "--eval-batch-size", "128",
                      "--importance-samples", "2", "--verbose", "0", "--no-jit",
                      "--conditional", "--out", out])
  assert metrics["conditional"] and metrics["config"]["context_shape"] == [10]
  assert metrics["test_log_likelihood_kind"].startswith("dequantisation bound on log P(x)")
  assert metrics["importance_samples"] == 2
  assert metrics["test_importance_weighted_bits_per_dim_2se"] > 0
  assert math.isfinite(metrics["test_log_density"])  # log p(y), q learned: no fixed shift
  # Each estimate is labelled; the 2-sample estimate is the tighter on average.
  assert math.isfinite(metrics["test_importance_weighted_bits_per_dim"])
  assert (metrics["test_importance_weighted_bits_per_dim"]
          <= metrics["test_bits_per_dim"] + 3 * metrics["test_bits_per_dim_2se"])
  assert metrics["solver_num_unconverged"] == 0
  assert is_png(os.path.join(out, "samples.png"))
  exported = tf.saved_model.load(os.path.join(out, "saved_model"))
  assert exported.sample(tf.constant(2), np.eye(10, dtype=np.float32)[:3]).shape == (
      2, 3, 8, 8, 1)


@pytest.mark.parametrize("model, flags", [
    ("ldu", ["--num-d-scales", "1", "--num-mixtures", "2", "--num-residual-blocks", "1"]),
    ("glow", ["--levels", "1"]),
])
def test_ldu_and_glow_learn_class_conditional_digits(model, flags, tmp_path):
  """`--conditional` on the digits: p(image | class) with the image models' own
  conditioning (the LDU flow's conditional PixelCNN shifts; Glow's class prior
  and couplings).  Flow++ runs conditionally above, MAF in test_fit_conditional.py."""
  out = str(tmp_path / model)
  metrics = fit.main([*TINY, *flags, "--steps", "10", "--batch-size", "32", "--dataset",
                      "digits", "--model", model, "--conditional", "--out", out])
  assert metrics["conditional"] and metrics["config"]["context_shape"] == [10]
  assert metrics["test_log_likelihood"] > metrics["initial_test_log_likelihood"]
  assert metrics["solver_num_unconverged"] == 0
  assert is_png(os.path.join(out, "samples.png"))
  exported = tf.saved_model.load(os.path.join(out, "saved_model"))
  classes = np.eye(10, dtype=np.float32)
  assert exported.sample_with_seed(2, [0, 1], classes[:3]).shape == (2, 3, 8, 8, 1)
  image = np.full([10, 64], 0.5, np.float32)  # One image under each of the ten classes.
  log_prob = exported.log_prob(image, classes).numpy()
  assert np.all(np.isfinite(log_prob)) and np.ptp(log_prob) > 0, log_prob


@pytest.mark.usefixtures("small_flowpp")
def test_mnist_flowpp_and_cifar10_glow_archive_files_run_end_to_end(tmp_path):
  rng = np.random.default_rng(0)
  data = tmp_path / "data"
  image_files.write_maf_mnist(data, {name: image_files.random_images(rng, 40, (28, 28))
                                     for name in ("train", "val", "test")})
  image_files.write_cifar_batches(data, "cifar10",
                                  image_files.random_images(rng, 40, (32, 32, 3)),
                                  image_files.random_images(rng, 10, (32, 32, 3)))
  # Flow++ on the smaller images: its couplings cost most per pixel.  Glow with
  # one level (--levels 1) takes half the time of the preset's two; multi-level
  # Glows train, sample and reload in test_flow_registry.py and test_glow.py.
  runs = (("mnist", "flowpp", [28, 28, 1], ["--dequantization", "uniform",
                                            "--num-mixtures", "2", "--no-attention"]),
          ("cifar10", "glow", [32, 32, 3], ["--coupling", "additive", "--levels", "1"]))
  for dataset, model, shape, flags in runs:
    out = str(tmp_path / dataset)
    metrics = fit.main([*TINY, *flags, "--dataset", dataset, "--model", model,
                        "--data-dir", str(data), "--out", out])
    assert metrics["image_shape"] == shape and metrics["num_levels"] == 256
    assert math.isfinite(metrics["test_bits_per_dim"])
    assert is_png(os.path.join(out, "samples.png"))
    exported = tf.saved_model.load(os.path.join(out, "saved_model"))
    assert exported.sample(tf.constant(1)).shape == (1, *shape)


def test_image_model_flags_are_checked(tmp_path, capsys):
  for flags, message in (
      (["--model", "glow"], "needs image data"),
      (["--model", "ldu", "--dequantization", "uniform"], "is a flag of --model flowpp"),
      (["--model", "flowpp", "--dequantization", "uniform"], "needs --model flowpp on image"),
      (["--dataset", "digits", "--model", "glow", "--dequantization", "uniform"],
       "does not take --dequantization"),
      (["--dataset", "digits", "--model", "flowpp", "--levels", "2"],
       "does not take --levels"),
      (["--dataset", "digits", "--model", "glow", "--no-attention"],
       "does not take --no-attention"),
      (["--dataset", "digits", "--model", "glow", "--num-d-scales", "2"],
       "does not take --num-d-scales")):
    with pytest.raises(SystemExit) as exited:
      fit.main([*flags, "--out", str(tmp_path)])
    assert exited.value.code == 2 and message in capsys.readouterr().err, flags


def test_image_models_train_with_their_papers_optimiser_columns():
  flowpp = default_hyperparameters("cifar10", "paper", "flowpp")
  assert (flowpp.batch_size, flowpp.learning_rate, flowpp.lr_decay) == (64, 3e-4, "none")
  glow = default_hyperparameters("mnist", "quick", "glow")
  assert (glow.batch_size, glow.learning_rate) == (64, 1e-3)
  quick = default_hyperparameters("digits", "quick", "flowpp")
  assert (quick.steps, quick.batch_size, quick.lr_decay) == (800, 64, "cosine")
