"""The layer protocol: the context slot and the shared initialisation walk."""
import numpy as np
import tensorflow as tf

from tests.cases.flowpp_image import randomise_small_layers
from tfp_ldu.bijectors.masks import checkerboard_mask
from tfp_ldu.layers import ActNorm, BijectorLayer, ImageActNorm
from tfp_ldu.layers.bijector_layer import initialize_in_order, needs_initialization
from tfp_ldu.layers.image_mixture_logistic_coupling_layer import (
    ImageMixtureLogisticCouplingLayer)

SHAPE = (2, 4, 1)


def conditional_coupling():
  layer = ImageMixtureLogisticCouplingLayer(
      SHAPE, checkerboard_mask(SHAPE, parity=0), num_components=2, filters=4, conditioner_blocks=1,
      num_heads=1, attention=False, context_channels=3, dtype="float64")
  randomise_small_layers(layer.network, seed=0)
  return layer


def test_a_conditional_layer_builds_its_bijector_for_the_context():
  layer = conditional_coupling()
  x = np.random.default_rng(0).normal(size=(4, *SHAPE))
  contexts = [np.random.default_rng(seed).normal(size=(4, 2, 4, 3)) for seed in (1, 2)]
  first, second = (layer.bijector(False, context=c).inverse(x) for c in contexts)
  assert not np.allclose(first, second)  # the context reaches the transformer
  np.testing.assert_allclose(layer.bijector(False, context=contexts[0]).inverse(x), first)
  # The layer's call takes the same context.
  np.testing.assert_allclose(layer(x, training=False, context=contexts[0]), first)


def test_unconditional_layers_take_and_ignore_a_context():
  layer = ActNorm(3, dtype="float64")
  x = np.random.default_rng(0).normal(size=(8, 3))
  layer.initialize(x)
  plain = layer.bijector(False).inverse(x)
  with_context = layer.bijector(False, context=tf.ones([8, 5], tf.float64)).inverse(x)
  np.testing.assert_allclose(with_context, plain)


def test_a_subclass_without_a_context_parameter_gets_the_slot():
  class Shift(BijectorLayer):
    def bijector(self, training=None):
      del training
      import tensorflow_probability as tfp
      return tfp.bijectors.Shift(1.0)

  assert float(Shift().bijector(context=tf.zeros([2]))(0.0)) == 1.0


def test_initialize_in_order_gives_each_layer_the_batch_it_sees_with_the_context():
  actnorm = ImageActNorm(SHAPE, per="channel", dtype="float64")
  coupling = conditional_coupling()
  after = ImageActNorm(SHAPE, per="channel", dtype="float64")
  x = 3.0 + 2.0 * np.random.default_rng(0).normal(size=(64, *SHAPE))
  context = np.random.default_rng(1).normal(size=(64, 2, 4, 3))
  assert needs_initialization(actnorm) and needs_initialization(after)
  out = initialize_in_order([actnorm, coupling, after], x, context=context)
  assert not needs_initialization(actnorm) and not needs_initialization(after)
  # The last actnorm was initialised on what the coupling produced for this context.
  np.testing.assert_allclose(np.mean(out, axis=(0, 1, 2)), 0.0, atol=1e-8)
  np.testing.assert_allclose(np.std(out, axis=(0, 1, 2)), 1.0, atol=1e-4)
