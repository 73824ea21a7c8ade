"""MADE with mixture-of-Gaussians conditionals (MADE-MoG), the base of MAF-MoG."""
import keras
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_ldu.layers.bijector_layer import upgraded_config
from tfp_ldu.layers.bijector_layer import vector_event_size
from tfp_ldu.layers.precision import conditioner_policy
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

  Shapes: `u` `[..., D]`; `call(u)` returns log p(u) `[...]`.
  """

  def __init__(self, event_shape, num_components=10, hidden_units=(256, 256),
               activation="relu", dropout=0.0, **kwargs):
    """Builds the layer.

    Args:
      event_shape: `(D,)` (or D).
      num_components: K, Gaussians per conditional.
      hidden_units: MADE hidden sizes.
      activation: MADE activation.
      dropout: MADE dropout rate.
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
    self.made = MADE(self.event_size, self.hidden_units,
                     params_per_dim=3 * self.num_components, activation=activation,
                     dropout=self.dropout, name=f"{self.name}_made",
                     dtype=conditioner_policy(self.dtype_policy))
    self.made.build((None, self.event_size))
    self.built = True

  def conditionals(self, u):
    """p(u_i | u_{<i}) for every i: `Independent(MixtureSameFamily)` over `[D]`."""
    params = tf.cast(self.made(u), u.dtype)
    logits, locs, log_scales = tf.split(params, 3, axis=-1)
    mixture = tfd.MixtureSameFamily(
        mixture_distribution=tfd.Categorical(logits=logits),
        components_distribution=tfd.Normal(locs, tf.exp(log_scales)))
    return tfd.Independent(mixture, reinterpreted_batch_ndims=1)

  def distribution(self):
    """The density over `[D]` as a `tfd.Autoregressive` (sampling: D + 1 MADE passes)."""
    sample0 = tf.zeros([self.event_size], self.compute_dtype)
    return _StaticEventAutoregressive(self.conditionals, sample0=sample0,
                                      num_steps=self.event_size,
                                      event_size=self.event_size, name="made_mog")

  def call(self, u):
    """log p(u), `[...]`."""
    return self.conditionals(u).log_prob(u)

  @classmethod
  def from_config(cls, config):
    """Reads configs saved under renamed arguments (`RENAMED_ARGUMENTS`)."""
    return super().from_config(upgraded_config(config))

  def get_config(self):
    return {**super().get_config(), "event_shape": [self.event_size],
            "num_components": self.num_components,
            "hidden_units": list(self.hidden_units), "activation": self.activation,
            "dropout": self.dropout}


class _StaticEventAutoregressive(tfd.Autoregressive):
  """`tfd.Autoregressive` with the static event shape `[D]` it cannot infer itself."""

  def __init__(self, distribution_fn, sample0, num_steps, event_size, name):
    self._static_event_size = int(event_size)
    super().__init__(distribution_fn, sample0=sample0, num_steps=num_steps, name=name)

  def _event_shape(self):
    return tf.TensorShape([self._static_event_size])
