"""Registry cases for `MaskedAutoregressive`: MAF's affine and NSF's spline transformer.

The MADE's default initialisation already gives non-trivial shifts and
log-scales; the "steep" case scales its output weights up so the log-scales
reach several units (exp(alpha) from about e^-4 to e^4: extreme but valid).
The spline cases scale the outputs too (uneven bins, slopes far from 1), and
their data (std 2 on [-2, 2]) cover the interval's inside, its edges and the
identity tails; the large-input check goes to |x| = 1e3, far in the tails.
The conditional cases take a context of C features at every MADE layer; the
univariate one (D = 1) has no path from x to the transform at all, so only
the context can move it (the case flowjax #147 got wrong).  The inverted
cases are IAF's direction: the D-pass solve is the data -> latent map.
"""
import keras
import numpy as np

from tests.registry import BijectorCase
from tfp_ldu.layers import MaskedAutoregressive


def make_maf(seed, output_gain=1.0, reverse=True, event_size=4, context_size=0,
             **transformer):
  keras.utils.set_random_seed(seed)
  layer = MaskedAutoregressive(event_size, hidden_units=(16,), activation="tanh",
                               reverse=reverse, context_size=context_size, dtype="float64",
                               **transformer)
  made = layer.made
  kernel = made.trainable_weights[-3 if context_size else -2]
  kernel.assign(output_gain * kernel.numpy())
  if context_size:  # The output projection starts at zero: give it a value.
    made.trainable_weights[-1].assign(
        0.3 * np.random.default_rng(seed).normal(size=made.trainable_weights[-1].shape))
  return layer


CASES = [
    BijectorCase("masked_autoregressive", lambda: make_maf(0), event_size=4),
    BijectorCase("masked_autoregressive_unreversed", lambda: make_maf(1, reverse=False),
                 event_size=4),
    BijectorCase("masked_autoregressive_steep", lambda: make_maf(2, output_gain=6.0),
                 event_size=4, data_scale=0.5, large_input=20.0, round_trip_atol=1e-5),
    BijectorCase("masked_autoregressive_spline",
                 lambda: make_maf(3, output_gain=3.0, transformer="spline", num_bins=5,
                                  bound=2.0), event_size=4, data_scale=2.0),
    BijectorCase("masked_autoregressive_spline_steep",
                 lambda: make_maf(4, output_gain=8.0, transformer="spline", num_bins=8,
                                  bound=1.0, reverse=False), event_size=4, data_scale=1.5,
                 round_trip_atol=1e-5),
    BijectorCase("masked_autoregressive_conditional",
                 lambda: make_maf(5, context_size=2), event_size=4, context_size=2),
    BijectorCase("masked_autoregressive_conditional_univariate",
                 lambda: make_maf(6, event_size=1, context_size=3), event_size=1,
                 context_size=3, dead_weights=("made/kernel_0",)),
    BijectorCase("masked_autoregressive_inverted",
                 lambda: make_maf(7, output_gain=2.0, inverted=True), event_size=4),
    BijectorCase("masked_autoregressive_inverted_conditional",
                 lambda: make_maf(8, event_size=3, context_size=2, inverted=True),
                 event_size=3, context_size=2),
]
