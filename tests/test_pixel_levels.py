"""Image models on discrete levels: the input check, the support, float64 and samples as levels.

Tiny 4x4 images of 17 levels; these tests are about the contract between the
dequantisers, the logit preprocessing and the user, not about fitting quality.
"""
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfp_ldu import export
from tfp_ldu.flows import MAF, FlowPlusPlus, Glow, LDUFlow
from tfp_ldu.flows.flow_plus_plus import default_preset
from tfp_ldu.layers import UniformDequantizer
from tfp_ldu.layers.pixel_levels import level_problem, levels_of

SHAPE = (4, 4, 1)
LEVELS = np.random.default_rng(0).integers(0, 17, size=(32, *SHAPE)).astype("float32")


def image_maf(dtype=None, dequantizer_dtype=None, logit_alpha=0.05):
  return MAF(SHAPE, num_blocks=1, hidden_units=(8,), logit_alpha=logit_alpha, dtype=dtype,
             dequantizer=UniformDequantizer(17, event_ndims=3, dtype=dequantizer_dtype))


def test_level_problem_says_what_was_received_and_what_is_expected():
  assert level_problem(LEVELS, 17) is None
  scaled = level_problem(LEVELS / 16, 17)
  assert "non-integer values in [0, 1]" in scaled and "{0, ..., 16}" in scaled
  assert "scaled to [0, 1]" in scaled
  eight_bit = level_problem(LEVELS * 15, 17)
  assert "values in [0, 240]" in eight_bit and "num_levels=256" in eight_bit
  assert "NaN or infinite" in level_problem(np.array([1., np.nan]), 17)
  assert "values in [-1, 3]" in level_problem(np.array([-1., 3.]), 17)


@pytest.mark.parametrize("scale", [1 / 16, 15.], ids=["scaled_to_unit", "eight_bit"])
def test_fit_refuses_images_on_the_wrong_scale_before_training(scale):
  model = image_maf()
  model.compile(keras.optimizers.Adam(1e-3))
  with pytest.raises(ValueError, match=r"MAF: received .*expected integer pixel levels"):
    model.fit(LEVELS * scale, batch_size=16, epochs=1, verbose=0)
  assert model.needs_initialization  # Nothing was initialised from the bad data.
  dataset = tf.data.Dataset.from_tensor_slices(LEVELS * scale).batch(16)
  with pytest.raises(ValueError, match="expected integer pixel levels"):
    model.fit(dataset, epochs=1, verbose=0)


def test_the_dequantisers_assert_their_input_outside_fit():
  model = image_maf()
  model.initialize(LEVELS)
  with pytest.raises(tf.errors.InvalidArgumentError, match="expected integer pixel levels"):
    model(LEVELS / 16)
  flowpp = FlowPlusPlus(SHAPE, num_levels=17, num_couplings=(1, 0, 0), filters=4,
                        conditioner_blocks=1, num_components=2, seed=0,
                        dequantizer_options=TINY_DEQUANTIZER)
  flowpp.initialize(LEVELS)
  with pytest.raises(tf.errors.InvalidArgumentError, match="expected integer pixel levels"):
    flowpp(LEVELS + 0.5)


def test_fit_warns_when_the_data_use_a_small_part_of_the_levels():
  model = MAF(SHAPE, num_blocks=1, hidden_units=(8,),
              dequantizer=UniformDequantizer(256, event_ndims=3))
  model.compile(keras.optimizers.Adam(1e-3))
  with pytest.warns(UserWarning, match="levels up to 16 of num_levels=256.*num_levels=17"):
    model.fit(LEVELS, batch_size=16, epochs=1, verbose=0)


def test_log_prob_is_minus_infinity_outside_the_logit_support_and_in_the_export(tmp_path):
  model = image_maf()
  model.initialize(LEVELS)
  y = (LEVELS[:3] + 0.5) / 17
  inside = model.log_prob(y).numpy()
  assert np.all(np.isfinite(inside))
  margin = 0.05 / 0.9
  assert np.all(np.isfinite(model.log_prob(np.full((1, 16), -0.9 * margin))))
  outside = np.stack([LEVELS[0].reshape(-1), np.full(16, -2 * margin),
                      np.r_[y[0].reshape(-1)[:15], 1 + 2 * margin]])
  np.testing.assert_array_equal(model.log_prob(outside), [-np.inf] * 3)
  export.save(model, tmp_path / "flow")
  loaded = tf.saved_model.load(str(tmp_path / "flow"))
  np.testing.assert_array_equal(loaded.log_prob(tf.constant(outside, tf.float32)),
                                [-np.inf] * 3)
  np.testing.assert_allclose(loaded.log_prob(tf.constant(y.reshape(3, -1))), inside,
                             rtol=1e-5)


IMAGE_MODELS = {
    "maf": lambda dtype: image_maf(dtype=dtype),
    "ldu_pixelcnn": lambda dtype: LDUFlow(
        SHAPE, num_blocks=1, num_d_scales=1, num_components=2, conditioner="pixelcnn",
        filters=4, num_residual_blocks=1, logit_alpha=0.05, dtype=dtype,
        dequantizer=UniformDequantizer(17, event_ndims=3)),
    "glow": lambda dtype: Glow(SHAPE, levels=1, steps_per_level=1, hidden_channels=4,
                               logit_alpha=0.05, seed=0, dtype=dtype,
                               dequantizer=UniformDequantizer(17, event_ndims=3)),
    # Uniform dequantisation: the logit (on by default) is what failed in float64;
    # the variational dequantiser's dtype is the model's (`test_sample_levels...`).
    "flowpp": lambda dtype: FlowPlusPlus(SHAPE, num_levels=17, num_couplings=(1, 0, 0),
                                         filters=4, conditioner_blocks=1, seed=0, dtype=dtype,
                                         dequantization="uniform"),
}
TINY_DEQUANTIZER = dict(num_couplings=1, filters=4, conditioner_blocks=1, num_components=2,
                        context_filters=4, num_context_blocks=1)


@pytest.mark.parametrize("name", sorted(IMAGE_MODELS))
def test_float64_image_models_with_the_logit_and_a_default_dtype_dequantizer_train(name):
  model = IMAGE_MODELS[name]("float64")
  model.compile(keras.optimizers.Adam(1e-3))
  history = model.fit(LEVELS.astype("float64"), batch_size=16, epochs=1, verbose=0)
  assert np.all(np.isfinite(history.history["loss"]))
  log_prob = model.log_prob((LEVELS[:2] + 0.5) / 17)
  assert log_prob.dtype == tf.float64 and np.all(np.isfinite(log_prob))
  assert model.dequantizer.compute_dtype == "float64"


def test_a_dequantizer_with_weights_of_another_dtype_is_refused_clearly():
  from tfp_ldu.layers import VariationalDequantizer
  dequantizer = VariationalDequantizer(SHAPE, num_levels=17, num_couplings=1, filters=4,
                                       conditioner_blocks=1, context_filters=4,
                                       num_context_blocks=1)
  with pytest.raises(ValueError, match="weights are float32 but the model computes in "
                                       "float64; build the dequantizer with dtype='float64'"):
    MAF(SHAPE, num_blocks=1, hidden_units=(8,), dtype="float64", dequantizer=dequantizer)


def test_sample_levels_are_the_integer_pixels_of_the_samples(tmp_path):
  model = FlowPlusPlus(SHAPE, num_levels=17, num_couplings=(1, 0, 0), filters=4,
                       conditioner_blocks=1, num_components=2, seed=0,
                       dequantizer_options=TINY_DEQUANTIZER)
  model.initialize(LEVELS)
  y = model.sample(64, seed=3).numpy()
  levels = model.sample_levels(64, seed=3).numpy()
  assert levels.dtype == np.int32 and levels.shape == (64, *SHAPE)
  assert levels.min() >= 0 and levels.max() <= 16
  np.testing.assert_array_equal(levels, np.clip(np.floor(y * 17), 0, 16))
  # The continuous samples live in the logit's support, not in [0, 1).
  margin = 0.05 / 0.9
  assert y.min() > -margin and y.max() < 1 + margin
  export.save(model, tmp_path / "flow")
  loaded = tf.saved_model.load(str(tmp_path / "flow"))
  assert int(loaded.num_levels) == 17
  exported = loaded.signatures["sample_levels_with_seed"](n=tf.constant(64),
                                                         seed=tf.constant([0, 3]))
  np.testing.assert_array_equal(exported["levels"], levels)
  assert loaded.sample_levels(tf.constant(5)).dtype == tf.int32
  with pytest.raises(ValueError, match="sample_levels needs a dequantizer"):
    MAF(2, num_blocks=1, hidden_units=(8,)).sample_levels(2)
  np.testing.assert_array_equal(levels_of(tf.constant([-0.1, 0.0, 0.999, 1.2]), 17),
                                [0, 0, 16, 16])


def test_flow_plus_plus_defaults_follow_the_image_size():
  assert default_preset((8, 8, 1)) == "small" and default_preset((32, 32, 3)) == "paper"
  model = FlowPlusPlus((8, 8, 1), num_levels=17, num_couplings=(1, 0, 0))
  assert model.filters == 32 and model.count_params() < 1_000_000
