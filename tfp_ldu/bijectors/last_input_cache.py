"""`LastInputCache`: a conditioner's output for the last input, shared by inverse and log-det."""

__all__ = ["LastInputCache"]


class LastInputCache:
  """`fn(x)`, computed once while consecutive calls pass the same tensor `x`.

  TFP asks a bijector for `inverse(y)` and `inverse_log_det_jacobian(y)` in
  two calls with the same tensor y (`TransformedDistribution.log_prob`,
  `tfb.Chain`).  TFP's cache keeps their results, not what they computed on
  the way, so an autoregressive or coupling bijector would run its
  conditioner network twice per density evaluation: twice the matmuls in
  a plain graph (XLA merges the duplicates, which was most of XLA's lead on
  a MAF's training step), and, with dropout, two different dropout masks
  for the value and the log-determinant of one transform.

  The cache is keyed by identity (`x is last`), not value, and holds a
  reference to its input, so a recycled `id` cannot alias it; it keeps one
  entry, so a sampling loop that calls `fn` on a new tensor each iteration
  recomputes each time and holds nothing stale.  Build one per bijector
  instance (a bijector's conditioner reads the weights as they are when it
  is called).
  """

  def __init__(self, fn):
    self._fn = fn
    self._last = None

  def __call__(self, x):
    if self._last is None or self._last[0] is not x:
      self._last = (x, self._fn(x))
    return self._last[1]
