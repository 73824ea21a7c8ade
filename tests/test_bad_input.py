"""Bad input gets a clear error naming what was expected and what was received."""
import numpy as np
import pytest
import tensorflow as tf

from tfp_ldu.flows import LDUFlow
from tfp_ldu.bijectors import LDU, Sinusoidal, TriangularShift


def sinusoidal_parameters(d=3, k=4):
  return dict(in_scale=tf.ones([d, k]), in_shift=tf.zeros([d, k]),
              mix_weights=tf.fill([d, k], 1.0 / k), out_shift=tf.zeros([d]),
              residual_scale=tf.fill([d], 0.5))


@pytest.mark.parametrize("name, shape, pattern", [
    ("in_shift", [3, 5], r"`in_shift` must have shape \[\.\.\., 3, 4\]; received shape \[3, 5\]"),
    ("mix_weights", [2, 4], r"`mix_weights` must have shape \[\.\.\., 3, 4\]; received shape \[2, 4\]"),
    ("out_shift", [4], r"`out_shift` must have shape \[\.\.\., 3\]; received shape \[4\]"),
    ("residual_scale", [], r"`residual_scale` must have shape \[\.\.\., 3\]; received shape \[\]"),
])
def test_sinusoidal_parameter_shapes(name, shape, pattern):
  params = sinusoidal_parameters()
  params[name] = tf.zeros(shape)
  with pytest.raises(ValueError, match=pattern):
    Sinusoidal(**params)


def test_sinusoidal_in_scale_needs_two_dims():
  params = sinusoidal_parameters()
  params["in_scale"] = tf.ones([3])
  with pytest.raises(ValueError, match=r"`in_scale` must have shape \[\.\.\., D, K\]"):
    Sinusoidal(**params)


@pytest.mark.parametrize("name, value, pattern", [
    ("in_scale", -np.ones([3, 4], np.float32), "`in_scale` must be positive"),
    ("mix_weights", np.full([3, 4], 0.3, np.float32), "`mix_weights` must sum to 1"),
    ("mix_weights", np.tile([[1.5, -0.5, 0., 0.]], [3, 1]).astype(np.float32),
     "`mix_weights` must be non-negative"),
    ("residual_scale", np.full([3], 1.0, np.float32), r"`residual_scale` must satisfy \|r\| < 1"),
])
def test_sinusoidal_constraints_with_validate_args(name, value, pattern):
  params = sinusoidal_parameters()
  params[name] = tf.constant(value)
  with pytest.raises(tf.errors.InvalidArgumentError, match=pattern):
    Sinusoidal(**params, validate_args=True)
  Sinusoidal(**params)  # Without validate_args construction is cheap and unchecked.


@pytest.mark.parametrize("method", ["inverse", "forward"])
def test_sinusoidal_wrong_event_size(method):
  bij = Sinusoidal(**sinusoidal_parameters())
  with pytest.raises(ValueError, match=r"expected input of shape \[\.\.\., 3\].*received shape \[2, 5\]"):
    getattr(bij, method)(tf.zeros([2, 5]))


def test_triangular_shift_wrong_event_size_and_bad_shift_fn():
  shift = TriangularShift(lambda x: 0.1 * x, event_size=3)
  with pytest.raises(ValueError, match=r"\[\.\.\., 3\].*\[4, 2\]"):
    shift.inverse(tf.zeros([4, 2]))
  bad = TriangularShift(lambda x: x[..., :1])
  with pytest.raises(ValueError, match="shift_fn must map"):
    bad.inverse(tf.zeros([4, 2]))


def test_ldu_needs_a_d_scale():
  with pytest.raises(ValueError, match="at least one"):
    LDU(lambda x: 0 * x, [], lambda x: 0 * x)


def test_model_rejects_wrong_data_shape():
  model = LDUFlow(3, num_blocks=1, num_d_scales=1, hidden_units=(4,))
  with pytest.raises(ValueError, match=r"expected data of shape \[N, 3\]; received shape \[5, 2\]"):
    model.log_prob(np.zeros([5, 2], np.float32))
  with pytest.raises(ValueError, match=r"\[N, 3\]; received shape \[3\]"):
    model.log_prob(np.zeros([3], np.float32))
