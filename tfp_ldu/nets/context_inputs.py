"""How a conditioner network takes the context of a conditional flow.

Every conditional layer receives the flow's context features `[N, C]`
(standardised and embedded by `tfp_ldu.flows.FlowModel.embed_context`),
row n going with row n of the data, or one row for all.  MADEs add an
unmasked projection of them to every layer (`tfp_ldu.nets.MADE`); coupling
and residual conditioners concatenate them to their input (zuko, flowjax
and nflows do the same), here through `concat_context`.
"""
import tensorflow as tf

__all__ = ["check_context", "concat_context"]


def check_context(owner, context_size, context):
  """Raises a clear `ValueError` unless `context` fits a conditioner of `context_size` features."""
  if context_size and context is None:
    raise ValueError(f"{owner}: a conditional network (context_size={context_size}) needs "
                     f"a context [..., {context_size}]; got none.")
  if not context_size and context is not None:
    raise ValueError(f"{owner}: this network is unconditional (context_size=0) but was "
                     f"given a context; build it with context_size=C.")
  if context is not None and context.shape[-1] not in (None, context_size):
    raise ValueError(f"{owner}: expected a context of shape [..., {context_size}]; "
                     f"received shape {list(context.shape)}.")


def concat_context(h, context, spatial_axes=0):
  """`[..., F]` inputs and `[N, C]` contexts -> `[..., F + C]` (context broadcast).

  Vectors (`spatial_axes=0`): `h` `[..., N, F]`, the context broadcast over
  any leading sample axes (TFP's `sample` of a distribution with batch
  shape `[N]` passes `[S, N, F]`).  Images (`spatial_axes=2`): `h`
  `[N, H, W, F]`, the context broadcast over the spatial axes, as nflows'
  `ConvResidualNet(context_channels)` takes it.  `context=None` returns `h`.
  """
  if context is None:
    return h
  context = tf.cast(context, h.dtype)
  if spatial_axes:
    context = tf.reshape(context, tf.concat(
        [tf.shape(context)[:1], [1] * spatial_axes, tf.shape(context)[-1:]], 0))
  shape = tf.concat([tf.shape(h)[:-1], tf.shape(context)[-1:]], 0)
  return tf.concat([h, tf.broadcast_to(context, shape)], axis=-1)
