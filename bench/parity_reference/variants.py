"""The named training conditions the parity harness compares.

Every variant trains the same architecture on the same data in the same batch
order with Adam at the same learning rate; a variant only changes the defaults
under study.  The authors' defaults (PyTorch): MADE layers are `nn.Linear`s
(kernel and bias ~ U(+-1/sqrt(fan_in)), fan_in the unmasked input width), Adam
eps 1e-8 with bias correction on the second moment inside the square root, and
the final actnorm set from the first training batch as m = mean,
s = 0.5 log(var + 1e-5).  The library's defaults were MADE kernels
`glorot_uniform` (U(+-sqrt(6 / (fan_in + fan_out)))) and biases 0 until this
harness showed them about 4 nats worse on digits; the MADE now starts as
`nn.Linear` does ("library" and "library_torch_init" coincide).  Still:
`keras.optimizers.Adam` eps 1e-7 (Keras adds eps to sqrt(v) before the bias
correction, i.e. torch's eps / sqrt(1 - beta_2^t)), and
`FlowModel.initialize`'s s = log(std + 1e-6).

Beside the LDU variants, the same loop trains other flows on both sides
(issue 22, "side by side with zuko"): zuko's MAF and NSF (PyTorch, in
`torch_runner.py`, `nn.Linear` initialisation and torch's Adam eps 1e-8) and
the library's `MAF`, `NSF`, `NSF(coupling=True)` and `RealNVP` with their
own defaults (in-process), all with `--num-transforms` transforms of
`--hidden-units` and, for the splines, `--num-bins` bins on
[-`--spline-bound`, `--spline-bound`] on both sides.  Each variant names the
`counterpart` its verdict is taken against.
"""
import dataclasses
from typing import Dict, Optional

__all__ = ["Variant", "VARIANTS", "DEFAULT_VARIANTS", "TORCH_ADAM_EPSILON", "get_variant",
           "REFERENCE_MODELS", "LIBRARY_MODELS"]

TORCH_ADAM_EPSILON = 1e-8
# Model families per side: "ldu" is the authors' LDUFlow (reference) or
# `tfp_ldu.flows.LDUFlow` (library); the others are named after their class.
REFERENCE_MODELS = ("ldu", "zuko_maf", "zuko_nsf")
LIBRARY_MODELS = ("ldu", "maf", "nsf", "nsf_coupling", "realnvp")


@dataclasses.dataclass(frozen=True)
class Variant:
  """One training condition.

  Attributes:
    name: key in `VARIANTS`.
    side: "reference" (PyTorch, in a subprocess: the authors' `LDUFlow` or
      zuko's flows) or "library" (`tfp_ldu.flows`, in-process).
    made_init: how the MADE weights start.  Reference: "torch" (nn.Linear's
      own initialisation) or "glorot" (kernel glorot-uniform, bias 0, i.e. the
      library's defaults).  Library: "library" (as constructed), "torch"
      (kernel and bias ~ U(+-1/sqrt(fan_in))), "torch_kernel" (kernel only,
      bias 0) or "transplant" (every weight copied from the reference model
      built with the same seed).
    adam_epsilon: Adam's epsilon; None keeps `keras.optimizers.Adam`'s default.
    actnorm_init: "library" (`FlowModel.initialize`: s = log(std + 1e-6)),
      "reference" (s = 0.5 log(var + 1e-5)) or "identity" (ActNorm frozen at
      the identity); ignored on the reference side.
    description: one line for the report.
    model: the flow, one of `REFERENCE_MODELS` or `LIBRARY_MODELS` by side.
      made_init other than "library" / "torch" applies to "ldu" only.
    counterpart: the variant this one's verdict is taken against (None: no
      verdict).
  """
  name: str
  side: str
  made_init: str
  adam_epsilon: Optional[float]
  actnorm_init: str
  description: str
  model: str = "ldu"
  counterpart: Optional[str] = "reference"


_ALL = [
    Variant("reference", "reference", "torch", TORCH_ADAM_EPSILON, "reference",
            "authors' PyTorch LDUFlow, its own defaults", counterpart=None),
    Variant("reference_glorot", "reference", "glorot", TORCH_ADAM_EPSILON, "reference",
            "authors' code with the library's MADE init (glorot kernel, zero bias)"),
    Variant("library", "library", "library", None, "library",
            "models.LDUFlow, current defaults"),
    Variant("library_torch_init", "library", "torch", None, "library",
            "library, MADE kernel+bias ~ U(+-1/sqrt(fan_in))"),
    Variant("library_torch_kernel", "library", "torch_kernel", None, "library",
            "library, MADE kernel ~ U(+-1/sqrt(fan_in)), bias 0"),
    Variant("library_eps", "library", "library", TORCH_ADAM_EPSILON, "library",
            "library, Adam eps 1e-8 only"),
    Variant("library_candidate", "library", "torch", TORCH_ADAM_EPSILON, "reference",
            "library, torch MADE init + Adam eps 1e-8 + reference actnorm init"),
    Variant("library_transplant", "library", "transplant", TORCH_ADAM_EPSILON, "reference",
            "library with the reference's initial weights (same seed), eps 1e-8"),
    Variant("zuko_maf", "reference", "torch", TORCH_ADAM_EPSILON, "reference",
            "zuko.flows.MAF, its own defaults", model="zuko_maf", counterpart=None),
    Variant("zuko_nsf", "reference", "torch", TORCH_ADAM_EPSILON, "reference",
            "zuko NSF (MonotonicRQSTransform, bound --spline-bound)", model="zuko_nsf",
            counterpart=None),
    Variant("library_maf", "library", "library", None, "library",
            "flows.MAF, current defaults", model="maf", counterpart="zuko_maf"),
    Variant("library_maf_eps", "library", "library", TORCH_ADAM_EPSILON, "library",
            "flows.MAF, Adam eps 1e-8 (torch's)", model="maf", counterpart="zuko_maf"),
    Variant("library_maf_no_actnorm", "library", "library", None, "identity",
            "flows.MAF, final ActNorm frozen at the identity (as zuko: none)", model="maf",
            counterpart="zuko_maf"),
    Variant("library_nsf", "library", "library", None, "library",
            "flows.NSF, current defaults", model="nsf", counterpart="zuko_nsf"),
    Variant("library_nsf_coupling", "library", "library", None, "library",
            "flows.NSF(coupling=True), current defaults", model="nsf_coupling",
            counterpart="zuko_nsf"),
    Variant("library_realnvp", "library", "library", None, "library",
            "flows.RealNVP, current defaults", model="realnvp", counterpart="zuko_maf"),
]
VARIANTS: Dict[str, Variant] = {v.name: v for v in _ALL}
DEFAULT_VARIANTS = ("reference", "library", "library_torch_init", "library_candidate")


def get_variant(name):
  """The `Variant` called `name`."""
  if name not in VARIANTS:
    raise ValueError(f"unknown variant {name!r}; expected one of {sorted(VARIANTS)}.")
  return VARIANTS[name]
