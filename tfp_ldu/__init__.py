"""tfp_ldu: normalizing-flow bijectors for TensorFlow Probability and Keras 3.

Sub-packages (all reachable after `import tfp_ldu`, as `tfp.bijectors` is
after `import tensorflow_probability as tfp`):
  solvers: the shared bounded loop; fixed-point, bisection and Newton
    solvers with implicit gradients.
  bijectors: `Sinusoidal`, `TriangularShift`, `LDU`, `MixtureLogisticCDF`,
    `MaskedCoupling`, `Residual`, ... (all `tfp.bijectors.Bijector`s).
  nets: Keras 3 networks (`MADE`, `LipschitzMLP`, ...).
  layers: Keras 3 layers that own bijector weights and build bijectors.
  flows: Keras models (`FlowModel`, `LDUFlow`, `MAF`, ...); importing
    `tfp_ldu` registers them, so `keras.models.load_model` needs nothing more.
  export: SavedModel export with `log_prob` and `sample` endpoints.
  testing: shared checks and randomisers for tests and benchmarks.
"""
from tfp_ldu import solvers
from tfp_ldu import bijectors
from tfp_ldu import nets
from tfp_ldu import layers
from tfp_ldu import flows
from tfp_ldu import export

__version__ = "0.1.0"

__all__ = ["solvers", "bijectors", "nets", "layers", "flows", "export"]
