"""MADE: autoregressive structure checked through the Jacobian, not the masks."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from tfp_ldu.layers import MADEShift
from tfp_ldu.nets import MADE


def jacobian(fn, x):
  with tf.GradientTape() as tape:
    tape.watch(x)
    y = fn(x)
  return tape.batch_jacobian(y, x).numpy()


@pytest.mark.parametrize("hidden_units", [(), (7,), (9, 11)])
def test_made_output_row_i_depends_only_on_inputs_before_i(hidden_units):
  d, params = 5, 2
  made = MADE(d, hidden_units, params_per_dim=params, activation="tanh", dtype="float64")
  x = tf.constant(np.random.default_rng(0).normal(size=(3, d)))
  out = made(x)
  assert out.shape == (3, d, params)
  for p in range(params):
    jac = np.abs(jacobian(lambda v: made(v)[..., p], x))  # [N, D_out, D_in]
    assert np.all(jac[:, np.triu_indices(d)[0], np.triu_indices(d)[1]] == 0)
    # Not trivially zero: every allowed connection is used somewhere.
    strictly_lower = jac[:, np.tril_indices(d, -1)[0], np.tril_indices(d, -1)[1]]
    assert np.all(strictly_lower.max(axis=0) > 0)


@pytest.mark.parametrize("hidden_units", [(7,), (9, 11)])
@pytest.mark.parametrize("d", [1, 4])
def test_conditional_made_is_triangular_in_x_and_every_output_depends_on_c(hidden_units, d):
  """With a context: the Jacobian in x stays strictly lower triangular, and the
  Jacobian in c is non-zero for every output, the first one (all of them for
  D = 1, flowjax #147) included, and nonlinear in c."""
  params, c_size = 2, 3
  made = MADE(d, hidden_units, params_per_dim=params, activation="tanh", context_size=c_size,
              dtype="float64")
  rng = np.random.default_rng(2)
  x = tf.constant(rng.normal(size=(3, d)))
  c = tf.constant(rng.normal(size=(3, c_size)))
  made(x, context=c)  # Builds the weights; the output projection starts at zero.
  made.trainable_weights[-1].assign(0.5 * np.ones(made.trainable_weights[-1].shape))
  for p in range(params):
    jac = np.abs(jacobian(lambda v: made(v, context=c)[..., p], x))
    assert np.all(jac[:, np.triu_indices(d)[0], np.triu_indices(d)[1]] == 0)
    if d > 1:
      strictly_lower = jac[:, np.tril_indices(d, -1)[0], np.tril_indices(d, -1)[1]]
      assert np.all(strictly_lower.max(axis=0) > 0)
    jac_c = np.abs(jacobian(lambda v: made(x, context=v)[..., p], c))  # [N, D, C]
    assert np.all(jac_c.max(axis=(0, 2)) > 0)
    # Nonlinear in c: the Jacobian in c differs between contexts (hidden units see c).
    assert np.max(np.abs(np.diff(jac_c, axis=0))) > 1e-6
  with pytest.raises(ValueError, match="needs a context"):
    made(x)
  with pytest.raises(ValueError, match="unconditional"):
    MADE(d, hidden_units)(x, context=c)


def test_upper_shift_is_strictly_upper_triangular():
  d = 4
  shift = MADEShift(d, (8, 8), upper=True, activation="tanh", dtype="float64")
  x = tf.constant(np.random.default_rng(1).normal(size=(6, d)))
  jac = np.abs(jacobian(shift.shift, x))
  assert np.all(jac[:, np.tril_indices(d)[0], np.tril_indices(d)[1]] == 0)
  assert np.all(jac[:, np.triu_indices(d, 1)[0], np.triu_indices(d, 1)[1]].max(axis=0) > 0)


def test_made_rejects_wrong_input_size_and_bad_dropout():
  made = MADE(3, (8,))
  with pytest.raises(ValueError, match=r"\[\.\.\., 3\].*\[2, 4\]"):
    made(tf.zeros([2, 4]))
  with pytest.raises(ValueError, match="dropout"):
    MADE(3, (8,), dropout=1.5)


def test_made_takes_standard_layer_kwargs_and_round_trips_its_config():
  made = MADE(3, (8, 8), params_per_dim=2, dropout=0.1, name="net", dtype="float64")
  clone = MADE.from_config(made.get_config())
  assert clone.name == "net" and clone.dtype == "float64"
  assert clone.hidden_units == (8, 8) and clone.params_per_dim == 2 and clone.dropout == 0.1


def test_default_initialisation_is_uniform_in_one_over_sqrt_fan_in():
  """Pins the default chosen with bench/parity.py: PyTorch nn.Linear's U(+-1/sqrt(fan_in))
  for kernels *and* biases (glorot kernels with zero biases generalised worse)."""
  keras.utils.set_random_seed(0)
  made = MADE(6, hidden_units=(200, 300), params_per_dim=2)
  made.build((None, 6))
  fan_ins = [6, 200, 300]
  for index, fan_in in enumerate(fan_ins):
    limit = 1.0 / np.sqrt(fan_in)
    for name in (f"kernel_{index}", f"bias_{index}"):
      values = next(w for w in made.weights if w.name == name).numpy()
      assert np.all(np.abs(values) <= limit + 1e-7), name
      if values.size < 100:  # bias_2 has 12 values: too few for the spread checks.
        continue
      # Uniform on the whole interval: spread out to near its ends, mean ~ 0.
      assert np.max(np.abs(values)) > 0.9 * limit, name
      assert np.std(values) == pytest.approx(limit / np.sqrt(3.0), rel=0.35), name
  config = made.get_config()
  assert config["kernel_initializer"] is None and config["bias_initializer"] is None
  glorot = MADE(6, hidden_units=(8,), kernel_initializer="glorot_uniform",
                bias_initializer="zeros")
  glorot.build((None, 6))
  assert not np.any(next(w for w in glorot.weights if w.name == "bias_0").numpy())
  assert MADE.from_config(glorot.get_config()).bias_initializer is not None
