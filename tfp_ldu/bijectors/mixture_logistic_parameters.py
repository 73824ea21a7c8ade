"""How a network's raw output is read as the parameters of a `MixtureLogisticCDF`."""
import tensorflow as tf

__all__ = ["mixture_logistic_parameters", "num_mixture_logistic_parameters"]


def num_mixture_logistic_parameters(num_components: int) -> int:
  """3K + 2: the raw numbers per transformed element for K logistic components."""
  return 3 * int(num_components) + 2


def mixture_logistic_parameters(out, num_components):
  """Splits raw network output `[..., D_t, 3K + 2]` into Flow++'s parameters.

      logits     = out[..., 0:K]
      locs       = out[..., K:2K]
      log_scales = out[..., 2K:3K]     (the bijector clamps them at `min_log_scale`)
      log_a      = tanh(out[..., 3K])  (bounded output log-scale, as in Flow++)
      b          = out[..., 3K + 1]

  An output of zeros gives K equal standard logistics with a = 1, b = 0, i.e.
  the identity z = logit(sigma(x)) = x.

  Args:
    out: `[..., D_t, 3K + 2]` tensor.
    num_components: K.

  Returns:
    `(logits, locs, log_scales)` of shape `[..., D_t, K]` and `(log_a, b)` of
    shape `[..., D_t]`, the arguments of `MixtureLogisticCDF`.
  """
  k = int(num_components)
  return (out[..., :k], out[..., k:2 * k], out[..., 2 * k:3 * k],
          tf.tanh(out[..., 3 * k]), out[..., 3 * k + 1])
