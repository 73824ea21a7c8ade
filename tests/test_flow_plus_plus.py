"""FlowPlusPlus end to end on tiny random integer images.

The generic coupling checks run through the registry
(`tests/cases/flowpp_image.py`); the dequantiser's in
`tests/test_variational_dequantizer.py`.
"""
import json
import zipfile

import keras
import numpy as np
import pytest

from tfp_ldu.flows.flow_plus_plus import FlowPlusPlus
from tfp_ldu.layers.uniform_dequantizer import UniformDequantizer
from tfp_ldu.layers.variational_dequantizer import VariationalDequantizer

SHAPE, LEVELS = (4, 4, 1), 4
TINY = dict(num_components=2, filters=4, conditioner_blocks=1, num_heads=2, dropout=0.0,
            num_couplings=(1, 1, 1), num_levels=LEVELS,
            dequantizer_options=dict(num_couplings=1, filters=4, conditioner_blocks=1,
                                     num_components=2, num_heads=2, attention=False,
                                     context_filters=4, num_context_blocks=1))


def images(n=64, seed=0):
  return np.random.default_rng(seed).integers(0, LEVELS, size=(n, *SHAPE)).astype("float32")


@pytest.fixture(scope="module")
def trained():
  """A variational FlowPlusPlus with attention, fitted 2 epochs with XLA.

  One coupling (a checkerboard at full resolution, then the squeeze) keeps
  the XLA compilation of the training step short: it is most of the time,
  and a second coupling doubled it.  Chains of couplings on both sides of
  the squeeze train, sample and invert in tests/test_flow_registry.py.
  """
  keras.utils.set_random_seed(0)
  model = FlowPlusPlus(SHAPE, attention=True, seed=0, **{**TINY, "num_couplings": (1, 0, 0)})
  model.compile(keras.optimizers.Adam(1e-2), jit_compile=True)
  history = model.fit(images(), batch_size=16, epochs=2, verbose=0)
  return model, history.history["loss"]


def test_fit_with_xla_lowers_a_finite_loss(trained):
  model, losses = trained
  assert isinstance(model.dequantizer, VariationalDequantizer)
  assert not model.needs_initialization
  assert np.all(np.isfinite(losses)) and losses[1] < losses[0]
  assert model.latent_shape == (2, 2, 4)


def test_sample_shape_and_round_trip(trained):
  model, _ = trained
  result = model.sample_with_diagnostics(3, seed=1)
  assert result["samples"].shape == (3, *SHAPE)
  assert result["latents"].shape == (3, 2, 2, 4)
  assert int(result["num_unconverged"]) == 0
  assert float(model.sampling_residual(result)) < 1e-3


def test_uniform_dequantization_trains_too():
  keras.utils.set_random_seed(1)
  model = FlowPlusPlus(SHAPE, dequantization="uniform", attention=False, seed=1,
                       **{**TINY, "num_couplings": (1, 0, 0)})
  assert isinstance(model.dequantizer, UniformDequantizer)
  # Graph mode: the XLA path is covered by the variational model above.
  model.compile(keras.optimizers.Adam(1e-2))
  losses = model.fit(images(seed=1), batch_size=16, epochs=2, verbose=0).history["loss"]
  assert np.all(np.isfinite(losses)) and losses[1] < losses[0]


def _without_dequantizer_context_size(path):
  """Rewrites a saved .keras file's config as a conditional Flow++ saved before
  its dequantiser read contexts (no `context_size` among its options)."""
  with zipfile.ZipFile(path) as archive:
    files = {name: archive.read(name) for name in archive.namelist()}
  config = json.loads(files["config.json"])
  del config["config"]["dequantizer_options"]["context_size"]
  files["config.json"] = json.dumps(config).encode()
  with zipfile.ZipFile(path, "w") as archive:
    for name, content in files.items():
      archive.writestr(name, content)


def test_conditional_models_reload_with_the_dequantizer_they_were_saved_with(tmp_path):
  """q(u | x, c) saves its context size; a conditional model saved before
  (q(u | x), no such key) reloads as it was."""
  keras.utils.set_random_seed(0)
  x = images(8)
  c = np.random.default_rng(1).normal(size=(8, 2)).astype("float32")
  y = (x + 0.5) / LEVELS
  for context_size in (2, 0):  # Today's q(u | x, c), and the older q(u | x).
    options = {**TINY["dequantizer_options"], "context_size": context_size}
    model = FlowPlusPlus(SHAPE, attention=False, seed=0, context_shape=(2,),
                         **{**TINY, "num_couplings": (1, 0, 0), "dequantizer_options": options})
    model.initialize({"x": x, "context": c})
    assert model.dequantizer.context_size == context_size
    path = str(tmp_path / f"flowpp_{context_size}.keras")
    model.save(path)
    if context_size == 0:
      _without_dequantizer_context_size(path)
    reloaded = keras.models.load_model(path)
    assert reloaded.dequantizer.context_size == context_size
    np.testing.assert_allclose(reloaded.log_prob(y, context=c), model.log_prob(y, context=c),
                               rtol=1e-5, atol=1e-5)
    # The same dequantiser noise in both: the bound agrees too.
    for flow in (model, reloaded):
      flow.dequantizer.seed_generator.state.assign([0, 0])
    np.testing.assert_allclose(reloaded.dequantize(x, context=c)[1],
                               model.dequantize(x, context=c)[1], rtol=1e-5, atol=1e-5)


def test_presets_and_arguments():
  small = FlowPlusPlus((8, 8, 1), num_levels=17, preset="small", filters=8)
  assert (small.filters, small.conditioner_blocks, small.num_components) == (8, 2, 4)
  assert small.dequantizer.num_couplings == 2
  with pytest.raises(ValueError, match="preset"):
    FlowPlusPlus(SHAPE, preset="huge")
  with pytest.raises(ValueError, match="dequantization"):
    FlowPlusPlus(SHAPE, dequantization="none")
  with pytest.raises(ValueError, match="even"):
    FlowPlusPlus((5, 4, 1))
