"""Registry case for MAF's batch normalisation (evaluation mode: moving statistics)."""
import numpy as np

from tests.registry import BijectorCase
from tfp_ldu.layers.batch_normalization import BatchNormalization


def make_batch_normalization():
  layer = BatchNormalization(4, dtype="float64")
  rng = np.random.default_rng(7)
  layer.log_gamma.assign(0.5 * rng.normal(size=4))
  layer.beta.assign(rng.normal(size=4))
  layer.moving_mean.assign(rng.normal(size=4))
  layer.moving_variance.assign(rng.uniform(0.2, 3.0, size=4))
  return layer


CASES = [
    BijectorCase("batch_normalization", make_batch_normalization, event_size=4,
                 data_scale=2.0),
]
