"""B LDU blocks whose weights are stacked along a block axis and run in one loop."""
import keras
import numpy as np
import tensorflow as tf

from tfp_ldu.bijectors.ldu import LDU
from tfp_ldu.bijectors.looped_chain import LoopedChain
from tfp_ldu.bijectors.sinusoidal import Sinusoidal
from tfp_ldu.layers.bijector_layer import BijectorLayer
from tfp_ldu.layers.bijector_layer import vector_event_size
from tfp_ldu.layers.precision import conditioner_policy
from tfp_ldu.layers.sinusoidal_parameters import add_d_scale_weights
from tfp_ldu.layers.sinusoidal_parameters import constrain_d_scale
from tfp_ldu.layers.sinusoidal_parameters import read_d_scale
from tfp_ldu.nets.context_inputs import check_context
from tfp_ldu.nets.made import context_kernel_initializer, fan_in_uniform
from tfp_ldu.nets.made import made_forward, made_masks

__all__ = ["StackedLDUBlocks"]


@keras.saving.register_keras_serializable(package="tfp_ldu")
class StackedLDUBlocks(BijectorLayer):
  """`num_blocks` MADE `LDUBlock`s as one layer with block-stacked weights.

  Block b (b = 0..B-1, data -> latent order) is the `LDU` bijector

      LDU_b = L_b D_{b,n} ... D_{b,1} U_b,
      U_b(x) = x + rev(MADE_b^U(rev(x))),   L_b(x) = x + MADE_b^L(x),
      D_{b,j} = Sinusoidal(softplus(raw_in_scale[b, j]), in_shift[b, j],
                           softmax(mix_logits[b, j]), out_shift[b, j],
                           tanh(raw_residual[b, j]))

  exactly as `LDUBlock` builds it, but every weight carries a leading block
  axis (MADE layer l: kernel `[B, fan_in, fan_out]`, bias `[B, fan_out]`;
  D-scales `[B, n, D, K]` and `[B, n, D]`), and `bijector()` returns a
  `LoopedChain` whose loop body gathers slice b and builds LDU_b.  The graph
  therefore holds one block whatever B is: tracing, differentiating and
  optimising a training step cost about as much as for one block, and the
  optimizer updates 4 L + 5 variables (L = number of MADE layers) instead of
  B (4 L + 5 n).

  With `dropout` > 0, each MADE hidden layer is followed by inverted dropout
  in training (as `MADE(dropout=...)`), its masks drawn statelessly from one
  seed per call of `bijector(training=True)` folded with (block, side, layer),
  so every block and step gets fresh masks inside the loop and under XLA.

  Initialisation matches `LDUBlock`'s: MADE kernels and biases
  U(+-1/sqrt(fan_in)) (i.i.d., so every block's slice independently),
  raw in-scales and in-shifts U(-3, 3), the rest 0 (D-scales start as the
  identity).  `load_from_blocks` copies the weights of B `LDUBlock`s.
  Shapes: `[..., D] -> [..., D]`.

  Args:
    event_shape: `(D,)` (or D).
    num_blocks: B.
    num_d_scales: n, D-scales per block.
    num_components: K.
    hidden_units: MADE hidden sizes.
    activation: MADE activation.
    dropout: dropout rate after each MADE hidden layer, in [0, 1).
    seed: seed of the dropout masks (None: Keras' global seed).
    context_size: C > 0 for a conditional stack: every MADE takes the context
      features `[N, C]` (`bijector(context=c)`, `tfp_ldu.nets.MADE`).
    context_d_scales: with a context, also move the D-scales' raw parameters
      by c V (V `[B, n, C, D (3K + 2)]`, zeros at first;
      `constrained_d_scale`), so each block's element-wise shapes depend on c.
    tolerance, max_iterations, solver: numeric-inverse settings (as `LDUBlock`).
  """

  def __init__(self, event_shape, num_blocks=12, num_d_scales=4, num_components=4,
               hidden_units=(256, 256), activation="relu", dropout=0.0, seed=None,
               tolerance=None, max_iterations=1000, solver="newton", context_size=0,
               context_d_scales=True, **kwargs):
    super().__init__(**kwargs)
    self.event_size = vector_event_size(type(self).__name__, event_shape)
    self.num_blocks = int(num_blocks)
    self.num_d_scales = int(num_d_scales)
    self.num_components = int(num_components)
    self.hidden_units = tuple(int(h) for h in hidden_units)
    self.activation = activation
    self._activation_fn = keras.activations.get(activation)
    self.tolerance = tolerance
    self.max_iterations = int(max_iterations)
    self.solver = solver
    if self.num_blocks < 1 or self.num_d_scales < 1:
      raise ValueError(f"StackedLDUBlocks: num_blocks and num_d_scales must be >= 1; "
                       f"got {num_blocks} and {num_d_scales}.")
    if not 0.0 <= float(dropout) < 1.0:
      raise ValueError(f"StackedLDUBlocks: dropout must be in [0, 1); got {dropout}.")
    self.dropout = float(dropout)
    self.seed = seed
    self.context_size = int(context_size)
    self.context_d_scales = bool(context_d_scales)
    self.seed_generator = keras.random.SeedGenerator(seed) if self.dropout else None
    self._masks = made_masks(self.event_size, self.hidden_units,
                             conditional=bool(self.context_size))
    (self.lower_kernels, self.lower_biases,
     self.lower_context_kernels) = self._made_weights("lower")
    (self.upper_kernels, self.upper_biases,
     self.upper_context_kernels) = self._made_weights("upper")
    add_d_scale_weights(self, (self.num_blocks, self.num_d_scales), self.event_size,
                        self.num_components,
                        self.context_size if self.context_d_scales else 0)
    self.built = True

  def _made_weights(self, which):
    """Per MADE layer: kernels `[B, fan_in, fan_out]`, biases `[B, fan_out]`, context kernels.

    The context kernels `[B, C, fan_out]` exist only with `context_size=C > 0`
    (`tfp_ldu.nets.MADE`'s unmasked projections, stacked); else the list is empty.
    """
    kernels, biases, context_kernels = [], [], []
    for index, mask in enumerate(self._masks):
      fan_in, fan_out = mask.shape
      kernels.append(self.add_weight(
          shape=(self.num_blocks, fan_in, fan_out), name=f"{which}_kernel_{index}",
          initializer=fan_in_uniform(fan_in)))
      biases.append(self.add_weight(
          shape=(self.num_blocks, fan_out), name=f"{which}_bias_{index}",
          initializer=fan_in_uniform(fan_in)))
      if self.context_size:
        context_kernels.append(self.add_weight(
            shape=(self.num_blocks, self.context_size, fan_out),
            name=f"{which}_context_kernel_{index}",
            initializer=context_kernel_initializer(self.context_size,
                                                   index == len(self._masks) - 1)))
    return kernels, biases, context_kernels

  def load_from_blocks(self, blocks):
    """Copies the weights of B MADE `LDUBlock`s (data -> latent order) into the stack."""
    blocks = list(blocks)
    if len(blocks) != self.num_blocks:
      raise ValueError(f"StackedLDUBlocks.load_from_blocks: expected {self.num_blocks} "
                       f"blocks; got {len(blocks)}.")
    stack = lambda values: np.stack([np.asarray(v) for v in values])
    for side in ("lower", "upper"):
      made = [getattr(block, f"{side}_shift").made for block in blocks]
      for ours, theirs in (("kernels", "_kernels"), ("biases", "_biases"),
                           ("context_kernels", "_context_kernels")):
        for index, weight in enumerate(getattr(self, f"{side}_{ours}")):
          weight.assign(stack(getattr(m, theirs)[index] for m in made))
    names = ["raw_in_scale", "in_shift", "mix_logits", "raw_residual", "out_shift"]
    if self.context_kernel is not None:
      names.append("context_kernel")
    for name in names:
      getattr(self, name).assign(stack(
          stack(getattr(d_scale, name) for d_scale in block.d_scales) for block in blocks))

  def _shift_fn(self, kernels, biases, context_kernels, upper, dropout_seed=None,
                context=None):
    """s(x, c) of one block from its gathered MADE weights (as `MADEShift.shift`).

    `dropout_seed` (int32 `[2]`, or None for no dropout) seeds this network's masks.
    """
    compute_dtype = conditioner_policy(self.dtype_policy).compute_dtype
    dropout = None
    if dropout_seed is not None:
      dropout = lambda index, h: tf.nn.experimental.stateless_dropout(
          h, self.dropout, seed=tf.random.experimental.stateless_fold_in(dropout_seed, index))

    def shift(x):
      cast = lambda t: tf.cast(t, compute_dtype)
      out = made_forward(cast(x), [cast(w) for w in kernels], [cast(w) for w in biases],
                         self._masks, self._activation_fn, self.event_size, reverse=upper,
                         dropout=dropout, context=None if context is None else cast(context),
                         context_kernels=[cast(w) for w in context_kernels])
      return tf.cast(out[..., 0], x.dtype)
    return shift

  def bijector(self, training=None, context=None):
    """A fresh `LoopedChain` of B `LDU` bijectors over the current weights (and `context`)."""
    check_context(type(self).__name__, self.context_size, context)
    seed = None
    if training and self.dropout:
      seed = tf.cast(self.seed_generator.next(), tf.int32)
    read = tf.convert_to_tensor
    lower = ([read(w) for w in self.lower_kernels], [read(w) for w in self.lower_biases],
             [read(w) for w in self.lower_context_kernels])
    upper = ([read(w) for w in self.upper_kernels], [read(w) for w in self.upper_biases],
             [read(w) for w in self.upper_context_kernels])
    raw_d_scales = read_d_scale(self)  # [B, n, D, K] and [B, n, D] (+ [B, n, C, E]).
    if self.context_kernel is None:
      d_scale_parameters = constrain_d_scale(raw_d_scales)
      block_d_scales = lambda take: {name: take(t) for name, t in d_scale_parameters.items()}
    else:  # [n, N, D, K] and [n, N, D] per block, from that block's weights.
      block_d_scales = lambda take: constrain_d_scale(
          {name: take(t) for name, t in raw_d_scales.items()}, context)

    def make_block(i):
      take = lambda t: t[i]  # A strided slice: dense gradients, unlike tf.gather's.
      side_seeds = [None, None]
      if seed is not None:
        block_seed = tf.random.experimental.stateless_fold_in(seed, i)
        side_seeds = [tf.random.experimental.stateless_fold_in(block_seed, side)
                      for side in (0, 1)]
      block_parameters = block_d_scales(take)
      d_scales = [
          Sinusoidal(**{name: t[j] for name, t in block_parameters.items()},
                     tolerance=self.tolerance, max_iterations=self.max_iterations,
                     solver=self.solver)
          for j in range(self.num_d_scales)]
      shift = lambda weights, upper, side: self._shift_fn(
          *[[take(w) for w in group] for group in weights], upper=upper,
          dropout_seed=side_seeds[side], context=context)
      return LDU(shift(lower, False, 0), d_scales, shift(upper, True, 1),
                 event_size=self.event_size, tolerance=self.tolerance)

    return LoopedChain(make_block, self.num_blocks, [self.event_size],
                       dtype=tf.as_dtype(self.compute_dtype), name="stacked_ldu_blocks")

  def get_config(self):
    return {**super().get_config(), "event_shape": [self.event_size],
            "num_blocks": self.num_blocks, "num_d_scales": self.num_d_scales,
            "num_components": self.num_components, "hidden_units": list(self.hidden_units),
            "activation": self.activation, "dropout": self.dropout, "seed": self.seed,
            "tolerance": self.tolerance,
            "max_iterations": self.max_iterations, "solver": self.solver,
            "context_size": self.context_size, "context_d_scales": self.context_d_scales}
