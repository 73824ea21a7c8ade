"""Mixed precision: bfloat16 conditioner networks, float32 everything else."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from tfp_ldu.flows import Glow
from tfp_ldu.flows import LDUFlow
from tfp_ldu.flows import MAF
from tfp_ldu.flows import MixtureLogisticCouplingFlow
from tfp_ldu.flows import NAF
from tfp_ldu.flows import RealNVP
from tfp_ldu.layers.precision import FlowDTypePolicy
from tfp_ldu.layers.precision import conditioner_policy
from tfp_ldu.layers.precision import flow_dtype_policy
from tfp_ldu.layers.stacked_ldu_blocks import StackedLDUBlocks
from tfp_ldu.nets.coupling_conv_net import CouplingConvNet
from tfp_ldu.nets.gated_residual_mlp import GatedResidualMLP
from tfp_ldu.nets.made import MADE
from tfp_ldu.nets.pixelcnn import PixelCNN

NETWORKS = (MADE, PixelCNN, GatedResidualMLP, CouplingConvNet)

FLOWS = {
    "ldu": lambda **kw: LDUFlow(4, num_blocks=2, num_d_scales=1, num_components=2,
                                hidden_units=(16,), **kw),
    "ldu_unrolled": lambda **kw: LDUFlow(4, num_blocks=2, num_d_scales=1, num_components=2,
                                         hidden_units=(16,), stacked_blocks=False, **kw),
    "ldu_pixelcnn": lambda **kw: LDUFlow((4, 4, 1), num_blocks=1, num_d_scales=1,
                                         num_components=2, conditioner="pixelcnn", filters=4,
                                         num_residual_blocks=1, **kw),
    "maf": lambda **kw: MAF(4, num_blocks=2, hidden_units=(16,), **kw),
    "maf_mog": lambda **kw: MAF(4, num_blocks=1, hidden_units=(16,), base="mog",
                                num_components=2, **kw),
    "naf": lambda **kw: NAF(4, num_blocks=1, num_components=2, hidden_units=(16,), **kw),
    "flowpp": lambda **kw: MixtureLogisticCouplingFlow(4, num_couplings=2, num_components=2,
                                                       hidden_units=(16,), **kw),
    "realnvp": lambda **kw: RealNVP(4, num_blocks=2, hidden_units=(16,), **kw),
    "glow": lambda **kw: Glow((4, 4, 2), levels=2, steps_per_level=1, hidden_channels=8,
                              seed=0, **kw),
}


def _data(flow, n=64, seed=0):
  shape = (n, *flow.event_shape)
  return np.random.default_rng(seed).uniform(0.05, 0.95, size=shape).astype("float32")


def _pair(name):
  """The float32 and the mixed_bfloat16 model, built from the same seed."""
  models = []
  for dtype in ("float32", "mixed_bfloat16"):
    keras.utils.set_random_seed(3)
    models.append(FLOWS[name](dtype=dtype))
  return models


@pytest.mark.parametrize("name", sorted(FLOWS))
def test_only_the_conditioner_networks_compute_in_bfloat16(name):
  reference, flow = _pair(name)
  assert isinstance(flow.dtype_policy, FlowDTypePolicy)
  assert flow.compute_dtype == flow.variable_dtype == "float32"
  networks = []
  for layer in flow._flatten_layers(include_self=False):
    if isinstance(layer, StackedLDUBlocks):
      # Its MADE passes run under the conditioner policy, the rest in float32.
      networks.append(layer)
      assert conditioner_policy(layer.dtype_policy).compute_dtype == "bfloat16"
      assert layer.compute_dtype == "float32"
    elif isinstance(layer, NETWORKS):
      networks.append(layer)
      assert layer.compute_dtype == "bfloat16" and layer.variable_dtype == "float32"
    elif not any(layer in net._flatten_layers() for net in networks):
      # Bijector layers (D-scales, ActNorm, shifts, couplings, ...): float32.
      assert layer.compute_dtype == "float32", layer.name
  assert networks, "no conditioner network found"
  assert flow.base_distribution().dtype == tf.float32
  x = _data(flow)
  for variable, value in zip(flow.variables, reference.variables):
    variable.assign(value)  # Same weights: only the compute dtype differs.
  flow.initialize(x)
  reference.initialize(x)
  log_prob, expected = flow.log_prob(x), reference.log_prob(x)
  assert log_prob.dtype == tf.float32
  assert np.all(np.isfinite(log_prob))
  # bfloat16 networks (8-bit mantissa) move each log-density by a few 1e-3
  # nats (measured: mean 2e-3 to 4e-3, at most 0.013, flowpp 3e-4).
  np.testing.assert_allclose(log_prob, expected, atol=0.05)


def test_a_mixed_run_stays_close_to_the_float32_run():
  x = np.random.default_rng(0).normal(size=(2048, 4)).astype("float32")
  x[:, 1] += x[:, 0] ** 2
  histories = {}
  for dtype in ("float32", "mixed_bfloat16"):
    keras.utils.set_random_seed(0)
    flow = FLOWS["ldu"](dtype=dtype)
    flow.compile(keras.optimizers.Adam(3e-3), jit_compile=False)
    histories[dtype] = flow.fit(x, batch_size=128, epochs=4, shuffle=False,
                                verbose=0).history["loss"]
  f32, mixed = np.array(histories["float32"]), np.array(histories["mixed_bfloat16"])
  assert mixed[-1] < mixed[0]
  # Measured: the per-epoch mean losses (about 6.2 nats) differ by <= 2e-4 nats.
  np.testing.assert_allclose(mixed, f32, atol=5e-3)


def test_the_global_policy_and_the_dtype_argument_agree():
  previous = keras.config.dtype_policy()
  keras.config.set_dtype_policy("mixed_bfloat16")
  try:
    flow = FLOWS["ldu"]()
  finally:
    keras.config.set_dtype_policy(previous)
  assert isinstance(flow.dtype_policy, FlowDTypePolicy)
  assert flow.blocks[0].compute_dtype == "float32"  # Stacked blocks: D-scales, solves.
  assert conditioner_policy(flow.blocks[0].dtype_policy).compute_dtype == "bfloat16"
  assert flow.actnorm.compute_dtype == "float32"


def test_the_policy_survives_get_config():
  flow = FLOWS["ldu"](dtype="mixed_bfloat16")
  again = LDUFlow.from_config(flow.get_config())
  assert isinstance(again.dtype_policy, FlowDTypePolicy)
  assert conditioner_policy(again.blocks[0].dtype_policy).name == "mixed_bfloat16"
  assert again.blocks[0].raw_in_scale.dtype == "float32"
  unrolled = LDUFlow.from_config({**flow.get_config(), "stacked_blocks": False})
  assert unrolled.blocks[0].upper_shift.made.dtype_policy.name == "mixed_bfloat16"
  assert unrolled.blocks[0].d_scales[0].compute_dtype == "float32"


def test_float16_and_a_mixed_dequantizer_are_refused():
  with pytest.raises(ValueError, match="mixed_bfloat16"):
    FLOWS["ldu"](dtype="mixed_float16")
  with pytest.raises(ValueError, match="float16 needs loss scaling"):
    flow_dtype_policy("mixed_float16")
  from tfp_ldu.layers import UniformDequantizer
  with pytest.raises(ValueError, match="dequantizer"):
    LDUFlow(4, num_blocks=1, hidden_units=(8,), dtype="mixed_bfloat16",
            dequantizer=UniformDequantizer(256, dtype="mixed_bfloat16"))


def test_fit_py_builds_under_the_flow_policy():
  from train import datasets
  from train import fit
  from train.build import build_model

  data = datasets.load_dataset("digits")
  args = fit.parse_args(["--dataset", "digits", "--precision", "mixed_bfloat16",
                         "--num-blocks", "1", "--filters", "4"])
  with fit._dtype_policy(args.precision):
    model = build_model("ldu", data, fit.resolve_hyperparameters(args),
                        explicit=("num_blocks", "filters"))
  assert keras.config.dtype_policy().name == "float32"  # Restored.
  assert model.dequantizer.compute_dtype == "float32"
  assert model.compute_dtype == "float32"
  assert model.blocks[0].lower_shift.net.compute_dtype == "bfloat16"
