"""Augmented ("marginalising") flows: any flow on (x, e), trained on a bound of log p(x)."""
import math

import keras
import numpy as np
import tensorflow as tf

from tfp_ldu.flows.flow_model import FlowModel
from tfp_ldu.layers.flatten_event import FlattenEvent

__all__ = ["AugmentedFlow"]


@keras.saving.register_keras_serializable(package="tfp_ldu")
class AugmentedFlow(FlowModel):
  """A flow over (x, e) with E extra noise dimensions, used as a density of x.

  The data x (D scalars) are augmented with e ~ q(e) = N(0, I_E), and
  `flow` (any `FlowModel` on D + E dimensions) models the joint p(x, e).
  Since p(x) = E_q[p(x, e) / q(e)], Jensen gives the training bound and
  importance sampling the evaluation estimate (Huang, Dinh & Courville 2020):

      call(x)      = log p(x, e) - log q(e),                e ~ q   (1 sample)
      log_prob(x)  = log (1/K) sum_k p(x, e_k) / q(e_k),    e_k ~ q (K samples)

  Both are stochastic lower bounds of log p(x) in expectation; the K-sample
  estimate never decreases with K in expectation and tends to log p(x).
  `sample(n)` draws (x, e) from the joint flow and drops e.  The extra
  dimensions give the flow room to represent densities a D-dimensional
  bijection cannot (e.g. planar flows on multi-modal data).

  Discrete data: a `dequantizer` and `logit_alpha` act on x before it is
  augmented (the noise dimensions are never logit-transformed), with their
  log-dets counted as in `FlowModel`.

  Conditional p(x | c): give it a conditional inner flow (built with
  `context_shape`); the augmented flow then takes the same contexts (raw, as
  every `FlowModel`: `fit({"x": x, "context": c})`, `log_prob(x, context=c)`,
  `importance_weighted_log_prob(x, K, context=c)`, `sample(n, context=c)`)
  and hands them to the inner flow, which standardises and embeds them:
  p(x, e | c) is the joint flow's, and every bound above holds given c
  (q(e) stays N(0, I)).

  Shapes: x `[N, *event_shape]` (images may come as flat rows), the joint
  `[N, D + E]`, `latent_shape = (D + E,)`.

  Args:
    event_shape: shape of one data point x (D = its size).
    flow: a `FlowModel` with `event_size == D + augment_dims`, no dequantiser
      and no logit preprocessing of its own; conditional or not (the
      augmented flow's `context_shape` is the flow's).
    augment_dims: E >= 1.
    num_importance_samples: K of `log_prob` (default 100).
    seed: initial seed of the augmentation noise (None: random).
    **kwargs: `FlowModel` arguments (`dequantizer`, `logit_alpha`, `name`, ...;
      not `context_shape` or `context_net`, which belong to the inner flow).

  #### Example

  ```python
  from tfp_ldu.flows import AugmentedFlow, MAF
  x = np.random.default_rng(0).normal(size=(256, 2)).astype("float32")
  model = AugmentedFlow(2, MAF(4, num_blocks=2, hidden_units=(16,)), augment_dims=2)
  model.compile(keras.optimizers.Adam(1e-3))
  model.fit(x, batch_size=64, epochs=1, verbose=0)
  model.log_prob(x[:5])                                   # [5], 100-sample estimate
  model.importance_weighted_log_prob(x[:5], num_samples=10)
  model.sample(3)                                         # [3, 2]
  ```

  #### References

  [1] Huang, Dinh, Courville. Augmented Normalizing Flows: Bridging the Gap
      Between Generative Flows and Latent Variable Models.
      https://arxiv.org/abs/2002.07101
  [2] Chen, Lu, Chenli, Zhu, Tian. VFlow: More Expressive Generative Flows
      with Variational Data Augmentation. https://arxiv.org/abs/2002.09741
  """

  sample_outputs = ("samples", "latents", "joint_samples")

  def __init__(self, event_shape, flow, augment_dims, num_importance_samples=100, seed=None,
               **kwargs):
    if not isinstance(flow, FlowModel):
      raise TypeError(f"AugmentedFlow: flow must be a tfp_ldu FlowModel; got "
                      f"{type(flow).__name__}.")
    augment_dims = int(augment_dims)
    if augment_dims < 1:
      raise ValueError(f"AugmentedFlow: augment_dims must be >= 1; got {augment_dims}.")
    if int(num_importance_samples) < 1:
      raise ValueError(f"AugmentedFlow: num_importance_samples must be >= 1; got "
                       f"{num_importance_samples}.")
    data_size = math.prod((int(event_shape),) if np.ndim(event_shape) == 0
                          else tuple(event_shape))
    if flow.event_shape != (data_size + augment_dims,):
      raise ValueError(f"AugmentedFlow: flow must model vectors of D + E = {data_size} + "
                       f"{augment_dims} = {data_size + augment_dims} scalars; its "
                       f"event_shape is {flow.event_shape}.")
    if flow.dequantizer is not None or flow.logit_alpha is not None:
      raise ValueError("AugmentedFlow: give the dequantizer and logit_alpha to the "
                       "AugmentedFlow (they act on x only), not to the inner flow.")
    if kwargs.get("context_shape") or kwargs.get("context_net") is not None:
      raise ValueError("AugmentedFlow: the context belongs to the inner flow; build it with "
                       "context_shape (and context_net) and the augmented flow takes the "
                       "same contexts.")
    super().__init__(event_shape, latent_shape=(data_size + augment_dims,), **kwargs)
    self.flow = flow
    # The inner flow's context: raw contexts pass through to it, which
    # standardises and embeds them (so this model has no standardisation).
    self.context_shape, self.context_size = flow.context_shape, flow.context_size
    self.augment_dims = augment_dims
    self.num_importance_samples = int(num_importance_samples)
    self.seed = seed
    self.seed_generator = keras.random.SeedGenerator(seed, name="augmentation_seed")
    # x -> flat h (after the logit preprocessing of x, if any).
    self.flow_layers = [FlattenEvent(self.event_shape, name="flatten_event")]
    self.built = True

  # ---- the context: the inner flow's ---------------------------------------
  @property
  def reads_context(self):
    return self.flow.reads_context

  @property
  def needs_context_statistics(self):
    return self.flow.needs_context_statistics

  def set_context_statistics(self, context):
    """Sets the inner flow's context standardisation (see `FlowModel`)."""
    self.flow.set_context_statistics(context)

  # ---- the bound and the importance-weighted estimate ----------------------
  def _joint_log_weights(self, x, num_samples, training=None, context=None):
    """`[K, N]` log p(h, e_k | c) - log q(e_k) + log|dh/dx| for K draws e_k ~ N(0, I)."""
    preprocessing = self._chain(training, None)  # x -> flat (logit) h, closed form
    h = preprocessing.inverse(x)
    # An empty chain's log-det is a float32 0 whatever the input's dtype.
    log_det = tf.cast(preprocessing.inverse_log_det_jacobian(
        x, event_ndims=len(self.event_shape)), h.dtype)
    batch = tf.shape(h)[0]
    tiled = tf.reshape(tf.tile(h[tf.newaxis], [num_samples, 1, 1]), [-1, self.event_size])
    noise = self._noise(num_samples * batch, h.dtype)
    log_q = (-0.5 * tf.reduce_sum(tf.square(noise), axis=-1)
             - 0.5 * self.augment_dims * math.log(2. * math.pi))
    if context is not None:  # Row k N + n goes with context n.
      context = tf.reshape(tf.tile(context[tf.newaxis], [num_samples] + [1] * context.shape.rank),
                           [-1, *self.context_shape])
    joint = self.flow.transformed_distribution(training, context).log_prob(
        tf.concat([tiled, noise], axis=-1))
    return tf.reshape(joint - log_q, tf.stack([num_samples, batch])) + log_det

  def _noise(self, count, dtype):
    """`[count, E]` draws e ~ N(0, I) from the model's seed generator."""
    return keras.random.normal(tf.stack([count, self.augment_dims]), dtype=dtype,
                               seed=self.seed_generator)

  def _importance_weighted(self, x, num_samples, training=None, context=None):
    log_weights = self._joint_log_weights(x, num_samples, training, context)
    return tf.reduce_logsumexp(log_weights, axis=0) - math.log(num_samples)

  def call(self, inputs, training=None):
    """The one-sample bound log p(x, e | c) - log q(e) (minus log q of the dequantiser).

    `inputs`: x, or `{"x": x, "context": c}` for a conditional inner flow.
    """
    x, context = self._as_inputs(inputs)
    if self.dequantizer is None:
      return self._importance_weighted(x, 1, training, context)
    y, log_q = self.dequantizer(x, training=training)
    return self._importance_weighted(y, 1, training, context) - log_q

  def evaluation_log_prob(self, x, context=None):
    return self._importance_weighted(x, self.num_importance_samples, False, context)

  @property
  def test_log_likelihood_kind(self):
    """`log_prob`'s importance-weighted bound, or with a dequantiser the one-sample bound."""
    if self.dequantizer is None:
      return "importance-weighted bound"
    return "one-sample augmentation bound"

  def importance_weighted_log_prob(self, x, num_samples, context=None):
    """`[N]` K-sample importance-weighted estimate of log p(x[ | c]), K = `num_samples`.

    `context`: raw contexts `[N, *context_shape]` or one, for a conditional flow.
    """
    x, context = self._as_inputs(x if context is None else {"x": x, "context": context})
    if int(num_samples) < 1:
      raise ValueError(f"AugmentedFlow: num_samples must be >= 1; got {num_samples}.")
    return self._importance_weighted(x, int(num_samples), False, context)

  # ---- sampling ------------------------------------------------------------
  def base_distribution(self, features=None):
    return self.flow.base_distribution(features)

  def draw_with_diagnostics(self, n, seed, temperature=1.0, context=None):
    joint = self.flow.draw_with_diagnostics(n, seed, temperature, context)
    h = joint["samples"][..., :self.event_size]
    return dict(samples=self._chain(None, None).forward(h), latents=joint["latents"],
                joint_samples=joint["samples"], max_iterations=joint["max_iterations"],
                num_unconverged=joint["num_unconverged"])

  def sampling_residual(self, result, context=None):
    """max |T(joint sample) - latent| over the joint flow (see `FlowModel`)."""
    again = self.flow.flow_bijector(context=context).inverse(
        tf.identity(result["joint_samples"]))
    return tf.reduce_max(tf.abs(again - result["latents"]))

  def reconstruct(self, x, max_iterations, context=None):
    raise NotImplementedError(
        "AugmentedFlow.reconstruct: x alone has no latent; use model.flow.reconstruct on "
        "augmented points (x, e).")

  @property
  def distribution(self):
    raise NotImplementedError(
        "AugmentedFlow.distribution: the marginal of x has no closed form; "
        "model.flow.distribution is the joint distribution of (x, e), and "
        "model.log_prob(x) the importance-weighted estimate of log p(x).")

  def conditioned(self, context):
    raise NotImplementedError(
        "AugmentedFlow.conditioned: the marginal of x given c has no closed form; "
        "model.flow.conditioned(c) is the joint distribution of (x, e) given c, and "
        "model.log_prob(x, context=c) the importance-weighted estimate of log p(x | c).")

  # ---- initialisation and saving --------------------------------------------
  def initialize(self, batch):
    """Data-dependent initialisation of the joint flow from augmented points of `batch`.

    `batch`: x, or `{"x": x, "context": c}` (the inner flow then also sets its
    context statistics, unless they are set).
    """
    x, context = self._as_inputs(batch)
    if self.dequantizer is not None:
      x, _ = self.dequantizer(x, training=False)
    h = self._chain(False, None).inverse(x)
    joint = tf.concat([h, self._noise(tf.shape(h)[0], h.dtype)], axis=-1)
    self.flow.initialize(joint if context is None else {"x": joint, "context": context})

  @property
  def needs_initialization(self):
    return self.flow.needs_initialization

  def get_config(self):
    config = super().get_config()
    for name in ("context_shape", "context_net"):  # The inner flow's.
      config.pop(name, None)
    config.update(flow=keras.saving.serialize_keras_object(self.flow),
                  augment_dims=self.augment_dims,
                  num_importance_samples=self.num_importance_samples, seed=self.seed)
    return config

  @classmethod
  def from_config(cls, config):
    config = dict(config)
    config["flow"] = keras.saving.deserialize_keras_object(config["flow"])
    return super().from_config(config)
