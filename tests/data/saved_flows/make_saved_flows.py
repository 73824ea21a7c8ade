"""Writes the `.keras` fixtures of `tests/test_saved_flows.py`: one small trained flow per family.

They were written by this script at commit 6769ca9, before the upper floors
were reshaped (constructor arguments renamed: `num_mixtures`, `image_shape`,
...), so the test checks that models saved by older code still load and give
the same `log_prob`.  The script is kept as it ran then (it calls the old
argument names); run against that commit's library it rewrites the same
files (fixed seeds):

    git worktree add /tmp/old 6769ca9 && cd /tmp/old
    python /path/to/this/repository/tests/data/saved_flows/make_saved_flows.py

A fixture for a new family is written the same way with today's library.

Each model is fitted for a few steps (so no weight is at its initial value),
saved as `<name>.keras`, and its `log_prob` of six fixed inputs (for image
models: dequantised pixels at the middle of their bins; for the augmented
flow: joint points of its inner flow) is stored in
`expected.npz` as `<name>/x` and `<name>/log_prob`.
"""
import os

import keras
import numpy as np

from tfp_ldu.flows import MAF, NAF, AugmentedFlow, FlowPlusPlus, Glow, LDUFlow
from tfp_ldu.flows import MixtureLogisticCouplingFlow, PlanarFlow, ResidualFlow
from tfp_ldu.layers import UniformDequantizer

HERE = os.path.dirname(os.path.abspath(__file__))


def _vectors(n, d, seed):
  return np.random.default_rng(seed).normal(size=(n, d)).astype("float32")


def _pixels(n, shape, levels, seed):
  return np.random.default_rng(seed).integers(0, levels, size=(n, *shape)).astype("float32")


BUILDERS = {
    "ldu_made": (lambda: LDUFlow(3, num_blocks=2, num_d_scales=1, num_mixtures=2,
                                 hidden_units=(8,)), lambda s: _vectors(64, 3, s)),
    "ldu_made_unrolled": (lambda: LDUFlow(3, num_blocks=1, num_d_scales=2, num_mixtures=2,
                                          hidden_units=(8,), stacked_blocks=False),
                          lambda s: _vectors(64, 3, s)),
    "ldu_pixelcnn": (lambda: LDUFlow((4, 4, 1), num_blocks=1, num_d_scales=1, num_mixtures=2,
                                     conditioner="pixelcnn", filters=4, num_residual_blocks=1,
                                     dequantizer=UniformDequantizer(5, event_ndims=3,
                                                                    name="dequantizer"),
                                     logit_alpha=0.05),
                     lambda s: _pixels(32, (4, 4, 1), 5, s)),
    "maf_bn_mog": (lambda: MAF(3, num_blocks=2, hidden_units=(8,), batch_norm=True,
                               base="mog", num_components=2), lambda s: _vectors(64, 3, s)),
    "naf": (lambda: NAF(3, num_blocks=1, num_components=2, hidden_units=(8,)),
            lambda s: _vectors(64, 3, s)),
    "mixture_logistic_coupling": (lambda: MixtureLogisticCouplingFlow(
        3, num_couplings=2, num_mixtures=2, hidden_units=(8,)), lambda s: _vectors(64, 3, s)),
    "residual": (lambda: ResidualFlow(3, num_blocks=1, hidden_units=(8,)),
                 lambda s: _vectors(64, 3, s)),
    "planar": (lambda: PlanarFlow(3, num_layers=2), lambda s: _vectors(64, 3, s)),
    "augmented_maf": (lambda: AugmentedFlow(3, MAF(4, num_blocks=1, hidden_units=(8,)),
                                            augment_dims=1, num_importance_samples=4, seed=1),
                      lambda s: _vectors(64, 3, s)),
    "glow": (lambda: Glow((4, 4, 2), levels=2, steps_per_level=1, hidden_channels=8, seed=0,
                          dequantizer=UniformDequantizer(5, event_ndims=3, name="dequantizer")),
             lambda s: _pixels(32, (4, 4, 2), 5, s)),
    "flow_plus_plus": (lambda: FlowPlusPlus((4, 4, 1), preset="small", num_levels=5, filters=8,
                                            num_blocks=1, num_mixtures=2, num_heads=1,
                                            num_couplings=(1, 1, 1), seed=0),
                       lambda s: _pixels(32, (4, 4, 1), 5, s)),
}


def exact_density(model):
  """The model whose `log_prob` is deterministic: an `AugmentedFlow`'s joint flow."""
  return model.flow if isinstance(model, AugmentedFlow) else model


def fixed_inputs(model, data):
  """Six inputs of `log_prob`: data points, or pixels moved to the middle of their bins."""
  x = data(1)[:6]
  if isinstance(model, AugmentedFlow):  # Points (x, e) of the joint flow.
    return np.concatenate([x, np.linspace(-1, 1, len(x), dtype=x.dtype)[:, None]], axis=1)
  return x if model.dequantizer is None else (x + 0.5) / 5.0


def main():
  expected = {}
  for name, (build, data) in BUILDERS.items():
    keras.utils.set_random_seed(0)
    model = build()
    train = data(0)
    model.compile(keras.optimizers.Adam(1e-2))
    model.fit(train, batch_size=16, epochs=1, verbose=0)
    x = fixed_inputs(model, data)
    expected[f"{name}/x"] = x
    expected[f"{name}/log_prob"] = np.asarray(exact_density(model).log_prob(x))
    model.save(os.path.join(HERE, f"{name}.keras"))
    print(name, expected[f"{name}/log_prob"])
  np.savez(os.path.join(HERE, "expected.npz"), **expected)


if __name__ == "__main__":
  main()
