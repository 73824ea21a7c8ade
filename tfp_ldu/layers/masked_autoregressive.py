"""Keras layer owning one masked autoregressive transform: MAF's, NSF's spline, IAF's."""
import keras
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_ldu.bijectors.last_input_cache import LastInputCache
from tfp_ldu.bijectors.rational_quadratic_spline_parameters import num_spline_parameters
from tfp_ldu.bijectors.rational_quadratic_spline_parameters import rational_quadratic_spline
from tfp_ldu.bijectors.rational_quadratic_spline_parameters import soft_clip
from tfp_ldu.layers.bijector_layer import BijectorLayer
from tfp_ldu.layers.bijector_layer import vector_event_size
from tfp_ldu.layers.precision import conditioner_policy
from tfp_ldu.nets.made import MADE
from tfp_ldu.nets.context_inputs import check_context

tfb = tfp.bijectors

__all__ = ["MaskedAutoregressive"]


@keras.saving.register_keras_serializable(package="tfp_ldu")
class MaskedAutoregressive(BijectorLayer):
  """A `tfb.MaskedAutoregressiveFlow` driven by this library's Keras 3 `MADE`.

  Data -> latent (the bijector's `inverse`, one pass), with the transformer
  of element i conditioned on x_{<i}:

      affine (MAF):   z_i = x_i * exp(a_i(x_{<i})) + b_i(x_{<i}),
                      a = soft_clip(MADE output) in (-ln 1e3, ln 1e3)
      spline (NSF):   z_i = RQS_i^{-1}(x_i),  RQS_i a rational-quadratic spline
                      with K bins on [-B, B] and the identity outside, its
                      3K - 1 parameters from the MADE
                      (`tfp_ldu.bijectors.rational_quadratic_spline_parameters`)

  (with `soft_clip=True`, the default: zuko's bounds; without them the
  two-moons posterior of `bench/sbi.py` drove MAF's log-scales to a NaN
  loss; layers saved before the option existed reload without it; the
  affine form is zuko's too, the shift b in latent units, see
  `latent_shift`), then
  the order is reversed (`reverse=True`) so that stacked layers
  alternate their autoregressive order.  Sampling (`forward`) runs D passes.
  `tfb.AutoregressiveNetwork` is a tf_keras layer whose weights Keras 3 never
  trains, hence the MADE here.  Shapes: `[..., D] -> [..., D]`.

  Inverted (`inverted=True`, IAF, Kingma et al. 2016): the bijector is the
  `tfb.Invert` of the one above, so the MADE conditions on the latent
  instead of the data: sampling (`forward`) is the one pass,
  x = (z - mu(z_{<i})) * exp(-alpha(z_{<i})) then the order reversed, and
  the data -> latent map (`inverse`, hence `log_prob`) runs D passes.  Use it
  where samples are needed cheaply (variational posteriors); the MADE's
  dropout is refused, as the D passes would each draw another mask.

  Conditional (`context_size=C > 0`): `bijector(context=c)`, c `[..., C]`
  broadcasting against x's batch axes, feeds c to every layer of the MADE
  (`tfp_ldu.nets.MADE`), so mu, alpha (or the spline) are functions of
  (x_{<i}, c) and the Jacobian in x stays triangular.

  Args:
    event_shape: `(D,)` (or D).
    hidden_units, activation, dropout: of the MADE.
    reverse: reverse the order after the transform.
    transformer: "affine" (MAF) or "spline" (NSF, Durkan et al. 2019).
    num_bins: K, spline bins (NSF: 8).
    bound: B, the spline's interval [-B, B] (NSF: 3).
    context_size: C, context features (0: unconditional).
    soft_clip: bound the raw log-scales (affine) or spline parameters
      smoothly, as zuko does (`rational_quadratic_spline_parameters.soft_clip`).
    inverted: IAF's direction (see above).
    latent_shift: the affine form z = x e^a + b (zuko's `MonotonicAffineTransform`;
      the default); False: z = (x - mu) e^{-alpha}, the shift in data units
      and the scale around it (the form before; layers and flows saved
      before the option existed reload with it).  Same MADE, same clip: on
      `bench/parity.py`'s digits (6 seeds) the MAF's test LL went from
      -62.84 to -61.22 nats (zuko's MAF: -61.55; docs/performance.md).

  #### References

  [1] Papamakarios, Pavlakou, Murray. Masked Autoregressive Flow for Density
      Estimation. NeurIPS 2017. https://arxiv.org/abs/1705.07057
  [2] Durkan, Bekasov, Murray, Papamakarios. Neural Spline Flows. NeurIPS
      2019. https://arxiv.org/abs/1906.04032
  [3] Kingma, Salimans, Jozefowicz, Chen, Sutskever, Welling. Improved
      Variational Inference with Inverse Autoregressive Flow. NeurIPS 2016.
      https://arxiv.org/abs/1606.04934
  """

  def __init__(self, event_shape, hidden_units=(256, 256), activation="relu", dropout=0.0,
               reverse=True, transformer="affine", num_bins=8, bound=3.0, context_size=0,
               soft_clip=True, inverted=False, latent_shift=True, **kwargs):
    super().__init__(**kwargs)
    self.event_size = vector_event_size(type(self).__name__, event_shape)
    if transformer not in ("affine", "spline"):
      raise ValueError(f'MaskedAutoregressive: transformer must be "affine" or "spline"; '
                       f"got {transformer!r}.")
    if int(num_bins) < 2 or not float(bound) > 0:
      raise ValueError(f"MaskedAutoregressive: need num_bins >= 2 and bound > 0; got "
                       f"{num_bins} and {bound}.")
    self.transformer = transformer
    self.num_bins = int(num_bins)
    self.bound = float(bound)
    self.hidden_units = tuple(hidden_units)
    self.activation = activation
    self.dropout = float(dropout)
    self.reverse = bool(reverse)
    self.context_size = int(context_size)
    self.soft_clip = bool(soft_clip)
    self.inverted = bool(inverted)
    self.latent_shift = bool(latent_shift)
    if self.inverted and self.dropout:
      raise ValueError(f"MaskedAutoregressive: an inverted (IAF) layer runs its MADE D "
                       f"times per density, each pass with another dropout mask; got "
                       f"dropout={dropout}, use 0.")
    params = 2 if transformer == "affine" else num_spline_parameters(self.num_bins)
    self.made = MADE(self.event_size, self.hidden_units, params_per_dim=params,
                     activation=activation, dropout=self.dropout,
                     context_size=self.context_size, name=f"{self.name}_made",
                     dtype=conditioner_policy(self.dtype_policy))
    self.made.build((None, self.event_size))
    self.built = True

  def bijector(self, training=None, context=None):
    """latent -> data for `context` (`[..., C]`, or None); a fresh closure per call.

    A fresh bijector per call keeps TFP's cache per instance (and per context).
    `tfb.MaskedAutoregressiveFlow` calls its function once for `inverse` and
    again for `inverse_log_det_jacobian`; the MADE runs once for both
    (`LastInputCache`).  `training` switches the MADE's dropout (None: Keras's
    ambient training flag, as inside `fit`).
    """
    check_context(type(self).__name__, self.context_size, context)
    made_output = LastInputCache(
        lambda x: tf.cast(self.made(x, context=context, training=training), x.dtype))
    if self.transformer == "affine":
      def shift_and_log_scale(x):
        params = made_output(x)
        log_scale = soft_clip(params[..., 1]) if self.soft_clip else params[..., 1]
        if self.latent_shift:  # z = x e^a + b, i.e. x = z e^-a - b e^-a.
          return -params[..., 0] * tf.exp(-log_scale), -log_scale
        return params[..., 0], log_scale
      maf = tfb.MaskedAutoregressiveFlow(shift_and_log_scale_fn=shift_and_log_scale)
    else:
      # One spline per input, so its inverse and log-det share one pass too.
      spline = LastInputCache(lambda x: rational_quadratic_spline(
          made_output(x), self.num_bins, self.bound, clip=self.soft_clip))
      maf = tfb.MaskedAutoregressiveFlow(bijector_fn=spline)
    if self.reverse:
      maf = tfb.Chain([maf, tfb.Permute(tf.range(self.event_size - 1, -1, -1))])
    return tfb.Invert(maf) if self.inverted else maf

  def get_config(self):
    return {**super().get_config(), "event_shape": [self.event_size],
            "hidden_units": list(self.hidden_units), "activation": self.activation,
            "dropout": self.dropout, "reverse": self.reverse,
            "transformer": self.transformer, "num_bins": self.num_bins, "bound": self.bound,
            "context_size": self.context_size, "soft_clip": self.soft_clip,
            "inverted": self.inverted, "latent_shift": self.latent_shift}

  @classmethod
  def from_config(cls, config):
    """Layers saved before `soft_clip` / `latent_shift` existed computed without them; still do."""
    return super().from_config({"soft_clip": False, "latent_shift": False, **config})
