"""Held-out log-likelihood and sampling diagnostics of a trained flow."""
import dataclasses
import time

import numpy as np
import tensorflow as tf

__all__ = ["BatchedLogProb", "LogLikelihood", "summarize_log_likelihood",
           "sampling_diagnostics"]


class BatchedLogProb:
  """Per-example log-likelihood over any number of rows, compiled once for one batch shape.

  It is `model.test_log_likelihood`, the estimate the model reports as its
  held-out log-likelihood (exact, the dequantisation bound of discrete rows
  from which bits/dim are computed, or an importance-weighted estimate);
  `bound=True` asks for `model(x)` in any case (for an `AugmentedFlow`: the
  one-sample bound).

  The rows are cut into batches of `batch_size`; the last batch is padded by
  repeating its final row and the padding's results are dropped, so every
  call runs the same `[batch_size, D]` graph (one XLA compilation).  The
  compiled function reads the model's variables, so it stays valid after the
  weights change (e.g. when the best checkpoint is loaded).

  Args:
    model: a `FlowModel`.
    batch_size: rows per batch.
    jit_compile: compile with XLA.
    bound: evaluate `model(x, training=False)` even without a dequantiser.
    dequantized_parts: for a model with a dequantiser, compute the bound as
      log p(y) - log q(y | x) of one dequantised draw y of each row, and
      keep both parts for `parts(x)`: log p(y) is the density of y, the
      scale of `log_prob`, while the bound is on the discrete levels.
  """

  def __init__(self, model, batch_size, jit_compile=True, bound=False,
               dequantized_parts=False):
    self.batch_size = int(batch_size)
    self.event_size = model.event_size
    self.dequantized_parts = bool(dequantized_parts)
    def parts(inputs):
      x, context = model.split_inputs(inputs)
      images = tf.reshape(x, [-1, *model.event_shape])  # The dequantiser's shape.
      y, log_q = model.dequantize(images, context=context, training=False)  # q(y | x[, c])
      return tf.stack([model.log_prob(y, context=context), log_q], axis=-1)

    if dequantized_parts:
      function = parts
    elif bound:
      function = lambda x: model(x, training=False)  # noqa: E731
    else:
      function = model.test_log_likelihood
    rows = tf.TensorSpec([self.batch_size, model.event_size], model.compute_dtype)
    if model.conditional:  # Batches of {"x": x, "context": c}.
      rows = {"x": rows, "context": tf.TensorSpec([self.batch_size, *model.context_shape],
                                                  model.compute_dtype)}
    # AutoGraph off: the library's loops are explicit, and it cannot parse the lambda.
    self._log_prob = tf.function(function, jit_compile=jit_compile, autograph=False,
                                 input_signature=[rows])
    self._dtype = model.compute_dtype

  def __call__(self, x):
    """`[N, D]` array (or `{"x": x, "context": c}`) -> `[N]` float64 log-densities (nats)."""
    values = self.parts(x) if self.dequantized_parts else self._evaluate(x)
    return values[:, 0] - values[:, 1] if self.dequantized_parts else values

  def parts(self, x):
    """`[N, D]` array -> `[N, 2]` float64: log p(y), log q(y | x) (`dequantized_parts`)."""
    if not self.dequantized_parts:
      raise ValueError("BatchedLogProb.parts needs dequantized_parts=True.")
    return self._evaluate(x)

  def _evaluate(self, x):
    x = tf.nest.map_structure(lambda a: np.asarray(a, dtype=self._dtype), x)
    rows = x["x"] if isinstance(x, dict) else x
    if rows.ndim != 2 or rows.shape[1] != self.event_size or len(rows) == 0:
      raise ValueError(f"BatchedLogProb: expected [N >= 1, {self.event_size}] rows; "
                       f"received shape {list(rows.shape)}.")
    results = []
    for start in range(0, len(rows), self.batch_size):
      size = min(self.batch_size, len(rows) - start)
      padded = lambda a: np.concatenate([  # Repeats the last row to a full batch.
          a[start:start + size], np.repeat(a[start + size - 1:start + size],
                                           self.batch_size - size, 0)])
      results.append(self._log_prob(tf.nest.map_structure(padded, x)).numpy()[:size])
    return np.concatenate(results).astype(np.float64)


@dataclasses.dataclass(frozen=True)
class LogLikelihood:
  """Mean log-likelihood (nats) over a data set and its uncertainty.

  Attributes:
    mean: average log-density.
    two_standard_errors: 2 * std / sqrt(N), the usual +- of the literature.
    num_examples: N.
    num_non_finite: rows whose log-density is NaN or infinite (they make the
      mean non-finite; reported so a failure is visible).
  """
  mean: float
  two_standard_errors: float
  num_examples: int
  num_non_finite: int

  def __str__(self):
    return f"{self.mean:.4f} ± {self.two_standard_errors:.4f}"


def summarize_log_likelihood(values) -> LogLikelihood:
  """`LogLikelihood` of per-example log-densities `[N]`."""
  values = np.asarray(values, dtype=np.float64)
  spread = values.std(ddof=1) if len(values) > 1 else 0.0
  return LogLikelihood(mean=float(values.mean()),
                       two_standard_errors=float(2.0 * spread / np.sqrt(len(values))),
                       num_examples=int(len(values)),
                       num_non_finite=int(np.sum(~np.isfinite(values))))


def sampling_diagnostics(model, num_samples, seed, contexts=None):
  """Samples through the numeric inverses and checks them against the closed form.

  The sampler is traced once, then timed on a second draw of the same shape,
  so `samples_per_second` excludes tracing.  A conditional model draws one
  sample for each of `contexts` `[num_samples, *context_shape]` (e.g. held-out
  contexts, so the samples follow the data's marginal of x).

  Returns:
    dict with `samples` `[n, D]` numpy, `samples_per_second`, `max_iterations`
    (the largest iteration count of any numeric inverse), `num_unconverged`
    and `reconstruction_residual` = max |T(sample) - latent| with T the
    closed-form data -> latent map (`model.bijector.inverse`).
  """
  context = None if contexts is None else tf.constant(contexts[:num_samples],
                                                     model.compute_dtype)

  @tf.function(autograph=False)
  def draw():
    seed_pair = tf.constant([seed, 0], tf.int32)
    if context is None:
      return model.sample_with_diagnostics(num_samples, seed=seed_pair)
    result = model.sample_with_diagnostics(1, seed=seed_pair, context=context)
    return {**result, **{name: result[name][0] for name in ("samples", "latents")}}

  draw()
  start = time.perf_counter()
  result = draw()
  seconds = time.perf_counter() - start
  residual = model.sampling_residual(result, context=context)
  return dict(samples=result["samples"].numpy(),
              samples_per_second=float(num_samples / seconds),
              max_iterations=int(result["max_iterations"]),
              num_unconverged=int(result["num_unconverged"]),
              reconstruction_residual=float(residual))
