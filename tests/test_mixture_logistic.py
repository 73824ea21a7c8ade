"""Flow++ mixture-logistic bijectors: tails, bisection accuracy, coupling, errors, fit.

The generic checks (round trip, log-det, eager/graph/XLA, gradients) run
through the registry (`tests/cases/mixture_logistic.py`); these are the ones
specific to the mixture-of-logistics CDF and its coupling.
"""
import decimal
from decimal import Decimal

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfp_ldu.flows import MixtureLogisticCouplingFlow
from tfp_ldu.bijectors import MixtureLogisticCDF, MixtureLogisticCoupling
from tfp_ldu.layers import MixtureLogisticCouplingLayer
from tfp_ldu.solvers import ConvergenceError

# 50 digits and an exponent range wide enough for exp(-1e7) (far-tail sigmoids).
HIGH_PRECISION = decimal.Context(prec=50, Emax=10**9, Emin=-10**9)


def tail_parameters(seed=0, d=4, k=4):
  """Random parameters whose first component per dimension sits below the clamp."""
  rng = np.random.default_rng(seed)
  log_scales = rng.uniform(-1.5, 2.0, size=(d, k))
  log_scales[:, 0] = -30.0
  return dict(logits=rng.normal(size=(d, k)), locs=1.5 * rng.normal(size=(d, k)),
              log_scales=log_scales, log_a=0.3 * rng.normal(size=d),
              b=0.5 * rng.normal(size=d))


def reference_inverse(parameters, x, i):
  """z and log dz/dx of dimension i at x, in 50-digit decimal arithmetic."""
  with decimal.localcontext(HIGH_PRECISION):
    exp = lambda v: Decimal(v).exp()
    logits = [Decimal(v) for v in parameters["logits"][i]]
    weights = [exp(v) / sum(exp(u) for u in logits) for v in logits]
    log_scales = [max(Decimal(s), Decimal(-7)) for s in parameters["log_scales"][i]]
    t = [(Decimal(x) - Decimal(m)) * exp(-s)
         for m, s in zip(parameters["locs"][i], log_scales)]
    cdf = sum(w / (1 + exp(-tk)) for w, tk in zip(weights, t))
    survival = sum(w / (1 + exp(tk)) for w, tk in zip(weights, t))
    density = sum(w * exp(-s) / ((1 + exp(-tk)) * (1 + exp(tk)))
                  for w, s, tk in zip(weights, log_scales, t))
    a, b = Decimal(parameters["log_a"][i]), Decimal(parameters["b"][i])
    z = (cdf.ln() - survival.ln()) * exp(a) + b
    return z, density.ln() - cdf.ln() - survival.ln() + a


def reference_root(parameters, z, i, lower=-1e5, upper=1e5):
  """x with inverse(x) = z in dimension i, by 120 decimal bisection steps."""
  with decimal.localcontext(HIGH_PRECISION):
    lower, upper, z = Decimal(lower), Decimal(upper), Decimal(z)
    for _ in range(120):
      middle = (lower + upper) / 2
      if reference_inverse(parameters, middle, i)[0] < z:
        lower = middle
      else:
        upper = middle
    return float((lower + upper) / 2)


def test_inverse_and_log_det_are_accurate_for_huge_inputs_and_clamped_scales():
  parameters = tail_parameters()
  bijector = MixtureLogisticCDF(**parameters)
  x = np.array([[-1e4, -3e3, 1e3, 1e4], [1e4, 1e3, -1e3, -1e4], [0.5, -2.0, 3.0, 0.0]])
  z = bijector.inverse(tf.constant(x)).numpy()
  ildj = bijector.inverse_log_det_jacobian(tf.constant(x), event_ndims=1).numpy()
  assert np.all(np.isfinite(z)) and np.all(np.isfinite(ildj))
  for n in range(x.shape[0]):
    expected_ildj = 0
    for i in range(x.shape[1]):
      expected_z, expected_log_derivative = reference_inverse(parameters, x[n, i], i)
      assert z[n, i] == pytest.approx(float(expected_z), rel=1e-12, abs=1e-12)
      expected_ildj += expected_log_derivative
    assert ildj[n] == pytest.approx(float(expected_ildj), rel=1e-10, abs=1e-10)
  # The first component's log-scale (-30) is clamped to -7: same map as at -7.
  at_clamp = dict(parameters, log_scales=np.maximum(parameters["log_scales"], -7.0))
  np.testing.assert_array_equal(MixtureLogisticCDF(**at_clamp).inverse(tf.constant(x)), z)


def test_bisection_is_accurate_for_latents_in_the_far_tails():
  parameters = tail_parameters(seed=1)
  bijector = MixtureLogisticCDF(**parameters)  # default tolerance and num_halvings
  z = np.array([[30.0, -30.0, 20.0, -20.0], [-30.0, 30.0, -20.0, 20.0]])
  solved = bijector.solve_forward(tf.constant(z))
  assert int(solved.num_unconverged) == 0
  assert int(solved.num_iterations) <= 64
  x = solved.value.numpy()
  for n in range(z.shape[0]):
    for i in range(z.shape[1]):
      assert abs(x[n, i] - reference_root(parameters, z[n, i], i)) < 1e-6
  np.testing.assert_allclose(bijector.inverse(tf.identity(solved.value)), z, rtol=0,
                             atol=1e-6)


def test_too_few_halvings_is_reported_not_returned():
  bijector = MixtureLogisticCDF(**tail_parameters(), num_halvings=10)
  with pytest.raises(ConvergenceError, match="MixtureLogisticCDF.forward"):
    bijector.forward(tf.constant([[30.0, -30.0, 2.0, 0.1]], tf.float64))


def random_coupling_layer():
  """5-D coupling, interleaved mask, its network's head made non-trivial."""
  layer = MixtureLogisticCouplingLayer(5, transform_mask=[False, True, True, False, True],
                                       num_components=3, hidden_units=(16,), dtype="float64")
  head = layer.conditioner.head
  head.kernel.assign(0.3 * np.random.default_rng(7).normal(size=head.kernel.shape))
  return layer


def test_coupling_pass_through_is_bit_identical():
  layer = random_coupling_layer()
  pass_through = ~layer.transform_mask
  magnitudes = 10.0 ** np.arange(-2, 3)  # one column per order of magnitude
  x = tf.constant(np.random.default_rng(8).normal(scale=3.0, size=(64, 5)) * magnitudes)
  bijector = layer.bijector()
  z = bijector.inverse(x)
  z_xla = tf.function(lambda v: layer.bijector().inverse(v), jit_compile=True)(x)
  x_back = bijector.forward(tf.identity(z))
  assert np.array_equal(z.numpy()[:, pass_through], x.numpy()[:, pass_through])
  assert np.array_equal(z_xla.numpy()[:, pass_through], x.numpy()[:, pass_through])
  assert np.array_equal(x_back.numpy()[:, pass_through], x.numpy()[:, pass_through])
  assert not np.allclose(z.numpy()[:, ~pass_through], x.numpy()[:, ~pass_through])


def test_conditioner_runs_once_per_log_prob():
  """inverse and its log-det share one conditioner pass (one dropout mask)."""
  layer = random_coupling_layer()
  calls = []

  def counting_conditioner(pass_through):
    calls.append(1)
    return layer.mixture_parameters(pass_through)

  bijector = MixtureLogisticCoupling(counting_conditioner, layer.transform_mask)
  x = tf.constant(np.random.default_rng(9).normal(size=(8, 5)))
  bijector.inverse(x)
  bijector.inverse_log_det_jacobian(x, event_ndims=1)
  assert len(calls) == 1


def test_shape_and_constraint_errors():
  p = tail_parameters(d=3, k=4)
  with pytest.raises(ValueError, match=r"`locs` must have shape \[\.\.\., 3, 4\]; "
                                       r"received shape \[3, 5\]"):
    MixtureLogisticCDF(**dict(p, locs=np.zeros((3, 5))))
  with pytest.raises(ValueError, match=r"`log_a` must have shape \[\.\.\., 3\]; "
                                       r"received shape \[2\]"):
    MixtureLogisticCDF(**dict(p, log_a=np.zeros(2)))
  with pytest.raises(ValueError, match=r"`logits` must have shape \[\.\.\., D, K\]"):
    MixtureLogisticCDF(**dict(p, logits=np.zeros(4)))
  with pytest.raises(ValueError, match="num_halvings must be a positive Python int"):
    MixtureLogisticCDF(**p, num_halvings=0)
  with pytest.raises(ValueError, match=r"expected input of shape \[\.\.\., 3\]"):
    MixtureLogisticCDF(**p).inverse(tf.zeros([2, 4], tf.float64))
  with pytest.raises(tf.errors.InvalidArgumentError, match="`locs` must be finite"):
    MixtureLogisticCDF(**dict(p, locs=np.full((3, 4), np.nan)), validate_args=True)
  with pytest.raises(ValueError, match="at least one transformed"):
    MixtureLogisticCoupling(lambda v: None, [True, True])
  with pytest.raises(ValueError, match="transform_mask must be 3 bools"):
    MixtureLogisticCouplingLayer(3, transform_mask=[True, False])
  two_rows = lambda pass_through: (tf.zeros([2, 2, 4], tf.float64),) * 3 + (
      tf.zeros([2, 2], tf.float64),) * 2
  with pytest.raises(ValueError, match=r"`logits` must have shape \[\.\.\., 3, \?\]; "
                                       r"received shape \[2, 2, 4\]"):
    MixtureLogisticCoupling(two_rows, [True, False, True, True]).inverse(
        tf.zeros([2, 4], tf.float64))
  with pytest.raises(ValueError, match="must return the 5 tensors"):
    MixtureLogisticCoupling(lambda v: (v, v), [True, False]).inverse(
        tf.zeros([2, 2], tf.float64))
  with pytest.raises(ValueError, match="event_size >= 2"):
    MixtureLogisticCouplingFlow(1)
  with pytest.raises(ValueError, match="num_d_scales"):
    MixtureLogisticCouplingFlow(2, num_d_scales=4)  # an LDU option is not ignored


def test_couplings_alternate_their_masks():
  model = MixtureLogisticCouplingFlow(3, num_couplings=3, num_components=2,
                                      hidden_units=(8, 8), dropout=0.1)
  assert model.num_couplings == 3 and len(model.couplings) == 3
  masks = np.array([c.transform_mask for c in model.couplings])
  assert np.all(masks.any(axis=0))  # every dimension is transformed somewhere
  assert not np.array_equal(masks[0], masks[1])


def two_moons(n, rng):
  angle = rng.uniform(0, np.pi, n)
  upper = rng.uniform(size=n) < 0.5
  x = np.where(upper, np.cos(angle), 1 - np.cos(angle))
  y = np.where(upper, np.sin(angle), 0.5 - np.sin(angle))
  return (np.stack([x, y], -1) + 0.08 * rng.normal(size=(n, 2))).astype("float32")


def test_toy_fit_beats_a_gaussian():
  keras.utils.set_random_seed(0)
  data = two_moons(2048, np.random.default_rng(0))
  covariance = np.cov(data.T.astype(np.float64), bias=True)
  gaussian_nll = 0.5 * np.linalg.slogdet(2 * np.pi * np.e * covariance)[1]
  # Two couplings transform both dimensions; more only add compile time here.
  model = MixtureLogisticCouplingFlow(2, num_couplings=2, num_components=4,
                                      hidden_units=(32,))
  model.compile(optimizer=keras.optimizers.Adam(3e-3), jit_compile=True)
  initial = [w.numpy().copy() for w in model.trainable_weights]
  model.fit(data, batch_size=256, epochs=40, verbose=0)  # 320 steps of full batches
  for before, weight in zip(initial, model.trainable_weights):
    assert not np.array_equal(before, weight.numpy()), weight.path
  nll = -float(tf.reduce_mean(model.log_prob(data)))
  print(f"toy fit NLL {nll:.4f} vs Gaussian NLL {gaussian_nll:.4f}")
  assert nll < gaussian_nll - 0.3
  diagnostics = model.sample_with_diagnostics(256, seed=1)
  assert int(diagnostics["num_unconverged"]) == 0
  assert np.all(np.isfinite(diagnostics["samples"]))


def test_logit_preprocessing_comes_once_and_first():
  """With `logit_alpha`, the flow starts with one logit layer (not one per coupling)."""
  from tfp_ldu.layers import LogitPreprocessing
  flow = MixtureLogisticCouplingFlow(4, num_couplings=3, hidden_units=(8,), logit_alpha=0.05)
  logits = [i for i, layer in enumerate(flow.flow_layers)
            if isinstance(layer, LogitPreprocessing)]
  assert logits == [0]
  assert len(flow.flow_layers) == 1 + 1 + 1 + 2 * 3  # logit, flatten, actnorm, 3 pairs
  y = np.random.default_rng(0).uniform(0.01, 0.99, size=(5, 4)).astype("float32")
  assert np.all(np.isfinite(flow.log_prob(y).numpy()))
