"""Keras flow models built from tfp_ldu bijectors."""
from models.flow_model import FlowModel
from models.ldu_flow import LDUFlow
from models.maf import MAF
from models.mixture_logistic_coupling_flow import MixtureLogisticCouplingFlow
from models.residual_flow import ResidualFlow
