"""zuko's soft clipping of MAF log-scales and NSF spline parameters, the library's default."""
import keras
import numpy as np
import tensorflow as tf

from tfp_ldu.bijectors.rational_quadratic_spline_parameters import SOFT_CLIP_BOUND, soft_clip
from tfp_ldu.layers import MaskedAutoregressive


def test_soft_clip_is_the_identity_near_zero_and_bounded():
  x = tf.constant(np.linspace(-1e4, 1e4, 2001))
  clipped = soft_clip(x).numpy()
  assert np.all(np.abs(clipped) < SOFT_CLIP_BOUND) and np.all(np.diff(clipped) > 0)
  np.testing.assert_allclose(soft_clip(tf.constant(1e-4, tf.float64)), 1e-4, rtol=1e-4)


def test_maf_log_scales_stay_within_the_bound_unless_turned_off():
  """A MADE whose outputs are huge: |log det| <= D ln(1e3) with the clip, far beyond without."""
  x = tf.constant(np.random.default_rng(0).normal(size=(8, 4)))
  log_dets = {}
  for clip in (True, False):
    keras.utils.set_random_seed(0)
    layer = MaskedAutoregressive(4, hidden_units=(16,), soft_clip=clip, dtype="float64")
    for weight in layer.made.trainable_weights:
      weight.assign(50.0 * weight.numpy())
    log_dets[clip] = layer.bijector().inverse_log_det_jacobian(x, event_ndims=1).numpy()
  assert np.max(np.abs(log_dets[True])) <= 4 * SOFT_CLIP_BOUND
  assert np.max(np.abs(log_dets[False])) > 4 * SOFT_CLIP_BOUND


def test_a_layer_saved_without_the_option_reloads_unclipped():
  layer = MaskedAutoregressive(3, hidden_units=(8,))
  config = layer.get_config()
  assert config.pop("soft_clip") is True
  assert MaskedAutoregressive.from_config(config).soft_clip is False
