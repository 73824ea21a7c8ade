"""The flow models of `train/fit.py`: the library's `tfp_ldu.flows`, re-exported.

The classes live in the library so that `import tfp_ldu` alone registers them
with Keras (`keras.models.load_model` of a saved flow needs nothing else);
this package keeps the application-level name `models`.
"""
from tfp_ldu.flows import (MAF, NAF, AugmentedFlow, FlowModel, FlowPlusPlus, Glow, LDUFlow,
                           MixtureLogisticCouplingFlow, NonFiniteLossError, PlanarFlow,
                           ResidualFlow)

__all__ = ["FlowModel", "NonFiniteLossError", "LDUFlow", "MAF",
           "MixtureLogisticCouplingFlow", "ResidualFlow", "NAF", "AugmentedFlow", "PlanarFlow",
           "Glow", "FlowPlusPlus"]
