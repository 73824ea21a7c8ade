"""Keras flow models: `FlowModel` and the flows built on it.

Each model is a `keras.Model` whose `call` is the per-example
log-likelihood, so `compile(optimizer)` + `fit(x)` train it without labels;
see `FlowModel` for the shared interface (`log_prob`, `sample`,
`distribution`, `bijector`, export).

The flows: `LDUFlow`, `MAF`, `IAF`, `NAF`, `NSF` (autoregressive or
coupling), `RealNVP`, `MixtureLogisticCouplingFlow`, `ResidualFlow`,
`PlanarFlow`, `AugmentedFlow` (vectors); `Glow`,
`FlowPlusPlus` (images); and `FlowModel`, `NonFiniteLossError`.  Every module
of this package is imported here and every `FlowModel` subclass it defines is
exported, so a new flow family is one new module (it then registers with
Keras on `import tfp_ldu`, and `from tfp_ldu.flows import NewFlow` works).
"""
import importlib as _importlib
import inspect as _inspect
import pkgutil as _pkgutil

from tfp_ldu.flows.flow_model import FlowModel
from tfp_ldu.flows.training import NonFiniteLossError


def _flow_classes():
  """{name: class} of the `FlowModel` subclasses defined in this package's modules."""
  found = {}
  for module_info in _pkgutil.iter_modules(__path__):
    module = _importlib.import_module(f"{__name__}.{module_info.name}")
    for name, value in vars(module).items():
      if (_inspect.isclass(value) and issubclass(value, FlowModel) and value is not FlowModel
          and value.__module__ == module.__name__):
        found[name] = value
  return found


_FLOWS = _flow_classes()
globals().update(_FLOWS)
__all__ = ["FlowModel", "NonFiniteLossError", *sorted(_FLOWS)]
