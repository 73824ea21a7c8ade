"""The LDU flow of Sinusoidal Flow (Wei, ACML 2021) as a Keras model."""
import keras

from tfp_ldu.flows.flow_model import FlowModel
from tfp_ldu.layers.flatten_event import FlattenEvent
from tfp_ldu.layers.flatten_event import flat_event_shape
from tfp_ldu.layers.actnorm import ActNorm
from tfp_ldu.layers.ldu_block import LDUBlock
from tfp_ldu.layers.stacked_ldu_blocks import StackedLDUBlocks

__all__ = ["LDUFlow"]


# Without a GPU, the LDU flow with MADE shifts on more than this many
# dimensions trains faster as a plain graph than under XLA, XLA's compile
# time included (`bench/user_path.py`, 1,500 steps: XLA 1.37x faster at D = 8,
# the plain graph 1.07-1.19x at D = 16 and faster at every larger D;
# docs/performance.md).  `compile()` picks XLA up to it.
CPU_XLA_MAX_EVENT_SIZE = 12

@keras.saving.register_keras_serializable(package="tfp_ldu")
class LDUFlow(FlowModel):
  """`num_blocks` LDU blocks (MADE or PixelCNN shifts, Sinusoidal D-scales), then ActNorm.

      T(x) = ActNorm(LDU_B(...LDU_1(x))),   log p(x) = log N(T(x); 0, I) + sum ILDJ

  For images (`event_shape=(H, W, C)`, `conditioner="pixelcnn"`), the shifts
  are PixelCNNs over flat NHWC rows, an optional `LogitPreprocessing(alpha)`
  comes first (`logit_alpha`, a `FlowModel` argument), and a `dequantizer` (e.g.
  `UniformDequantizer(256, event_ndims=3)`) makes `call` the dequantisation
  bound on discrete pixels, as in the paper's MNIST and CIFAR-10 runs.

  Args:
    event_shape: D (an int or `(D,)`), or (H, W, C) for images.
    num_blocks: LDU blocks (paper: 12 for tabular data, 16 for 2-D toys).
    num_d_scales: Sinusoidal D-scales per block (paper: 4).
    num_components: K, sinusoid components per D-scale (paper: 4).
    hidden_units: MADE hidden sizes (paper: 256-256 for GAS).
    dropout: MADE dropout rate.
    tolerance, max_iterations, solver: numeric-inverse settings of the D-scales
      used by `sample` ("newton", the default, or "fixed_point"; see `Sinusoidal`).
    conditioner: "made" (vectors) or "pixelcnn" (images: needs a 3-D event_shape).
    filters, num_residual_blocks: PixelCNN sizes (paper: 16, 2).
    stacked_blocks: how the MADE blocks are held.  True (the default for
      `conditioner="made"`): one `StackedLDUBlocks` layer, every weight
      stacked along a block axis and the chain run as one `tf.while_loop`,
      so a training step traces, differentiates and optimises one block
      instead of `num_blocks` (docs/performance.md);
      `self.blocks` is then `[that layer]`.  False: `self.blocks` holds one
      `LDUBlock` per block (the same model and initialisation distribution,
      `StackedLDUBlocks.load_from_blocks` converts).  PixelCNN blocks are
      always unrolled.
    context_d_scales: for a conditional flow (`context_shape`), whether the
      Sinusoidal D-scales' parameters are functions of the context too (the
      authors' conditioner), so the element-wise shapes change with c, not
      only the shifts (default True; see docs/performance.md for the
      measurement).
    **kwargs: `FlowModel` arguments (`dequantizer`, `logit_alpha`, `dtype`,
      `name`, ...; `context_shape` and `context_net` for a conditional
      p(x | c): both shift MADEs of every block see the context, so the
      shifts are s(x, c); the Sinusoidal D-scales stay unconditional, and
      PixelCNN shifts are not conditional yet).
  """

  takes_context = True

  def __init__(self, event_shape, num_blocks=12, num_d_scales=4, num_components=4,
               hidden_units=(256, 256), dropout=0.0, tolerance=None, max_iterations=1000,
               solver="newton", conditioner="made", filters=16, num_residual_blocks=2,
               stacked_blocks=None, context_d_scales=True, **kwargs):
    super().__init__(event_shape, latent_shape=flat_event_shape(event_shape), **kwargs)
    if conditioner not in ("made", "pixelcnn"):
      raise ValueError(f'LDUFlow: conditioner must be "made" or "pixelcnn"; got '
                       f"{conditioner!r}.")
    if conditioner == "pixelcnn" and len(self.event_shape) != 3:
      raise ValueError(f'LDUFlow: conditioner="pixelcnn" needs an image event_shape '
                       f"(H, W, C); got {self.event_shape}.")
    self.conditioner = conditioner
    self.cpu_xla_event_sizes = (1, CPU_XLA_MAX_EVENT_SIZE) if conditioner == "made" else None
    self.filters = int(filters)
    self.num_residual_blocks = int(num_residual_blocks)
    image_shape = self.event_shape if conditioner == "pixelcnn" else None
    self.num_blocks = int(num_blocks)
    self.num_d_scales = int(num_d_scales)
    self.num_components = int(num_components)
    self.hidden_units = tuple(int(h) for h in hidden_units)
    self.dropout = float(dropout)
    self.tolerance = tolerance
    self.max_iterations = int(max_iterations)
    self.solver = solver
    if stacked_blocks is None:
      stacked_blocks = conditioner == "made"
    self.context_d_scales = bool(context_d_scales)
    self.stacked_blocks = bool(stacked_blocks)
    if self.stacked_blocks:
      if conditioner != "made":
        raise ValueError(f'LDUFlow: stacked_blocks=True needs conditioner="made"; got '
                         f"conditioner={conditioner!r}.")
      self.blocks = [StackedLDUBlocks(
          self.event_size, self.num_blocks, self.num_d_scales, self.num_components,
          self.hidden_units, dropout=self.dropout, tolerance=tolerance,
          max_iterations=max_iterations, solver=solver, context_size=self.context_size,
          context_d_scales=self.context_d_scales, name="stacked_ldu_blocks",
          dtype=self.dtype_policy)]
    else:
      self.blocks = self._unrolled_blocks(image_shape)
    self.actnorm = ActNorm(self.event_size, name="actnorm", dtype=self.dtype_policy)
    flatten = FlattenEvent(self.event_shape, name="flatten_event")  # images -> [D]
    self.flow_layers = [flatten, *self.blocks, self.actnorm]

  def _unrolled_blocks(self, image_shape):
    tolerance, max_iterations, solver = self.tolerance, self.max_iterations, self.solver
    return [
        LDUBlock(self.event_size, self.num_d_scales, self.num_components, self.hidden_units,
                 dropout=self.dropout, tolerance=tolerance, max_iterations=max_iterations,
                 solver=solver, image_shape=image_shape, filters=self.filters,
                 num_residual_blocks=self.num_residual_blocks,
                 context_size=self.context_size, context_d_scales=self.context_d_scales,
                 name=f"ldu_block_{i}",
                 dtype=self.dtype_policy)
        for i in range(self.num_blocks)]

  def get_config(self):
    return {**super().get_config(),
            "num_blocks": self.num_blocks, "num_d_scales": self.num_d_scales,
            "num_components": self.num_components, "hidden_units": list(self.hidden_units),
            "dropout": self.dropout, "tolerance": self.tolerance,
            "max_iterations": self.max_iterations, "solver": self.solver,
            "conditioner": self.conditioner, "filters": self.filters,
            "num_residual_blocks": self.num_residual_blocks,
            "stacked_blocks": self.stacked_blocks, "context_d_scales": self.context_d_scales}
