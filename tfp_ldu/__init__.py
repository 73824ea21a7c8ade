"""tfp_ldu: normalizing-flow bijectors for TensorFlow Probability and Keras 3.

Sub-packages:
  bijectors: `Sinusoidal`, `TriangularShift`, `LDU`, `MixtureLogisticCDF`,
    `MixtureLogisticCoupling`, `Residual` (all `tfp.bijectors.Bijector`s).
  nets: Keras 3 networks (`MADE`, `LipschitzMLP`, ...).
  layers: Keras 3 layers that own bijector parameters and build bijectors.
  solvers: the shared bounded loop, fixed-point and bisection solvers.
  export: SavedModel export with `log_prob` and `sample` endpoints.
"""
__version__ = "0.1.0"
