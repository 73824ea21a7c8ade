"""AugmentedFlow: the bound, the importance-weighted estimate, sampling, saving, fit.py."""
import math
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfp_ldu.flows import MAF
from tfp_ldu.flows import AugmentedFlow
from tfp_ldu.flows import LDUFlow
from tfp_ldu.layers import UniformDequantizer
from train import fit


def curved(n, seed=0):
  rng = np.random.default_rng(seed)
  x = rng.normal(size=(n, 2))
  x[:, 1] = 0.5 * x[:, 0] ** 2 + 0.3 * x[:, 1]
  return x.astype("float32")


@pytest.fixture(scope="module")
def trained():
  keras.utils.set_random_seed(0)
  model = AugmentedFlow(2, MAF(4, num_blocks=2, hidden_units=(16,)), augment_dims=2, seed=3)
  model.compile(keras.optimizers.Adam(3e-3), jit_compile=True)
  history = model.fit(curved(512), batch_size=64, epochs=10, verbose=0)
  return model, history.history["loss"]


def test_training_lowers_the_bound(trained):
  _, losses = trained
  assert losses[-1] < losses[0] - 0.2


def test_importance_weighted_estimate_is_above_the_bound_and_tightens_with_k(trained):
  model, _ = trained
  x = np.repeat(curved(64, seed=1), 8, axis=0)  # 512 rows: averages over many draws
  bound = float(tf.reduce_mean(model(x, training=False)))
  estimates = {k: float(tf.reduce_mean(model.importance_weighted_log_prob(x, k)))
               for k in (1, 8, 128)}
  # K = 1 is the bound itself (same distribution); more samples give a higher value.
  assert estimates[1] == pytest.approx(bound, abs=0.1)
  assert estimates[8] > estimates[1] + 0.01
  assert estimates[128] > estimates[8] - 0.01
  # The default log_prob is the K = num_importance_samples estimate.
  assert float(tf.reduce_mean(model.log_prob(x))) == pytest.approx(estimates[128], abs=0.05)


def test_k_sample_estimate_is_exact_for_an_independent_noise_dimension():
  """A joint flow that leaves e alone has p(x, e) = p(x) q(e): every estimate is exact."""
  inner = LDUFlow(3, num_blocks=1, num_d_scales=1, hidden_units=(8,))
  model = AugmentedFlow(2, inner, augment_dims=1, seed=0)
  x = curved(16)
  inner.initialize(np.concatenate([curved(64, 2), np.random.default_rng(3).normal(
      size=(64, 1)).astype("float32")], axis=1))
  # Make the joint flow independent of e: its last dimension is standardised only
  # (identity LDU blocks at initialisation, actnorm of e set to the identity).
  inner.actnorm.loc.assign(np.r_[inner.actnorm.loc.numpy()[:2], 0.0])
  inner.actnorm.log_scale.assign(np.r_[inner.actnorm.log_scale.numpy()[:2], 0.0])
  blocks = inner.blocks[0]  # StackedLDUBlocks: every block's MADE weights, stacked.
  for weight in (*blocks.lower_kernels, *blocks.lower_biases, *blocks.upper_kernels,
                 *blocks.upper_biases):
    weight.assign(tf.zeros_like(weight))
  marginal = inner.log_prob(np.c_[x, np.zeros((16, 1), "float32")]).numpy() + 0.5 * math.log(
      2 * math.pi)
  np.testing.assert_allclose(model.importance_weighted_log_prob(x, 1), marginal, atol=1e-4)
  np.testing.assert_allclose(model(x), marginal, atol=1e-4)


def test_sampling_drops_the_noise_and_checks_the_joint(trained):
  model, _ = trained
  result = model.sample_with_diagnostics(32, seed=(1, 2))
  assert result["samples"].shape == (32, 2) and result["joint_samples"].shape == (32, 4)
  np.testing.assert_array_equal(result["samples"], result["joint_samples"][:, :2])
  assert float(model.sampling_residual(result)) < 1e-4
  assert model.sample(5, temperature=0.5).shape == (5, 2)


def test_save_and_reload_keep_the_joint_density(trained, tmp_path):
  model, _ = trained
  path = str(tmp_path / "augmented.keras")
  model.save(path)
  loaded = keras.models.load_model(path)
  joint = np.random.default_rng(0).normal(size=(8, 4)).astype("float32")
  np.testing.assert_allclose(loaded.flow.log_prob(joint), model.flow.log_prob(joint),
                             rtol=1e-6)
  assert loaded.augment_dims == 2 and loaded.num_importance_samples == 100


def test_bad_configurations_are_clear_errors():
  with pytest.raises(ValueError, match="D \\+ E = 2 \\+ 2 = 4"):
    AugmentedFlow(2, MAF(3, num_blocks=1, hidden_units=(4,)), augment_dims=2)
  with pytest.raises(ValueError, match="augment_dims must be >= 1"):
    AugmentedFlow(2, MAF(2, num_blocks=1, hidden_units=(4,)), augment_dims=0)
  with pytest.raises(ValueError, match="not to the inner flow"):
    AugmentedFlow(2, MAF(3, num_blocks=1, hidden_units=(4,),
                         dequantizer=UniformDequantizer(4)), augment_dims=1)
  model = AugmentedFlow(2, MAF(3, num_blocks=1, hidden_units=(4,)), augment_dims=1)
  with pytest.raises(NotImplementedError, match="joint distribution"):
    model.distribution  # pylint: disable=pointless-statement


def test_a_conditional_inner_flow_makes_a_conditional_augmented_flow(tmp_path):
  """x | c ~ N(2c, 0.3^2) through an augmented conditional MAF: the context reaches the
  inner flow in the bound, the K-sample estimate and sampling (a model that ignored it
  would fit the marginal, of std about 2, and sample the same mean for every c)."""
  rng = np.random.default_rng(5)
  c = rng.uniform(-1, 1, size=(512, 1)).astype("float32") * 10 + 50  # Raw units.
  x = (2 * (c - 50) / 10 + 0.3 * rng.normal(size=(512, 1))).astype("float32")
  keras.utils.set_random_seed(5)
  inner = MAF(2, num_blocks=2, hidden_units=(16,), context_shape=(1,))
  model = AugmentedFlow(1, inner, augment_dims=1, num_importance_samples=8, seed=5)
  assert model.conditional and model.context_shape == (1,)
  model.compile(keras.optimizers.Adam(1e-2))
  model.fit({"x": x, "context": c}, batch_size=128, epochs=8, verbose=0)
  np.testing.assert_allclose(inner.context_standardization.mean, c.mean(0), rtol=1e-5)
  right = model.log_prob(x[:64], context=c[:64]).numpy()
  wrong = model.importance_weighted_log_prob(x[:64], 8, context=120 - c[:64]).numpy()
  assert right.shape == (64,) and np.mean(right) > np.mean(wrong) + 2.0
  assert np.mean(right) > -0.5  # The conditional's entropy: log(0.3 sqrt(2 pi e)) = 0.2.
  for context in (40.0, 60.0):  # c = -1 and c = 1 in standardised units.
    result = model.sample_with_diagnostics(200, seed=(1, 2), context=np.float32([context]))
    assert result["samples"].shape == (200, 1) and result["joint_samples"].shape == (200, 2)
    assert float(model.sampling_residual(result, np.full((200, 1), context, "float32"))) < 1e-4
    assert abs(float(np.mean(result["samples"])) - 2 * (context - 50) / 10) < 0.3
  assert model.sample(3, seed=1, context=c[:4]).shape == (3, 4, 1)
  path = str(tmp_path / "conditional_augmented.keras")
  model.save(path)
  loaded = keras.models.load_model(path)
  assert loaded.conditional and not loaded.needs_initialization
  joint = np.c_[x[:8], np.zeros((8, 1), "float32")]
  np.testing.assert_allclose(loaded.flow.log_prob(joint, context=c[:8]),
                             inner.log_prob(joint, context=c[:8]), rtol=1e-6)
  with pytest.raises(ValueError, match="the context belongs to the inner flow"):
    AugmentedFlow(1, MAF(2, num_blocks=1, hidden_units=(4,)), augment_dims=1,
                  context_shape=(1,))
  with pytest.raises(NotImplementedError, match="given c"):
    model.conditioned(c[:2])


@pytest.mark.e2e
def test_fit_py_augment_dims_reports_both_estimates(tmp_path):
  out = str(tmp_path / "augmented")
  metrics = fit.main(["--model", "maf", "--augment-dims", "2", "--num-blocks", "2",
                      "--hidden-units", "16", "--steps", "60", "--batch-size", "64",
                      "--importance-samples", "20", "--num-samples", "200",
                      "--eval-batch-size", "500", "--verbose", "0", "--no-jit",
                      "--out", out])
  assert metrics["config"]["augment_dims"] == 2
  assert metrics["test_log_likelihood_kind"] == "importance-weighted bound"
  assert metrics["importance_samples"] == 20
  assert metrics["test_log_likelihood"] >= metrics["test_one_sample_bound"] - 0.02
  assert metrics["reconstruction_residual"] < 1e-4
  assert os.path.isfile(os.path.join(out, "saved_model", "saved_model.pb"))
  with pytest.raises(SystemExit):
    fit.main(["--dataset", "digits", "--augment-dims", "2", "--out", str(tmp_path / "d")])
