"""The parity harness's data, ordering, re-initialisation and report utilities.

None of these needs PyTorch or the authors' checkout.  The last test exercises
the reference side too, and runs only where both are set up:
PARITY_TORCH_PYTHON (a python with torch) and PARITY_REFERENCE_DIR (a
checkout of github.com/weiyumou/ldu-flow); see bench/parity.py.
"""
import json
import os
import pathlib
import subprocess

import numpy as np
import pytest

from bench.parity_reference.datasets import batch_order
from bench.parity_reference.datasets import effective_batch_size
from bench.parity_reference.datasets import load_dataset
from bench.parity_reference.datasets import split_indices
from bench.parity_reference.datasets import standardise
from bench.parity_reference.report import summarise
from bench.parity_reference.report import verdicts
from bench.parity_reference.report import best_flows
from bench.parity_reference.variants import LIBRARY_MODELS
from bench.parity_reference.variants import REFERENCE_MODELS
from bench.parity_reference.variants import VARIANTS
from bench.parity_reference.variants import get_variant

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_batch_order_is_a_concatenation_of_permutations():
  order = batch_order(num_examples=10, batch_size=4, steps=7, seed=3)
  assert order.shape == (7, 4) and order.dtype == np.int64
  flat = order.ravel()
  for epoch in range(len(flat) // 10):
    np.testing.assert_array_equal(np.sort(flat[10 * epoch:10 * (epoch + 1)]), np.arange(10))
  np.testing.assert_array_equal(order, batch_order(10, 4, 7, seed=3))
  assert not np.array_equal(order, batch_order(10, 4, 7, seed=4))


def test_batch_order_rejects_a_batch_larger_than_the_data():
  with pytest.raises(ValueError, match=r"batch_size must be in \[1, 5\]"):
    batch_order(num_examples=5, batch_size=6, steps=2, seed=0)


def test_effective_batch_size_keeps_two_steps_per_epoch():
  assert effective_batch_size(128, 1257) == 128
  assert effective_batch_size(128, 124) == 62


def test_split_indices_partition_the_rows():
  train, val, test = split_indices(100, seed=1)
  assert (len(train), len(val), len(test)) == (70, 15, 15)
  np.testing.assert_array_equal(np.sort(np.concatenate([train, val, test])), np.arange(100))


def test_standardise_uses_training_statistics_and_rejects_constant_columns():
  rng = np.random.default_rng(0)
  train, other = rng.normal(3.0, 2.0, size=(50, 2)), rng.normal(size=(5, 2))
  scaled_train, scaled_other, log_std = standardise(train, other)
  np.testing.assert_allclose(scaled_train.mean(axis=0), 0.0, atol=1e-6)
  np.testing.assert_allclose(scaled_train.std(axis=0), 1.0, atol=1e-6)
  np.testing.assert_allclose(scaled_other, (other - train.mean(0)) / train.std(0), rtol=1e-5)
  np.testing.assert_allclose(log_std, np.log(train.std(axis=0)))
  with pytest.raises(ValueError, match=r"columns \[1\] are constant"):
    standardise(np.stack([np.arange(4.0), np.ones(4)], axis=1))


def test_digits_are_dequantised_64_dimensional_and_fixed_by_the_seed():
  data = load_dataset("digits", seed=0)
  assert data.event_size == 64 and data.train.dtype == np.float32
  assert len(data.train) + len(data.val) + len(data.test) == 1797
  assert len(np.unique(data.train[:, 10])) > 100  # dequantised, not 17 levels
  np.testing.assert_array_equal(data.test, load_dataset("digits", seed=0).test)


def test_gmm8_true_density_beats_a_fitted_gaussian():
  data = load_dataset("gmm8", seed=0)
  assert data.train.shape == (5000, 8) and data.true_test_log_prob.shape == (1500,)
  mean, cov = data.train.mean(axis=0), np.cov(data.train, rowvar=False)
  centred = data.test - mean
  gaussian = -0.5 * (np.einsum("ni,ij,nj->n", centred, np.linalg.inv(cov), centred)
                     + np.linalg.slogdet(2 * np.pi * cov)[1])
  # The mixture is well separated: its exact density is far better than any Gaussian's.
  assert data.true_test_log_prob.mean() > gaussian.mean() + 1.0


def test_variants_are_well_formed():
  for variant in VARIANTS.values():
    assert variant.side in ("reference", "library")
    assert variant.actnorm_init in ("reference", "library", "identity")
    assert variant.counterpart is None or variant.counterpart in VARIANTS
    if variant.side == "reference":
      assert variant.made_init in ("torch", "glorot")
      assert variant.model in REFERENCE_MODELS
    else:
      assert variant.made_init in ("library", "torch", "torch_kernel", "transplant")
      assert variant.model in LIBRARY_MODELS
    if variant.model != "ldu":
      assert variant.made_init in ("library", "torch")
  with pytest.raises(ValueError, match="unknown variant 'nope'"):
    get_variant("nope")


def _record(dataset, variant, seed, test_ll, test_se):
  return dict(dataset=dataset, variant=variant, seed=seed, test_ll=test_ll, test_se=test_se,
              best_val_ll=test_ll, best_step=100, wall_time_s=1.0)


def test_summary_pools_test_and_seed_noise_and_verdicts_compare_to_the_reference():
  records = [_record("d", "reference", 0, -10.0, 0.1), _record("d", "reference", 1, -10.2, 0.1),
             _record("d", "library", 0, -11.0, 0.1), _record("d", "library", 1, -11.4, 0.1)]
  summary = summarise(records)
  ref, lib = summary[("d", "reference")], summary[("d", "library")]
  assert ref["test_ll"] == pytest.approx(-10.1) and lib["test_ll"] == pytest.approx(-11.2)
  assert ref["test_se"] == pytest.approx(np.sqrt(0.01 / 2 + 0.02 / 2))
  [(dataset, variant, counterpart, delta, two_se, ok)] = verdicts(summary)
  assert (dataset, variant, counterpart) == ("d", "library", "reference")
  assert delta == pytest.approx(-1.1)
  assert two_se == pytest.approx(2 * np.sqrt(ref["test_se"] ** 2 + lib["test_se"] ** 2))
  assert not ok


def test_library_flows_are_judged_against_their_zuko_counterparts_and_best_against_best():
  records = [_record("d", "zuko_maf", 0, -5.0, 0.1), _record("d", "zuko_nsf", 0, -4.0, 0.1),
             _record("d", "library_maf", 0, -5.1, 0.1), _record("d", "library_nsf", 0, -6.0, 0.1),
             _record("d", "library_realnvp", 0, -4.1, 0.1), _record("d", "reference", 0, -3.0, 0.1)]
  rows = {(v, c): ok for _, v, c, _, _, ok in verdicts(summarise(records))}
  assert rows == {("library_maf", "zuko_maf"): True, ("library_nsf", "zuko_nsf"): False,
                  ("library_realnvp", "zuko_maf"): True}
  # The authors' LDU is no zuko flow: the best zuko flow is NSF, the best library one RealNVP.
  [(dataset, library, zuko, delta, _, ok)] = best_flows(summarise(records))
  assert (dataset, library, zuko, ok) == ("d", "library_realnvp", "zuko_nsf", True)
  assert delta == pytest.approx(-0.1)


def _tiny_flow():
  from bench.parity_reference.library_runner import build_library_model
  config = dict(num_blocks=1, num_d_scales=1, num_mixtures=2, hidden_units=[8, 8], dropout=0.0)
  model, _ = build_library_model(4, config, get_variant("library_torch_init"), seed=0)
  return model


def test_torch_style_made_init_stays_within_one_over_sqrt_fan_in():
  from bench.parity_reference.candidate_defaults import made_variables
  model = _tiny_flow()
  pairs = made_variables(model)
  assert len(pairs) == 2 * 3  # Two MADEs of 3 layers (stacked over the one block).
  for kernel, bias in pairs:
    fan_in = kernel.shape[-2]
    assert fan_in in (4, 8)
    for values in (kernel.numpy(), bias.numpy()):
      assert np.abs(values).max() <= 1 / np.sqrt(fan_in)
      assert np.abs(values).max() > 0.5 / np.sqrt(fan_in)  # biases are drawn, not 0


def test_reference_style_actnorm_uses_half_log_variance():
  from bench.parity_reference.candidate_defaults import initialize_actnorm
  model = _tiny_flow()
  batch = np.random.default_rng(0).normal(size=(32, 4)).astype(np.float32)
  initialize_actnorm(model, batch, "reference")
  h = batch
  for block in model.blocks:
    h = block.bijector().inverse(h).numpy().astype(np.float64)
  np.testing.assert_allclose(model.actnorm.log_scale.numpy(),
                             0.5 * np.log(h.var(axis=0) + 1e-5), rtol=1e-5)
  np.testing.assert_allclose(model.actnorm.loc.numpy(), h.mean(axis=0), atol=1e-5)


def test_identity_actnorm_is_frozen_at_the_identity():
  from bench.parity_reference.candidate_defaults import initialize_actnorm
  from bench.parity_reference.library_runner import build_library_model
  config = dict(num_transforms=2, hidden_units=[8], dropout=0.0, num_bins=4, spline_bound=3.0)
  model, _ = build_library_model(4, config, get_variant("library_maf_no_actnorm"), seed=0)
  batch = np.random.default_rng(0).normal(3.0, 2.0, size=(32, 4)).astype(np.float32)
  initialize_actnorm(model, batch, "identity")
  np.testing.assert_array_equal(model.actnorm.loc.numpy(), 0.0)
  np.testing.assert_array_equal(model.actnorm.log_scale.numpy(), 0.0)
  trainable = {id(v) for v in model.trainable_variables}
  assert id(model.actnorm.loc) not in trainable and id(model.actnorm.log_scale) not in trainable
  assert trainable  # The MADEs still train.


def test_transplant_rejects_a_different_connectivity():
  from bench.parity_reference.candidate_defaults import transplant_reference_weights
  from tfp_ldu.nets.made import made_masks
  model = _tiny_flow()
  masks = made_masks(4, (8, 8))
  masks[1] = 1.0 - masks[1]
  weights = {}
  for l, mask in enumerate(masks):
    weights[f"block0/upper/mask{l}"] = mask
    weights[f"block0/upper/kernel{l}"] = np.zeros(mask.shape, np.float32)
    weights[f"block0/upper/bias{l}"] = np.zeros(mask.shape[1], np.float32)
  with pytest.raises(ValueError, match="block0/upper/mask1"):
    transplant_reference_weights(model, weights)


@pytest.mark.parametrize("name", ["library_maf", "library_nsf", "library_nsf_coupling",
                                  "library_realnvp"])
def test_other_library_flows_train_on_the_harness_loop(name):
  from bench.parity_reference.library_runner import train_library
  data = load_dataset("wine", seed=0)
  config = dict(num_transforms=2, hidden_units=[8, 8], dropout=0.0, num_bins=4,
                spline_bound=3.0, learning_rate=1e-3, eval_every=2)
  order = batch_order(len(data.train), 16, steps=3, seed=0)
  result = train_library(data, order, config, get_variant(name), seed=0)
  assert result["steps"] == [2, 3] and result["diverged_at"] is None
  assert np.isfinite(result["test_ll"]) and result["test_se"] > 0


def test_zuko_variants_need_the_torch_python_but_not_the_authors_checkout(tmp_path):
  from bench.parity import parse_args
  with pytest.raises(SystemExit):
    parse_args(["--variants", "zuko_nsf", "--torch-python", str(tmp_path / "missing")])
  python = tmp_path / "python"
  python.write_text("#!/bin/sh\n")
  python.chmod(0o755)
  args = parse_args(["--variants", "zuko_nsf,library_nsf", "--torch-python", str(python),
                     "--reference-dir", ""])
  assert args.variants == ["zuko_nsf", "library_nsf"]
  with pytest.raises(SystemExit):  # The authors' LDU does need the checkout.
    parse_args(["--variants", "reference", "--torch-python", str(python),
                "--reference-dir", str(tmp_path)])


def _reference_setup():
  torch_python = os.environ.get("PARITY_TORCH_PYTHON")
  reference_dir = os.environ.get("PARITY_REFERENCE_DIR")
  if not (torch_python and reference_dir and os.access(torch_python, os.X_OK)
          and (pathlib.Path(reference_dir) / "project" / "models" / "ldu.py").is_file()):
    pytest.skip("set PARITY_TORCH_PYTHON and PARITY_REFERENCE_DIR (see bench/parity.py)")
  return torch_python, reference_dir


@pytest.mark.e2e
def test_transplanted_reference_weights_give_the_same_log_density(tmp_path):
  torch_python, reference_dir = _reference_setup()
  from bench.parity_reference.library_runner import build_library_model
  data = load_dataset("wine", seed=0)
  for split in ("train", "val", "test"):
    np.save(tmp_path / f"{split}.npy", getattr(data, split))
  config = dict(num_blocks=2, num_d_scales=2, num_mixtures=3, hidden_units=[16, 16],
                dropout=0.0, learning_rate=1e-3, adam_epsilon=1e-8, eval_every=10)
  job = dict(mode="export", reference_dir=reference_dir, data_dir=str(tmp_path),
             result_path=str(tmp_path / "r.json"), weights_path=str(tmp_path / "w.npz"),
             seed=5, threads=1, made_init="torch", config=config)
  (tmp_path / "job.json").write_text(json.dumps(job))
  subprocess.run([torch_python, str(REPO_ROOT / "bench" / "parity_reference" / "torch_runner.py"),
                  str(tmp_path / "job.json")], check=True, capture_output=True)
  weights = dict(np.load(tmp_path / "w.npz"), validation_points=data.val)
  _, forward_parity = build_library_model(data.event_size, config,
                                          get_variant("library_transplant"), seed=5,
                                          reference_weights=weights)
  assert forward_parity < 1e-4


@pytest.mark.e2e
@pytest.mark.parametrize("model", ["zuko_maf", "zuko_nsf"])
def test_zuko_flows_train_in_the_reference_runner(tmp_path, model):
  torch_python = os.environ.get("PARITY_TORCH_PYTHON")
  if not (torch_python and os.access(torch_python, os.X_OK)) or subprocess.run(
      [torch_python, "-c", "import zuko"], capture_output=True).returncode != 0:
    pytest.skip("set PARITY_TORCH_PYTHON to a python with torch and zuko (see bench/parity.py)")
  data = load_dataset("wine", seed=0)
  for split in ("train", "val", "test"):
    np.save(tmp_path / f"{split}.npy", getattr(data, split))
  np.save(tmp_path / "order.npy", batch_order(len(data.train), 16, steps=3, seed=0))
  config = dict(num_transforms=2, hidden_units=[8, 8], num_bins=4, spline_bound=3.0,
                dropout=0.0, learning_rate=1e-3, adam_epsilon=1e-8, eval_every=2)
  job = dict(mode="train", model=model, reference_dir=None, data_dir=str(tmp_path),
             result_path=str(tmp_path / "r.json"), seed=0, threads=1, made_init="torch",
             config=config)
  (tmp_path / "job.json").write_text(json.dumps(job))
  subprocess.run([torch_python, str(REPO_ROOT / "bench" / "parity_reference" / "torch_runner.py"),
                  str(tmp_path / "job.json")], check=True, capture_output=True)
  result = json.loads((tmp_path / "r.json").read_text())
  assert result["steps"] == [2, 3] and np.isfinite(result["test_ll"]) and result["zuko_version"]
