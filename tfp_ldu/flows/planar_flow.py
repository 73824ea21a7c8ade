"""Planar flow (Rezende & Mohamed, 2015) as a Keras model."""
import keras

from tfp_ldu.flows.flow_model import FlowModel
from tfp_ldu.layers.flatten_event import FlattenEvent
from tfp_ldu.layers.flatten_event import flat_event_shape
from tfp_ldu.layers.actnorm import ActNorm
from tfp_ldu.layers.planar_layer import PlanarLayer

__all__ = ["PlanarFlow"]


@keras.saving.register_keras_serializable(package="tfp_ldu")
class PlanarFlow(FlowModel):
  """`num_layers` planar layers, then ActNorm.

      T(x) = A(P_L(... P_1(x))),   P_l(x) = x + u_hat_l tanh(w_l^T x + b_l)
      log p(x) = log N(T(x); 0, I) + sum_l log1p(w_l^T u_hat_l sech^2(w_l^T x_l + b_l))
                 - sum_i s_i

  with x_l the input of layer l and A the ActNorm z = (x - m) e^{-s},
  initialised from the first batch as in the other flows.  `log_prob` is one
  closed-form pass; `sample` solves each layer by a scalar bisection (see
  `tfp_ldu.bijectors.Planar`).  Each layer is a rank-one update, so many
  layers are needed for complex densities (the paper uses up to 80).

  Conditional (`context_shape=...`): each layer's u, w and b are functions
  of the context features through a small hyper-network (`PlanarLayer`
  with `context_size`), invertible for every context.

  Args:
    event_shape: D (an int or `(D,)`); image shapes are flattened to `[D]`.
    num_layers: planar layers.
    margin: each layer keeps w^T u_hat >= -1 + margin (see `PlanarLayer`).
    tolerance, num_halvings: bisection settings used by `sample`.
    context_hidden_units: hidden units of each layer's hyper-network
      (conditional flows only).
    **kwargs: `FlowModel` arguments (`context_shape`, `context_net`, `dtype`, ...).
  """

  takes_context = True

  def __init__(self, event_shape, num_layers=8, margin=1e-2, tolerance=None,
               num_halvings=64, context_hidden_units=16, **kwargs):
    super().__init__(event_shape, latent_shape=flat_event_shape(event_shape), **kwargs)
    self.num_layers = int(num_layers)
    if self.num_layers < 1:
      raise ValueError(f"PlanarFlow: num_layers must be a positive int; got "
                       f"{num_layers!r}.")
    self.layer_options = dict(margin=float(margin), tolerance=tolerance,
                              num_halvings=int(num_halvings))
    if self.conditional:  # Unconditional configs stay as they were.
      self.layer_options["context_hidden_units"] = int(context_hidden_units)
    self.planar_layers = [PlanarLayer(self.event_size, name=f"planar_{i}",
                                      dtype=self.dtype_policy,
                                      context_size=self.context_size, **self.layer_options)
                          for i in range(self.num_layers)]
    self.actnorm = ActNorm(self.event_size, name="actnorm", dtype=self.dtype_policy)
    flatten = FlattenEvent(self.event_shape, name="flatten_event")  # images -> [D]
    self.flow_layers = [flatten, *self.planar_layers, self.actnorm]

  def get_config(self):
    return {**super().get_config(), "num_layers": self.num_layers, **self.layer_options}
