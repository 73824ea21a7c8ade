"""Keras flow models: `FlowModel` and the flows built on it.

Each model is a `keras.Model` whose `call` is the per-example
log-likelihood, so `compile(optimizer)` + `fit(x)` train it without labels;
see `FlowModel` for the shared interface (`log_prob`, `sample`,
`distribution`, `bijector`, export).
"""
from tfp_ldu.flows.flow_model import FlowModel, NonFiniteLossError
from tfp_ldu.flows.augmented_flow import AugmentedFlow
from tfp_ldu.flows.ldu_flow import LDUFlow
from tfp_ldu.flows.maf import MAF
from tfp_ldu.flows.mixture_logistic_coupling_flow import MixtureLogisticCouplingFlow
from tfp_ldu.flows.residual_flow import ResidualFlow
from tfp_ldu.flows.naf import NAF
from tfp_ldu.flows.planar_flow import PlanarFlow

from tfp_ldu.flows.glow import Glow
from tfp_ldu.flows.flow_plus_plus import FlowPlusPlus
__all__ = ["FlowModel", "NonFiniteLossError", "LDUFlow", "MAF",
           "MixtureLogisticCouplingFlow", "ResidualFlow", "AugmentedFlow", "NAF", "PlanarFlow",
           "Glow", "FlowPlusPlus"]
