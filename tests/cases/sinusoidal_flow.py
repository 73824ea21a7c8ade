"""Registry cases for the Sinusoidal Flow bijectors: Sinusoidal, TriangularShift, LDU."""
import numpy as np

from tests.registry import BijectorCase
from tfp_ldu.layers import LDUBlock, MADEShift, SinusoidalParameters
from tfp_ldu.testing import randomise_d_scale


def make_sinusoidal(solver="newton"):
  layer = SinusoidalParameters(3, num_components=4, solver=solver, dtype="float64")
  randomise_d_scale(layer, np.random.default_rng(1))
  return layer


# Smooth activations: with ReLU a zero-initialised bias behind dead units sits
# exactly on a kink, where finite differences and autodiff rightly disagree.
def make_lower_shift():
  return MADEShift(4, hidden_units=(16, 16), upper=False, activation="tanh", dtype="float64")


def make_upper_shift():
  return MADEShift(4, hidden_units=(16, 16), upper=True, activation="tanh", dtype="float64")


def make_ldu_block():
  block = LDUBlock(4, num_d_scales=2, num_components=3, hidden_units=(16, 16),
                   activation="tanh", dtype="float64")
  rng = np.random.default_rng(2)
  for d_scale in block.d_scales:
    randomise_d_scale(d_scale, rng)
  return block


def make_pixelcnn_ldu_block(context_size=0):
  """An LDU block on 2x3x2 images: PixelCNN shifts over flat NHWC rows (conditional ones
  with a context: their projections and the D-scales' start at zero, then get perturbed)."""
  block = LDUBlock(12, num_d_scales=2, num_components=3, image_shape=(2, 3, 2), filters=4,
                   num_residual_blocks=1, context_size=context_size, dtype="float64")
  rng = np.random.default_rng(3)
  for d_scale in block.d_scales:
    randomise_d_scale(d_scale, rng)
  for shift in (block.lower_shift, block.upper_shift):  # Away from the zero start.
    for weight in shift.trainable_weights:
      weight.assign(weight + 0.2 * rng.normal(size=weight.shape))
  return block


CASES = [
    BijectorCase("sinusoidal", make_sinusoidal, event_size=3, data_scale=2.0),
    BijectorCase("sinusoidal_fixed_point", lambda: make_sinusoidal("fixed_point"),
                 event_size=3, data_scale=2.0),
    BijectorCase("lower_triangular_shift", make_lower_shift, event_size=4),
    BijectorCase("upper_triangular_shift", make_upper_shift, event_size=4),
    BijectorCase("ldu_block", make_ldu_block, event_size=4),
    BijectorCase("ldu_block_pixelcnn", make_pixelcnn_ldu_block, event_size=12),
    BijectorCase("ldu_block_pixelcnn_conditional", lambda: make_pixelcnn_ldu_block(2),
                 event_size=12, context_size=2),
]
