"""Candidate defaults applied to a built `models.LDUFlow` without editing the library.

* `reinitialise_made`: PyTorch `nn.Linear` initialisation of every MADE layer,
  kernel W and bias b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in the
  layer's full (unmasked) input width; the same as
  `keras.initializers.VarianceScaling(1/3, "fan_in", "uniform")` for the kernel.
* `transplant_reference_weights`: copies every MADE and D-scale weight of the
  reference model into either block layout (per-block layers or stacked) (exported by `torch_runner.py` in "export" mode), after
  checking that the connectivity masks are identical.
* `initialize_actnorm`: the final actnorm from the first batch's
  pre-actnorm activations h, either as the library does
  (`FlowModel.initialize`: m = mean h, s = log(std h + 1e-6)) or as the
  reference does (m = mean h, s = 0.5 log(var h + 1e-5)).
"""
import numpy as np
import tensorflow as tf

from tfp_ldu.layers.actnorm import ActNorm
from tfp_ldu.nets.made import made_masks

__all__ = ["made_networks", "made_variables", "reinitialise_made",
           "transplant_reference_weights", "initialize_actnorm"]

REFERENCE_ACTNORM_EPSILON = 1e-5


def made_networks(model):
  """[(block index, "upper" | "lower", MADE layer)] of an unrolled `LDUFlow`."""
  return [(b, side, shift.made) for b, block in enumerate(model.blocks)
          for side, shift in (("upper", block.upper_shift), ("lower", block.lower_shift))]


def _kernels_and_biases(made):
  """[(kernel, bias)] variables of one MADE, input layer first."""
  by_name = {v.name: v for v in made.weights}
  pairs, index = [], 0
  while f"kernel_{index}" in by_name:
    pairs.append((by_name[f"kernel_{index}"], by_name[f"bias_{index}"]))
    index += 1
  if not pairs:
    raise RuntimeError(f"{made.name}: no kernel_0 weight found; the MADE layout changed.")
  return pairs


def made_variables(model):
  """Every MADE (kernel, bias) variable pair: per block, or block-stacked `[B, ...]`."""
  if model.stacked_blocks:
    layer = model.blocks[0]
    return [*zip(layer.upper_kernels, layer.upper_biases),
            *zip(layer.lower_kernels, layer.lower_biases)]
  return [pair for _, _, made in made_networks(model) for pair in _kernels_and_biases(made)]


def reinitialise_made(model, scheme, rng):
  """Re-draws every MADE weight: scheme "torch" (kernel and bias) or "torch_kernel".

  Kernel `[(B,) fan_in, fan_out]` ~ U(+-1/sqrt(fan_in)); bias `[(B,) fan_out]`
  ~ the same range for "torch", 0 for "torch_kernel".
  """
  if scheme not in ("torch", "torch_kernel"):
    raise ValueError(f"reinitialise_made: scheme must be 'torch' or 'torch_kernel'; "
                     f"got {scheme!r}.")
  for kernel, bias in made_variables(model):
    bound = 1.0 / np.sqrt(kernel.shape[-2])
    kernel.assign(rng.uniform(-bound, bound, size=kernel.shape).astype(kernel.dtype))
    bias.assign((rng.uniform(-bound, bound, size=bias.shape) if scheme == "torch"
                 else np.zeros(bias.shape)).astype(bias.dtype))


def _check_mask(weights, key, expected):
  reference_mask = weights[key]
  if not np.array_equal(reference_mask, expected):
    raise ValueError(f"{key}: the reference's MADE connectivity differs from the "
                     f"library's ({int(np.sum(reference_mask != expected))} entries).")


def transplant_reference_weights(model, weights):
  """Assigns the reference's exported weights (a mapping as written by `torch_runner`).

  Works on either block layout of `LDUFlow` (one layer per block, or
  `StackedLDUBlocks`, whose weights get the blocks' values stacked).

  Raises:
    ValueError: if a connectivity mask or a weight shape differs.
  """
  if model.stacked_blocks:
    _transplant_stacked(model.blocks[0], weights)
    return
  d = model.event_size
  for b, side, made in made_networks(model):
    expected_masks = made_masks(d, made.hidden_units, made.params_per_dim)
    for l, (kernel, bias) in enumerate(_kernels_and_biases(made)):
      key = f"block{b}/{side}/"
      _check_mask(weights, key + f"mask{l}", expected_masks[l])
      _assign(kernel, weights[key + f"kernel{l}"], key + f"kernel{l}")
      _assign(bias, weights[key + f"bias{l}"], key + f"bias{l}")
  for b, block in enumerate(model.blocks):
    for j, d_scale in enumerate(block.d_scales):
      key = f"block{b}/dscale{j}/"
      for name in D_SCALE_WEIGHTS:
        _assign(getattr(d_scale, name), weights[key + name], key + name)


D_SCALE_WEIGHTS = ("raw_in_scale", "in_shift", "mix_logits", "raw_residual", "out_shift")


def _transplant_stacked(layer, weights):
  """`transplant_reference_weights` into a `StackedLDUBlocks` layer."""
  blocks = range(layer.num_blocks)
  expected_masks = made_masks(layer.event_size, layer.hidden_units)
  for side, kernels, biases in (("upper", layer.upper_kernels, layer.upper_biases),
                                ("lower", layer.lower_kernels, layer.lower_biases)):
    for l, (kernel, bias) in enumerate(zip(kernels, biases)):
      for b in blocks:
        _check_mask(weights, f"block{b}/{side}/mask{l}", expected_masks[l])
      _assign(kernel, np.stack([weights[f"block{b}/{side}/kernel{l}"] for b in blocks]),
              f"block*/{side}/kernel{l}")
      _assign(bias, np.stack([weights[f"block{b}/{side}/bias{l}"] for b in blocks]),
              f"block*/{side}/bias{l}")
  for name in D_SCALE_WEIGHTS:
    _assign(getattr(layer, name), np.stack([
        np.stack([weights[f"block{b}/dscale{j}/{name}"] for j in range(layer.num_d_scales)])
        for b in blocks]), f"block*/dscale*/{name}")


def _assign(variable, value, what):
  if tuple(variable.shape) != tuple(value.shape):
    raise ValueError(f"{what}: reference shape {list(value.shape)} differs from the "
                     f"library's {list(variable.shape)}.")
  variable.assign(np.asarray(value, dtype=variable.dtype))


def initialize_actnorm(model, batch, style):
  """Sets every `ActNorm` of `model.flow_layers` from `batch` `[N, D]`.

  style: "library", "reference", or "identity" (the library's initialisation
  of every other layer, then each ActNorm fixed at the identity and frozen:
  a flow without ActNorm, as zuko's MAF is).
  """
  if style in ("library", "identity"):
    model.initialize(batch)
    if style == "identity":
      for layer in model.flow_layers:
        if isinstance(layer, ActNorm):
          layer.loc.assign(np.zeros(layer.loc.shape, layer.loc.dtype))
          layer.log_scale.assign(np.zeros(layer.log_scale.shape, layer.log_scale.dtype))
          layer.trainable = False
    return
  if style != "reference":
    raise ValueError(f"initialize_actnorm: style must be 'library', 'reference' or "
                     f"'identity'; got {style!r}.")
  h = tf.convert_to_tensor(np.asarray(batch), dtype=model.compute_dtype)
  for layer in model.flow_layers:
    if isinstance(layer, ActNorm):
      values = h.numpy().astype(np.float64)
      layer.loc.assign(values.mean(axis=0).astype(layer.loc.dtype))
      layer.log_scale.assign((0.5 * np.log(values.var(axis=0) + REFERENCE_ACTNORM_EPSILON))
                             .astype(layer.log_scale.dtype))
      layer.initialized.assign(1.0)
    h = layer.bijector().inverse(h)
