"""Keras layer that owns one Sinusoidal D-scale's parameters."""
import keras
import tensorflow as tf

from tfp_ldu.bijectors.sinusoidal import Sinusoidal
from tfp_ldu.layers.bijector_layer import BijectorLayer
from tfp_ldu.layers.bijector_layer import vector_event_size
from tfp_ldu.nets.context_inputs import check_context

__all__ = ["SinusoidalParameters", "add_d_scale_weights", "constrained_d_scale",
           "read_d_scale", "constrain_d_scale"]


def _softmax(logits):
  """Softmax over the last axis, written out: oneDNN's kernel is slower on [D, K] this small."""
  unnormalized = tf.exp(logits - tf.reduce_max(logits, axis=-1, keepdims=True))
  return unnormalized / tf.reduce_sum(unnormalized, axis=-1, keepdims=True)


def add_d_scale_weights(layer, leading_shape, event_size, num_components, context_size=0):
  """Adds the five D-scale weights to `layer`, as attributes, with a leading shape.

  Shapes `[*leading_shape, D, K]` (raw_in_scale, in_shift, mix_logits) and
  `[*leading_shape, D]` (raw_residual, out_shift); initialised as in
  `SinusoidalParameters` (the identity D-scale).  `leading_shape` is `()`
  for one D-scale and `(B, n)` for the block-stacked ones of `StackedLDUBlocks`.
  With `context_size=C > 0` also `context_kernel` `[*leading_shape, C,
  D K + 2 D]`, zeros: the phases, residual amplitudes and output shifts
  move by c V (`CONTEXT_PARAMETERS`, `constrained_d_scale`), starting at the
  unconditional D-scale.
  """
  lead, d, k = tuple(leading_shape), int(event_size), int(num_components)
  uniform = keras.initializers.RandomUniform(-3.0, 3.0)
  layer.raw_in_scale = layer.add_weight(shape=(*lead, d, k), initializer=uniform,
                                        name="raw_in_scale")
  layer.in_shift = layer.add_weight(shape=(*lead, d, k), initializer=uniform, name="in_shift")
  layer.mix_logits = layer.add_weight(shape=(*lead, d, k), initializer="zeros",
                                      name="mix_logits")
  layer.raw_residual = layer.add_weight(shape=(*lead, d), initializer="zeros",
                                        name="raw_residual")
  layer.out_shift = layer.add_weight(shape=(*lead, d), initializer="zeros", name="out_shift")
  layer.context_kernel = None
  if context_size:
    layer.context_kernel = layer.add_weight(
        shape=(*lead, int(context_size), context_kernel_width(d, k)), initializer="zeros",
        name="context_kernel")


def constrained_d_scale(layer, context=None):
  """`Sinusoidal`'s parameters (a dict of tensors) from `layer`'s five D-scale weights.

  in_scale = softplus(raw_in_scale), mix_weights = softmax(mix_logits),
  residual_scale = tanh(raw_residual); in_shift and out_shift as stored.
  Element-wise or over the last axis, so any leading shape is kept.

  Conditional D-scales (a `context_kernel` V and contexts c `[N, C]`): the
  phases b, the raw residual amplitudes and the output shifts are first
  moved by their slices of c V, so they get an axis N of contexts:
  `[*leading_shape, N, D, K]` and `[*leading_shape, N, D]` (row n of x goes
  with context n; N = 1 broadcasts); a and w stay shared.
  """
  return constrain_d_scale(read_d_scale(layer), context)


def read_d_scale(layer):
  """The raw D-scale weights of `layer` as a dict of tensors (with `context_kernel` if any)."""
  names = ["raw_in_scale", "in_shift", "mix_logits", "raw_residual", "out_shift"]
  if getattr(layer, "context_kernel", None) is not None:
    names.append("context_kernel")
  return {name: tf.convert_to_tensor(getattr(layer, name)) for name in names}


def constrain_d_scale(raw, context=None):
  """`Sinusoidal`'s parameters from raw weights `raw` (`read_d_scale`, any leading shape).

  `StackedLDUBlocks` slices one block's raw weights and constrains them in
  its loop body when the D-scales are conditional: slicing per-row
  parameters after the fact would make every block's gradient a tensor of
  all blocks' `[N, D, K]` parameters.
  """
  kernel = raw.get("context_kernel")
  raw = {name: value for name, value in raw.items() if name != "context_kernel"}
  if kernel is not None and context is not None:
    raw = _moved_by_context(raw, kernel, context)
  return dict(in_scale=tf.nn.softplus(raw["raw_in_scale"]), in_shift=raw["in_shift"],
              mix_weights=_softmax(raw["mix_logits"]), out_shift=raw["out_shift"],
              residual_scale=tf.tanh(raw["raw_residual"]))


# The raw parameters a context moves (`context_kernel`'s columns, in this order):
# the phases b, the residual amplitudes and the output shifts.  The in-scales a
# and mixture weights w stay shared, so the transformer keeps its block-diagonal
# matrix-product kernels (`Sinusoidal._weighted_sums`).
CONTEXT_PARAMETERS = ("in_shift", "raw_residual", "out_shift")


def context_kernel_width(event_size, num_components):
  """E = D K + 2 D, the columns of a conditional D-scale's `context_kernel`."""
  return event_size * num_components + 2 * event_size


def _moved_by_context(raw, kernel, context):
  """The raw parameters plus their slices of c V, with a context axis before D."""
  d, k = raw["in_shift"].shape[-2:]
  context = tf.cast(context, kernel.dtype)
  # [*lead, C, E] and [N, C] -> [*lead, N, E].
  offsets = tf.matmul(context, kernel)  # Broadcast over the leading axes.
  parts = tf.split(offsets, [d * k, d, d], axis=-1)
  lead = tf.shape(offsets)[:-1]
  moved = dict(raw)
  for name, part in zip(CONTEXT_PARAMETERS, parts):
    value = raw[name]
    per_dim = value.shape.rank - len(kernel.shape) + 2  # 2 for [D, K], 1 for [D].
    shape = tf.concat([lead, value.shape[-per_dim:]], axis=0)
    moved[name] = tf.expand_dims(value, -per_dim - 1) + tf.reshape(part, shape)
  return moved


@keras.saving.register_keras_serializable(package="tfp_ldu")
class SinusoidalParameters(BijectorLayer):
  """Unconstrained weights of a `Sinusoidal` bijector; `bijector()` builds it.

  Weights (shapes `[D, K]` or `[D]`) and constraints, initialised so the
  D-scale starts as the identity (as in the paper's code):

      in_scale       = softplus(raw_in_scale),  raw ~ U(-3, 3)
      in_shift       = raw_in_shift,            raw ~ U(-3, 3)
      mix_weights    = softmax(mix_logits),     logits = 0
      residual_scale = tanh(raw_residual),      raw = 0   (so r = 0: identity)
      out_shift      = out_shift,               0

  Conditional (`context_size=C > 0`, the authors' MLP conditioner reduced to
  a linear map of the context features): the phases b, the residual
  amplitudes and the output shifts move by c V, V `[C, D K + 2 D]` starting
  at zero, so the D-scale's element-wise shapes change with c (a and w stay
  shared: the fast kernels of `Sinusoidal` need them unbatched);
  `bijector(context=c)` with c `[N, C]`.
  """

  def __init__(self, event_shape, num_components=4, tolerance=None, max_iterations=1000,
               solver="newton", context_size=0, **kwargs):
    super().__init__(**kwargs)
    self.event_size = vector_event_size(type(self).__name__, event_shape)
    self.num_components = int(num_components)
    self.tolerance = tolerance
    self.max_iterations = int(max_iterations)
    self.solver = solver
    self.context_size = int(context_size)
    add_d_scale_weights(self, (), self.event_size, self.num_components, self.context_size)
    self.built = True

  def bijector(self, training=None, context=None):
    """A fresh `Sinusoidal` from the current weights (and contexts `[N, C]`, if conditional)."""
    del training
    check_context(type(self).__name__, self.context_size, context)
    return Sinusoidal(**constrained_d_scale(self, context), tolerance=self.tolerance,
                      max_iterations=self.max_iterations, solver=self.solver)

  def get_config(self):
    return {**super().get_config(), "event_shape": [self.event_size],
            "num_components": self.num_components, "tolerance": self.tolerance,
            "max_iterations": self.max_iterations, "solver": self.solver,
            "context_size": self.context_size}
