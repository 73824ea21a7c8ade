"""MADE with mixture-of-Gaussians conditionals (MADE-MoG), the base of MAF-MoG."""
import keras
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_ldu.layers.bijector_layer import upgraded_config
from tfp_ldu.layers.bijector_layer import vector_event_size
from tfp_ldu.layers.precision import conditioner_policy
from tfp_ldu.nets.context_inputs import check_context
from tfp_ldu.nets.made import MADE

tfd = tfp.distributions

__all__ = ["MADEMoG"]


@keras.saving.register_keras_serializable(package="tfp_ldu")
class MADEMoG(keras.layers.Layer):
  """An autoregressive density whose conditionals are K-component Gaussian mixtures.

      p(u) = prod_i sum_k pi_ik N(u_i; mu_ik, sigma_ik),
      (logits_i, mu_i, log sigma_i) = MADE(u_{<i}),   pi_i = softmax(logits_i)

  One MADE pass (`params_per_dim = 3K`) gives every conditional, so
  `log_prob` is one pass; `distribution().sample(n)` needs D + 1 passes
  (`tfd.Autoregressive`).  MAF uses it as its base distribution
  (`MAF(base="mog")`, the MAF paper's MAF-MoG); on its own it is the
  paper's MADE-MoG.

  Conditional (`context_size=C > 0`): p(u | c), the context features c
  `[..., C]` entering every layer of the MADE as they enter MAF's MADEs
  (`tfp_ldu.nets.MADE`), so every conditional's mixture moves with c;
  `distribution(c)` with c `[B, C]` has batch shape `[B]`.  `MAF(base="mog",
  context_shape=...)` gives its base the same features as its transforms.

  Shapes: `u` `[..., D]`; `call(u, context)` returns log p(u | c) `[...]`.
  """

  def __init__(self, event_shape, num_components=10, hidden_units=(256, 256),
               activation="relu", dropout=0.0, context_size=0, **kwargs):
    """Builds the layer.

    Args:
      event_shape: `(D,)` (or D).
      num_components: K, Gaussians per conditional.
      hidden_units: MADE hidden sizes.
      activation: MADE activation.
      dropout: MADE dropout rate.
      context_size: C, context features (0: unconditional).
      **kwargs: standard Keras layer arguments.
    """
    super().__init__(**kwargs)
    if int(num_components) < 1:
      raise ValueError(f"MADEMoG: num_components must be >= 1; got {num_components}.")
    self.event_size = vector_event_size(type(self).__name__, event_shape)
    self.num_components = int(num_components)
    self.hidden_units = tuple(int(h) for h in hidden_units)
    self.activation = activation
    self.dropout = float(dropout)
    self.context_size = int(context_size)
    self.made = MADE(self.event_size, self.hidden_units,
                     params_per_dim=3 * self.num_components, activation=activation,
                     dropout=self.dropout, context_size=self.context_size,
                     name=f"{self.name}_made",
                     dtype=conditioner_policy(self.dtype_policy))
    self.made.build((None, self.event_size))
    self.built = True

  def conditionals(self, u, context=None):
    """p(u_i | u_{<i}[, c]) for every i: `Independent(MixtureSameFamily)` over `[D]`."""
    params = tf.cast(self.made(u, context=context), u.dtype)
    logits, locs, log_scales = tf.split(params, 3, axis=-1)
    mixture = tfd.MixtureSameFamily(
        mixture_distribution=tfd.Categorical(logits=logits),
        components_distribution=tfd.Normal(locs, tf.exp(log_scales)))
    return tfd.Independent(mixture, reinterpreted_batch_ndims=1)

  def distribution(self, context=None):
    """The density over `[D]` as a `tfd.Autoregressive` (sampling: D + 1 MADE passes).

    `context` `[B, C]` (conditional layers only): p(. | c) of batch shape `[B]`.
    """
    check_context(type(self).__name__, self.context_size, context)
    batch = [] if context is None else [context.shape[0] or tf.shape(context)[0]]
    sample0 = tf.zeros([*batch, self.event_size], self.compute_dtype)
    return _StaticEventAutoregressive(lambda u: self.conditionals(u, context),
                                      sample0=sample0, num_steps=self.event_size,
                                      event_size=self.event_size, name="made_mog")

  def call(self, u, context=None):
    """log p(u[ | c]), `[...]`."""
    return self.conditionals(u, context).log_prob(u)

  @classmethod
  def from_config(cls, config):
    """Reads configs saved under renamed arguments (`RENAMED_ARGUMENTS`)."""
    return super().from_config(upgraded_config(config))

  def get_config(self):
    config = {**super().get_config(), "event_shape": [self.event_size],
              "num_components": self.num_components,
              "hidden_units": list(self.hidden_units), "activation": self.activation,
              "dropout": self.dropout}
    if self.context_size:  # Unconditional configs stay as they were.
      config["context_size"] = self.context_size
    return config


class _StaticEventAutoregressive(tfd.Autoregressive):
  """`tfd.Autoregressive` with the static shapes it cannot infer itself.

  The event shape `[D]`, and the batch shape: `sample0`'s leading axes
  (`[B]` for B contexts, `[]` without).
  """

  def __init__(self, distribution_fn, sample0, num_steps, event_size, name):
    self._static_event_size = int(event_size)
    self._static_batch_shape = tf.TensorShape(sample0.shape[:-1])
    super().__init__(distribution_fn, sample0=sample0, num_steps=num_steps, name=name)

  def _event_shape(self):
    return tf.TensorShape([self._static_event_size])

  def _batch_shape(self):
    return self._static_batch_shape
