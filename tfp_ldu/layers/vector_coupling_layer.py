"""Keras layer owning one vector coupling: RealNVP's affine, or NSF's spline, transformer."""
import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_ldu.bijectors.elementwise_affine import ElementwiseAffine
from tfp_ldu.bijectors.masked_coupling import MaskedCoupling
from tfp_ldu.bijectors.masks import half_transform_mask
from tfp_ldu.bijectors.rational_quadratic_spline_parameters import num_spline_parameters
from tfp_ldu.bijectors.rational_quadratic_spline_parameters import rational_quadratic_spline
from tfp_ldu.bijectors.rational_quadratic_spline_parameters import soft_clip
from tfp_ldu.bijectors.shape_checks import check_transform_mask
from tfp_ldu.layers.bijector_layer import BijectorLayer
from tfp_ldu.layers.bijector_layer import vector_event_size
from tfp_ldu.layers.precision import conditioner_policy
from tfp_ldu.nets.context_inputs import check_context
from tfp_ldu.nets.context_inputs import concat_context
from tfp_ldu.nets.gated_residual_mlp import GatedResidualMLP

tfb = tfp.bijectors

__all__ = ["VectorCouplingLayer"]

TRANSFORMERS = ("affine", "spline")


@keras.saving.register_keras_serializable(package="tfp_ldu")
class VectorCouplingLayer(BijectorLayer):
  """Owns a `GatedResidualMLP` conditioner; `bijector()` builds a `MaskedCoupling`.

  With m = `transform_mask` (default: the second half of the vector), the
  network maps the pass-through part x_p = x[~m] (`[..., D_p]`), and the
  context c if any, to P numbers per transformed element (`[..., D_t, P]`).
  Data -> latent (the bijector's `inverse`, one pass), on x_t = x[m]:

      affine (RealNVP):  z_t = (x_t - mu) * exp(-alpha),   P = 2
                         alpha = soft_clip(out[..., 1]) in (-ln 1e3, ln 1e3)
                         inverse_log_det_jacobian = -sum alpha
      spline (NSF, C):   z_t = RQS^{-1}(x_t),              P = 3K - 1
                         RQS a rational-quadratic spline with K bins on
                         [-B, B] and the identity outside
                         (`tfp_ldu.bijectors.rational_quadratic_spline_parameters`)

  and z_p = x_p, then the order is reversed (`reverse=True`), so that in a
  stack every coupling transforms the other half of its input than the one
  before (for odd D the halves also shift by one element).  Sampling
  (`forward`) is one pass too: x_p = z_p, and the transformer's closed-form
  inverse on z_t.  The network's output starts near 0, which is the
  identity for both transformers (`soft_clip=True` also bounds the spline's
  raw parameters, as zuko does; without it alpha is unbounded).  Shapes:
  `[..., D] -> [..., D]`, D >= 2.

  Conditional (`context_size=C > 0`): `bijector(context=c)`, c `[N, C]`, and
  the network reads `[x_p, c]` (`concat_context`), as nflows and zuko do.

  Args:
    event_shape: `(D,)` (or D) with D >= 2.
    transform_mask: `[D]` bools, True where transformed; default: the second
      half (`half_transform_mask(D)`).
    transformer: "affine" (RealNVP) or "spline" (NSF's coupling variant).
    num_bins: K, spline bins (NSF: 8).
    bound: B, the spline's interval [-B, B] (NSF: 3).
    hidden_units, activation, dropout, layer_norm: of the gated residual
      blocks (`tfp_ldu.nets.GatedResidualMLP`).
    soft_clip: bound the log-scales (affine) or raw spline parameters smoothly.
    reverse: reverse the order after the coupling.
    context_size: C, context features (0: unconditional).
    **kwargs: standard Keras layer arguments.

  #### References

  [1] Dinh, Sohl-Dickstein, Bengio. Density estimation using Real NVP.
      ICLR 2017. https://arxiv.org/abs/1605.08803
  [2] Durkan, Bekasov, Murray, Papamakarios. Neural Spline Flows. NeurIPS
      2019. https://arxiv.org/abs/1906.04032
  """

  def __init__(self, event_shape, transform_mask=None, transformer="affine", num_bins=8,
               bound=3.0, hidden_units=(64, 64), activation="relu", dropout=0.0,
               layer_norm=False, soft_clip=True, reverse=True, context_size=0, **kwargs):
    super().__init__(**kwargs)
    owner = type(self).__name__
    self.event_size = vector_event_size(owner, event_shape)
    if self.event_size < 2:
      raise ValueError(f"{owner}: a coupling needs event_shape (D,) with D >= 2; got "
                       f"{event_shape!r}.")
    if transformer not in TRANSFORMERS:
      raise ValueError(f"{owner}: transformer must be one of {TRANSFORMERS}; got "
                       f"{transformer!r}.")
    if int(num_bins) < 2 or not float(bound) > 0:
      raise ValueError(f"{owner}: need num_bins >= 2 and bound > 0; got {num_bins} and "
                       f"{bound}.")
    self.transform_mask = mask = check_transform_mask(
        owner, half_transform_mask(self.event_size) if transform_mask is None
        else transform_mask, (self.event_size,))
    self.transformer = transformer
    self.num_bins = int(num_bins)
    self.bound = float(bound)
    self.hidden_units = tuple(int(h) for h in hidden_units)
    self.activation = activation
    self.dropout = float(dropout)
    self.layer_norm = bool(layer_norm)
    self.soft_clip = bool(soft_clip)
    self.reverse = bool(reverse)
    self.context_size = int(context_size)
    self._pass_indices = np.flatnonzero(~mask)
    inputs = len(self._pass_indices) + self.context_size
    params = 2 if transformer == "affine" else num_spline_parameters(self.num_bins)
    self.conditioner = GatedResidualMLP(
        inputs, int(np.sum(mask)), params, self.hidden_units, activation=activation,
        dropout=self.dropout, layer_norm=self.layer_norm, name="conditioner",
        dtype=conditioner_policy(self.dtype_policy))
    self.conditioner.build((None, inputs))
    self.built = True

  def _transformer(self, out):
    """The element-wise bijector (latent -> data as `forward`) of raw parameters `[..., D_t, P]`."""
    if self.transformer == "spline":
      return rational_quadratic_spline(out, self.num_bins, self.bound, clip=self.soft_clip)
    log_scale = soft_clip(out[..., 1]) if self.soft_clip else out[..., 1]
    return ElementwiseAffine(shift=out[..., 0], log_scale=log_scale, event_ndims=1,
                             name="affine")

  def bijector(self, training=None, context=None):
    """latent -> data for `context` (`[N, C]`, or None); a fresh bijector per call."""
    check_context(type(self).__name__, self.context_size, context)

    def conditioner(masked):
      inputs = concat_context(tf.gather(masked, self._pass_indices, axis=-1), context)
      return tf.cast(self.conditioner(inputs, training=training), masked.dtype)

    coupling = MaskedCoupling(conditioner, self._transformer, self.transform_mask)
    if not self.reverse:
      return coupling
    return tfb.Chain([coupling, tfb.Permute(tf.range(self.event_size - 1, -1, -1))])

  def get_config(self):
    return {**super().get_config(), "event_shape": [self.event_size],
            "transform_mask": self.transform_mask.tolist(), "transformer": self.transformer,
            "num_bins": self.num_bins, "bound": self.bound,
            "hidden_units": list(self.hidden_units), "activation": self.activation,
            "dropout": self.dropout, "layer_norm": self.layer_norm,
            "soft_clip": self.soft_clip, "reverse": self.reverse,
            "context_size": self.context_size}
