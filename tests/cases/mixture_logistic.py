"""Registry cases for the Flow++ bijectors: MixtureLogisticCDF and its coupling.

The solves use `tolerance=1e-14`: the registry differentiates `forward` by
central differences with step 1e-6, which needs roots accurate to ~1e-14
(bisection stops at the tolerance; the default 1e-10 would put 1e-4 of noise
into the difference quotient).
"""
import keras
import numpy as np
import tensorflow as tf

from tests.registry import BijectorCase
from tfp_ldu.bijectors import MixtureLogisticCDF
from tfp_ldu.layers import MixtureLogisticCouplingLayer

SOLVE_TOLERANCE = 1e-14


class RandomMixtureLogisticCDF(keras.layers.Layer):
  """Owns random `[D, K]` / `[D]` parameters of a `MixtureLogisticCDF`."""

  def __init__(self, event_size, num_mixtures, seed, **kwargs):
    super().__init__(**kwargs)
    rng = np.random.default_rng(seed)
    d, k = event_size, num_mixtures
    weight = lambda name, value: self.add_weight(
        shape=value.shape, initializer=keras.initializers.Constant(value), name=name)
    self.logits = weight("logits", rng.normal(size=(d, k)))
    self.locs = weight("locs", 1.5 * rng.normal(size=(d, k)))
    self.log_scales = weight("log_scales", rng.uniform(-1.5, 0.5, size=(d, k)))
    self.log_a = weight("log_a", 0.3 * rng.normal(size=d))
    self.b = weight("b", 0.5 * rng.normal(size=d))
    self.built = True

  def bijector(self):
    """A fresh bijector over the current weights (read as tensors)."""
    read = tf.convert_to_tensor
    return MixtureLogisticCDF(read(self.logits), read(self.locs), read(self.log_scales),
                              read(self.log_a), read(self.b), tolerance=SOLVE_TOLERANCE)


def make_mixture_logistic_cdf():
  return RandomMixtureLogisticCDF(3, 4, seed=5, dtype="float64")


def make_mixture_logistic_coupling(context_size=0):
  """A coupling with an interleaved mask and its network's head made non-trivial."""
  layer = MixtureLogisticCouplingLayer(
      4, transform_mask=[True, False, True, False], num_components=3, hidden_units=(16,),
      tolerance=SOLVE_TOLERANCE, context_size=context_size, dtype="float64")
  rng = np.random.default_rng(6)
  head = layer.conditioner.head
  head.kernel.assign(0.3 * rng.normal(size=head.kernel.shape))
  head.bias.assign(rng.normal(size=head.bias.shape))
  return layer


CASES = [
    BijectorCase("mixture_logistic_cdf", make_mixture_logistic_cdf, event_size=3,
                 data_scale=2.0, large_input=1e4,
                 library_layer=False),
    BijectorCase("mixture_logistic_coupling", make_mixture_logistic_coupling,
                 event_size=4, data_scale=2.0, large_input=1e4),
    BijectorCase("mixture_logistic_coupling_conditional",
                 lambda: make_mixture_logistic_coupling(context_size=2),
                 event_size=4, data_scale=2.0, large_input=1e4, context_size=2),
]
