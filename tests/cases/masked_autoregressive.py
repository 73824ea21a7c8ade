"""Registry cases for MAF's layer (`MaskedAutoregressive`: a TFP MAF on this library's MADE).

The MADE's default initialisation already gives non-trivial shifts and
log-scales; the "steep" case scales its output weights up so the log-scales
reach several units (exp(alpha) from about e^-4 to e^4: extreme but valid).
"""
import keras

from tests.registry import BijectorCase
from tfp_ldu.layers import MaskedAutoregressive


def make_maf(seed, output_gain=1.0, reverse=True):
  keras.utils.set_random_seed(seed)
  layer = MaskedAutoregressive(4, hidden_units=(16,), activation="tanh", reverse=reverse,
                               dtype="float64")
  kernel = layer.made.trainable_weights[-2]
  kernel.assign(output_gain * kernel.numpy())
  return layer


CASES = [
    BijectorCase("masked_autoregressive", lambda: make_maf(0), event_size=4),
    BijectorCase("masked_autoregressive_unreversed", lambda: make_maf(1, reverse=False),
                 event_size=4),
    BijectorCase("masked_autoregressive_steep", lambda: make_maf(2, output_gain=6.0),
                 event_size=4, data_scale=0.5, large_input=20.0, round_trip_atol=1e-5),
]
