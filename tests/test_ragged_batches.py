"""Every flow trains on ragged last batches and unknown batch dimensions, in float32 and float64."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from tfp_ldu.flows import MAF, NAF, AugmentedFlow, LDUFlow, MixtureLogisticCouplingFlow
from tfp_ldu.flows import PlanarFlow, ResidualFlow

BUILDERS = {
    "LDUFlow": lambda d, dtype: LDUFlow(d, num_blocks=1, num_d_scales=1, hidden_units=(8,),
                                        dtype=dtype),
    "MAF-BN-MoG": lambda d, dtype: MAF(d, num_blocks=1, hidden_units=(8,), batch_norm=True,
                                       base="mog", num_components=2, dtype=dtype),
    "Flow++": lambda d, dtype: MixtureLogisticCouplingFlow(d, num_couplings=2,
                                                           hidden_units=(8,), dtype=dtype),
    "Residual": lambda d, dtype: ResidualFlow(d, num_blocks=1, hidden_units=(8,),
                                              dtype=dtype),
    "NAF": lambda d, dtype: NAF(d, num_blocks=1, num_components=2, hidden_units=(8,),
                                dtype=dtype),
    "Planar": lambda d, dtype: PlanarFlow(d, num_layers=2, dtype=dtype),
    "Augmented": lambda d, dtype: AugmentedFlow(
        d, MAF(d + 1, num_blocks=1, hidden_units=(8,), dtype=dtype), augment_dims=1,
        dtype=dtype),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_ragged_last_batch_and_unknown_batch_dimension(name, dtype):
  x = np.random.default_rng(0).normal(size=(70, 3)).astype(dtype)  # 70 = 2 * 32 + 6
  model = BUILDERS[name](3, dtype)
  model.compile(keras.optimizers.Adam(1e-3))
  history = model.fit(x, batch_size=32, epochs=1, verbose=0)
  assert np.isfinite(history.history["loss"][0])
  # A tf.data pipeline without drop_remainder: the batch dimension is unknown when traced.
  dataset = tf.data.Dataset.from_tensor_slices(x).batch(32)
  assert dataset.element_spec.shape[0] is None
  history = model.fit(dataset, epochs=1, verbose=0)
  assert np.isfinite(history.history["loss"][0])
  log_prob = model.log_prob(x[:5])
  assert log_prob.shape == (5,) and log_prob.dtype == dtype
  assert np.all(np.isfinite(log_prob))
