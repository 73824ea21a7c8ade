"""The MAF layer's affine form: zuko's z = x e^a + b by default, the old one for saved models."""
import keras
import numpy as np
import tensorflow as tf

from tfp_ldu.bijectors.rational_quadratic_spline_parameters import soft_clip
from tfp_ldu.flows import MAF
from tfp_ldu.layers import MaskedAutoregressive


def _layer_and_made_output(latent_shift, x):
  keras.utils.set_random_seed(0)
  layer = MaskedAutoregressive(3, hidden_units=(8,), reverse=False, latent_shift=latent_shift,
                               dtype="float64")
  params = layer.made(x).numpy()
  return layer, params[..., 0], soft_clip(tf.constant(params[..., 1])).numpy()


def test_latent_shift_is_x_times_exp_a_plus_b():
  x = tf.constant(np.random.default_rng(0).normal(size=(5, 3)))
  layer, b, a = _layer_and_made_output(True, x)
  bijector = layer.bijector()
  np.testing.assert_allclose(bijector.inverse(x), x.numpy() * np.exp(a) + b, rtol=1e-10)
  np.testing.assert_allclose(bijector.inverse_log_det_jacobian(x, event_ndims=1),
                             a.sum(axis=-1), rtol=1e-10)
  np.testing.assert_allclose(bijector.forward(bijector.inverse(x)), x, atol=1e-10)


def test_the_old_form_shifts_in_data_units():
  x = tf.constant(np.random.default_rng(0).normal(size=(5, 3)))
  layer, mu, alpha = _layer_and_made_output(False, x)
  np.testing.assert_allclose(layer.bijector().inverse(x), (x.numpy() - mu) * np.exp(-alpha),
                             rtol=1e-10)


def test_configs_saved_before_the_option_reload_with_the_old_form():
  layer_config = MaskedAutoregressive(3, hidden_units=(8,)).get_config()
  assert layer_config.pop("latent_shift") is True
  assert MaskedAutoregressive.from_config(layer_config).latent_shift is False
  model_config = MAF(3, num_blocks=2, hidden_units=(8,)).get_config()
  assert model_config.pop("latent_shift") is True
  old = MAF.from_config(model_config)
  assert old.latent_shift is False and not any(b.latent_shift for b in old.blocks)
  assert all(b.latent_shift for b in MAF(3, num_blocks=2, hidden_units=(8,)).blocks)
