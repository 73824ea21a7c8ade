"""Keras layer owning the conditioner of one Flow++ mixture-logistic coupling."""
import keras
import numpy as np
import tensorflow as tf

from tfp_ldu.bijectors.mixture_logistic_coupling import (MixtureLogisticCoupling,
                                                         half_transform_mask)
from tfp_ldu.bijectors.mixture_logistic_parameters import (
    mixture_logistic_parameters, num_mixture_logistic_parameters)
from tfp_ldu.bijectors.shape_checks import check_transform_mask
from tfp_ldu.layers.bijector_layer import BijectorLayer
from tfp_ldu.layers.bijector_layer import vector_event_size
from tfp_ldu.layers.precision import conditioner_policy
from tfp_ldu.nets.context_inputs import check_context
from tfp_ldu.nets.context_inputs import concat_context
from tfp_ldu.nets.gated_residual_mlp import GatedResidualMLP

__all__ = ["MixtureLogisticCouplingLayer"]


@keras.saving.register_keras_serializable(package="tfp_ldu")
class MixtureLogisticCouplingLayer(BijectorLayer):
  """Owns a `GatedResidualMLP` conditioner; `bijector()` builds the coupling.

  The network maps the pass-through part x_p (`[..., D_p]`, gathered from the
  event with the transformed part zeroed, as `MaskedCoupling` passes it) to 3K + 2 numbers
  per transformed dimension (`[..., D_t, 3K + 2]`), read by
  `tfp_ldu.bijectors.mixture_logistic_parameters.mixture_logistic_parameters`:

      logits     = out[..., 0:K]
      locs       = out[..., K:2K]
      log_scales = out[..., 2K:3K]     (clamped below at `min_log_scale`)
      log_a      = tanh(out[..., 3K])  (bounded output log-scale, as in Flow++)
      b          = out[..., 3K + 1]

  The network's output starts near 0, so the coupling starts near the
  identity (K equal standard logistics: z = logit(sigma(x)) = x).  Shapes:
  `[..., D] -> [..., D]`.

  Args:
    event_shape: `(D,)` (or D) with D >= 2.
    transform_mask: `[D]` bools, True where transformed; default: the second
      half (`half_transform_mask(D)`).
    num_components: K.
    hidden_units: widths of the gated residual blocks.
    activation, dropout, layer_norm: of the gated residual blocks.
    min_log_scale, tolerance, num_halvings: of the `MixtureLogisticCDF`.
    context_size: C > 0 for a conditional coupling: the network reads
      `[x_p, c]` (`bijector(context=c)`, c `[N, C]`; `concat_context`).
  """

  def __init__(self, event_shape, transform_mask=None, num_components=4,
               hidden_units=(64, 64), activation="relu", dropout=0.0, layer_norm=True,
               min_log_scale=-7.0, tolerance=None, num_halvings=64, context_size=0,
               **kwargs):
    super().__init__(**kwargs)
    self.event_size = vector_event_size(type(self).__name__, event_shape)
    if self.event_size < 2:
      raise ValueError(f"MixtureLogisticCouplingLayer: a coupling needs event_shape (D,) "
                       f"with D >= 2; got {event_shape!r}.")
    self.transform_mask = mask = check_transform_mask(
        "MixtureLogisticCouplingLayer",
        half_transform_mask(self.event_size) if transform_mask is None else transform_mask,
        (self.event_size,))
    self.num_components = int(num_components)
    self.hidden_units = tuple(int(h) for h in hidden_units)
    self.activation = activation
    self.dropout = float(dropout)
    self.layer_norm = bool(layer_norm)
    self.min_log_scale = float(min_log_scale)
    self.tolerance = tolerance
    self.num_halvings = int(num_halvings)
    num_pass = int(np.sum(~mask))
    self.context_size = int(context_size)
    self.conditioner = GatedResidualMLP(
        num_pass + self.context_size, int(np.sum(mask)), num_mixture_logistic_parameters(self.num_components),
        self.hidden_units,
        activation=activation, dropout=self.dropout, layer_norm=self.layer_norm,
        name="conditioner", dtype=conditioner_policy(self.dtype_policy))
    self.conditioner.build((None, num_pass + self.context_size))
    self._pass_indices = np.flatnonzero(~mask)
    self.built = True

  def mixture_parameters(self, masked, context=None, training=None):
    """(logits, locs, log_scales `[..., D_t, K]`, log_a, b `[..., D_t]`) from the
    event `[..., D]` with its transformed part zeroed (and the context `[N, C]`);
    `training` switches the conditioner's dropout."""
    inputs = concat_context(tf.gather(masked, self._pass_indices, axis=-1), context)
    out = tf.cast(self.conditioner(inputs, training=training), masked.dtype)
    return mixture_logistic_parameters(out, self.num_components)

  def bijector(self, training=None, context=None):
    """A fresh `MixtureLogisticCoupling` over the current weights (given `context`)."""
    check_context(type(self).__name__, self.context_size, context)
    return MixtureLogisticCoupling(
        lambda masked: self.mixture_parameters(masked, context, training),
        self.transform_mask,
        min_log_scale=self.min_log_scale,
        tolerance=self.tolerance, num_halvings=self.num_halvings)

  def get_config(self):
    return {**super().get_config(), "event_shape": [self.event_size],
            "transform_mask": self.transform_mask.tolist(),
            "num_components": self.num_components, "hidden_units": list(self.hidden_units),
            "activation": self.activation, "dropout": self.dropout,
            "layer_norm": self.layer_norm, "min_log_scale": self.min_log_scale,
            "tolerance": self.tolerance, "num_halvings": self.num_halvings,
            "context_size": self.context_size}
