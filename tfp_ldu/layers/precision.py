"""Mixed precision for flows: float32 bijectors, low-precision conditioner networks.

A flow's log-likelihood sums D log-determinant terms and a D-dimensional base
log-density, and its sampling direction runs numeric solves with float32
tolerances: none of that may run in bfloat16 (8 bits of mantissa).  The
networks that *condition* the bijectors (MADE, PixelCNN, gated MLPs) are where
the FLOPs are, and they tolerate bfloat16 like any network.

`FlowDTypePolicy` expresses this split as one Keras dtype policy:

* its compute and variable dtypes are the float dtype (float32), so the flow
  model and every bijector layer that receives it (`dtype=self.dtype_policy`,
  the convention of every flow in this library) compute in float32;
* it carries `conditioner`, the mixed policy (e.g. "mixed_bfloat16") that
  `conditioner_policy(self.dtype_policy)` hands to the networks a layer
  builds.  Those networks keep float32 variables, compute in bfloat16, and
  their owners cast what they return to float32 before any exp, softplus or
  log.

`FlowModel` turns a mixed policy given as `dtype` (or the global policy) into
a `FlowDTypePolicy` itself; `flow_dtype_policy("mixed_bfloat16")` is the
policy to set globally (`keras.config.set_dtype_policy`) so that layers built
outside the model (a dequantizer) stay float32 too.
"""
import keras

__all__ = ["FlowDTypePolicy", "flow_dtype_policy", "conditioner_policy"]


@keras.saving.register_keras_serializable(package="tfp_ldu")
class FlowDTypePolicy(keras.DTypePolicy):
  """`name` (float32) for the flow, the mixed policy `conditioner` for its networks.

  Args:
    name: the flow's dtype (compute = variable), "float32" by default.
    conditioner: the conditioner networks' policy, e.g. "mixed_bfloat16"; its
      variable dtype must be `name`.
  """

  def __init__(self, name="float32", conditioner="mixed_bfloat16"):
    super().__init__(name)
    self.conditioner = keras.DTypePolicy(conditioner)
    if self.conditioner.variable_dtype != self.variable_dtype:
      raise ValueError(f"FlowDTypePolicy: the conditioner policy {conditioner!r} keeps "
                       f"{self.conditioner.variable_dtype} variables, the flow "
                       f"{self.variable_dtype} ones.")

  def get_config(self):
    return {"name": self.name, "conditioner": self.conditioner.name}

  def __repr__(self):
    return f'<FlowDTypePolicy "{self.name}", conditioner "{self.conditioner.name}">'


def flow_dtype_policy(policy, owner="FlowModel"):
  """The policy a flow runs under for a requested `policy` (name or `DTypePolicy`).

  A policy with one dtype is returned as it is; `mixed_bfloat16` becomes
  `FlowDTypePolicy("float32", "mixed_bfloat16")`.

  Raises:
    ValueError: for `mixed_float16`: float16 gradients need loss scaling,
      which this split does not provide (and `LossScaleOptimizer` fails under
      `MirroredStrategy` with XLA); use `mixed_bfloat16`.
  """
  policy = keras.dtype_policies.get(policy)
  if policy.compute_dtype == policy.variable_dtype:
    return policy
  if policy.compute_dtype != "bfloat16":
    raise ValueError(
        f"{owner}: the dtype policy {policy.name!r} is not supported; flows run mixed "
        f"precision as 'mixed_bfloat16' (float16 needs loss scaling).  Log-determinants, "
        f"the base density and the numeric inverses stay {policy.variable_dtype}.")
  return FlowDTypePolicy(policy.variable_dtype, conditioner=policy.name)


def conditioner_policy(policy):
  """The policy of a conditioner network built by a layer of policy `policy`."""
  return getattr(policy, "conditioner", policy)
