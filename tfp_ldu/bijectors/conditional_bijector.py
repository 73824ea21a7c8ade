"""A bijector that takes its context at call time: TFP's `conditional_input` convention."""
from tfp_ldu.bijectors.instance_cached import InstanceCachedBijector

__all__ = ["ConditionalBijector"]


class ConditionalBijector(InstanceCachedBijector):
  """`bijector_fn(conditional_input)`'s map, with the context passed at call time.

  The bijectors of this library take their context when they are built
  (`BijectorLayer.bijector(context=c)`, zuko's `LazyTransform(c)`).  TFP's
  conditional bijectors (`tfb.MaskedAutoregressiveFlow` with a conditional
  `AutoregressiveNetwork`) take it per call instead, as a keyword argument
  that `tfb.Chain` routes by bijector name (TFP #1159, #1410, #1801):

      chain.forward(z, maf_0={"conditional_input": c}, maf_1={...})
      tfd.TransformedDistribution(base, chain).log_prob(
          x, bijector_kwargs={"maf_0": {"conditional_input": c}, ...})

  This wrapper gives a library bijector that convention: every method builds
  `bijector_fn(conditional_input)` and delegates to it, so a chain of them
  (`BijectorLayer.conditional_bijector()`, one per layer, named after the
  layer) receives the context wherever TFP hands the kwargs on.  Shapes are
  the built bijector's; `conditional_input` is what that layer's `bijector`
  takes as `context` (a flow's embedded features `[N, context_size]`,
  `FlowModel.embed_context`), or None for an unconditional one.

  Args:
    bijector_fn: `conditional_input -> tfb.Bijector`, called on every method
      call (a fresh bijector over the current weights).
    forward_min_event_ndims, inverse_min_event_ndims: those of the bijectors
      `bijector_fn` builds.
    dtype: their dtype (None: any).
    name: the name `tfb.Chain` routes keyword arguments by.
  """

  def __init__(self, bijector_fn, forward_min_event_ndims, inverse_min_event_ndims=None,
               dtype=None, validate_args=False, name="conditional"):
    parameters = dict(locals())
    self._bijector_fn = bijector_fn
    super().__init__(forward_min_event_ndims=forward_min_event_ndims,
                     inverse_min_event_ndims=inverse_min_event_ndims, dtype=dtype,
                     validate_args=validate_args, parameters=parameters, name=name)

  @classmethod
  def _parameter_properties(cls, dtype):
    return {}

  def _forward(self, x, conditional_input=None):
    return self._bijector_fn(conditional_input).forward(x)

  def _inverse(self, y, conditional_input=None):
    return self._bijector_fn(conditional_input).inverse(y)

  def _forward_log_det_jacobian(self, x, conditional_input=None):
    return self._bijector_fn(conditional_input).forward_log_det_jacobian(
        x, event_ndims=self.forward_min_event_ndims)

  def _inverse_log_det_jacobian(self, y, conditional_input=None):
    return self._bijector_fn(conditional_input).inverse_log_det_jacobian(
        y, event_ndims=self.inverse_min_event_ndims)
