"""Keras layer owning the MADE of one deep sigmoidal flow (NAF-DSF) transform."""
import keras
import tensorflow as tf

from tfp_ldu.bijectors.deep_sigmoidal import DeepSigmoidal
from tfp_ldu.layers.bijector_layer import BijectorLayer
from tfp_ldu.layers.bijector_layer import vector_event_size
from tfp_ldu.layers.precision import conditioner_policy
from tfp_ldu.nets.made import MADE
from tfp_ldu.nets.context_inputs import check_context

__all__ = ["DeepSigmoidalLayer"]


@keras.saving.register_keras_serializable(package="tfp_ldu")
class DeepSigmoidalLayer(BijectorLayer):
  """A MADE with 3K outputs per dimension and its `DeepSigmoidal` bijector.

      reverse=False: params(x) = MADE(x)                 (row i sees x_{<i})
      reverse=True:  params(x) = rev(MADE(rev(x)))       (row i sees x_{>i})

  where rev reverses the event axis (of the input, and the D axis of the
  `[..., D, 3K]` output), so stacked layers alternate their autoregressive
  order as MAF's order reversal does, without a permutation bijector.
  Data -> latent: z_i = logit(sum_k w_ik sigma(a_ik x_i + b_ik)) (see
  `DeepSigmoidal`).  Shapes: `[..., D] -> [..., D]`.

  Args:
    event_shape: `(D,)` (or D).
    num_components: K, sigmoids per dimension.
    hidden_units: MADE hidden sizes.
    reverse: condition on x_{>i} instead of x_{<i}.
    activation, dropout: of the MADE.
    min_log_scale, tolerance, num_halvings: of the `DeepSigmoidal` bijector.
    context_size: C > 0: the MADE takes context features `[N, C]` at every
      layer (`bijector(context=c)`), so the sigmoids depend on (x_{<i}, c).
  """

  def __init__(self, event_shape, num_components=8, hidden_units=(64, 64), reverse=False,
               activation="relu", dropout=0.0, min_log_scale=-7.0, tolerance=None,
               num_halvings=64, context_size=0, **kwargs):
    super().__init__(**kwargs)
    self.event_size = vector_event_size(type(self).__name__, event_shape)
    self.num_components = int(num_components)
    self.hidden_units = tuple(int(h) for h in hidden_units)
    self.reverse = bool(reverse)
    self.activation = activation
    self.dropout = float(dropout)
    self.min_log_scale = float(min_log_scale)
    self.tolerance = tolerance
    self.num_halvings = int(num_halvings)
    self.context_size = int(context_size)
    self.made = MADE(self.event_size, self.hidden_units,
                     params_per_dim=3 * self.num_components, activation=activation,
                     dropout=self.dropout, reverse=self.reverse,
                     context_size=self.context_size, name=f"{self.name}_made",
                     dtype=conditioner_policy(self.dtype_policy))
    self.made.build((None, self.event_size))
    self.built = True

  def parameters(self, x, training=None, context=None):
    """The raw `[..., D, 3K]` (logits, slopes, shifts) from `x` `[..., D]` (and `context`)."""
    return tf.cast(self.made(x, context=context, training=training), x.dtype)

  def bijector(self, training=None, context=None):
    """A fresh `DeepSigmoidal` over the current weights (data -> latent: `inverse`)."""
    check_context(type(self).__name__, self.context_size, context)
    return DeepSigmoidal(lambda x: self.parameters(x, training=training, context=context),
                         event_size=self.event_size, num_components=self.num_components,
                         min_log_scale=self.min_log_scale, tolerance=self.tolerance,
                         num_halvings=self.num_halvings)

  def get_config(self):
    return {**super().get_config(), "event_shape": [self.event_size],
            "num_components": self.num_components,
            "hidden_units": list(self.hidden_units), "reverse": self.reverse,
            "activation": self.activation, "dropout": self.dropout,
            "min_log_scale": self.min_log_scale, "tolerance": self.tolerance,
            "num_halvings": self.num_halvings, "context_size": self.context_size}
