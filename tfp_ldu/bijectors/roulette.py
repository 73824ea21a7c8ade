"""How many power-series terms to compute, and how to weight them (Russian roulette).

An infinite series S = sum_{k>=1} a_k is estimated without bias by always
computing the first m terms and then a random number N >= 0 of further ones,
each up-weighted by the probability that it is reached:

    S_hat = sum_{k=1}^{m+N} w_k a_k,   w_k = 1 (k <= m),   w_k = 1 / P(N >= k - m) (k > m),

since E[1(k <= m + N)] = P(N >= k - m) (Chen et al., 2019, Residual Flows).

For XLA the number of terms has a static cap `max_terms`: the estimator
computes min(m + N, max_terms) terms, so

    E[S_hat] = sum_{k=1}^{max_terms} a_k,

i.e. the cap's bias is the series' tail beyond `max_terms`.  A draw is changed
by the cap only with probability P(N > max_terms - m); by default the cap is
the smallest one with P(N > max_terms - m) <= `CAP_TAIL_PROBABILITY` (1e-9:
once in a billion draws, e.g. a 1% chance over ten million block evaluations).
The cap costs nothing otherwise: the loop stops after m + N terms.

The variance is finite only if sum_k a_k^2 / P(N >= k - m) converges (before
the cap): for geometric(p) the terms must shrink faster than (1-p)^{k/2}.

N is sampled by inverting its survival function with one stateless uniform,
N = #{j in 1..K : U < P(N >= j)} with K = max_terms - m, which is exactly
min(N, K) for any distribution and compiles under XLA.
"""
import math
from typing import NamedTuple

import numpy as np
import tensorflow as tf

__all__ = ["CAP_TAIL_PROBABILITY", "TermSchedule", "default_num_random_terms",
           "survival_probability"]

CAP_TAIL_PROBABILITY = 1e-9
ROULETTE_DISTRIBUTIONS = ("geometric", "poisson")


def _poisson_tail(rate: float, j: int) -> float:
  """P(N >= j) for N ~ Poisson(rate), summed over the tail (no cancellation)."""
  total, i = 0.0, max(j, 0)
  while True:
    term = math.exp(-rate + i * math.log(rate) - math.lgamma(i + 1))
    total += term
    # Past the mode (i >= rate) the terms shrink geometrically: stop at float precision.
    if i >= rate and term <= total * np.finfo(np.float64).eps:
      return total
    i += 1


def survival_probability(distribution: str, j: int, p: float = 0.5,
                         rate: float = 2.0) -> float:
  """P(N >= j) for N ~ `distribution` on {0, 1, 2, ...}.

  geometric(p): N counts failures before the first success, P(N >= j) = (1-p)^j,
    E[N] = (1-p)/p.  (Chen et al.'s code samples numpy's geometric >= 1, which
    always computes term m + 1; here it is reached with probability 1 - p.)
  poisson(rate): P(N >= j) = sum_{i>=j} e^-rate rate^i / i!,  E[N] = rate.
  """
  if j <= 0:
    return 1.0
  if distribution == "geometric":
    return (1.0 - p) ** j
  if distribution == "poisson":
    return _poisson_tail(rate, j)
  raise ValueError(f"roulette distribution must be one of {ROULETTE_DISTRIBUTIONS}; "
                   f"got {distribution!r}.")


def default_num_random_terms(distribution: str, p: float = 0.5, rate: float = 2.0) -> int:
  """The smallest K with P(N > K) <= CAP_TAIL_PROBABILITY (29 for geometric(0.5))."""
  num = 0
  while survival_probability(distribution, num + 1, p, rate) > CAP_TAIL_PROBABILITY:
    num += 1
  return num


class TermSchedule(NamedTuple):
  """Which power-series terms an estimator computes and their weights.

  Attributes:
    term_weights: float64 array `[max_terms]`, w_k for k = 1..max_terms.
    n_exact_terms: m, always computed.
    reach_probabilities: float64 array `[max_terms - m]`, P(N >= j) for
      j = 1..max_terms - m (empty for a fixed-length series, N = 0).
    cap_probability: P(N > max_terms - m), how often the cap changes a draw.
  """
  term_weights: np.ndarray
  n_exact_terms: int
  reach_probabilities: np.ndarray
  cap_probability: float

  @classmethod
  def fixed(cls, num_terms: int) -> "TermSchedule":
    """The first `num_terms` terms, unweighted (biased: the tail is dropped)."""
    if int(num_terms) < 1:
      raise ValueError(f"a power series needs at least one term; got {num_terms}.")
    return cls(np.ones([int(num_terms)]), int(num_terms), np.zeros([0]), 0.0)

  @classmethod
  def roulette(cls, n_exact_terms: int, distribution: str = "geometric", p: float = 0.5,
               rate: float = 2.0, max_terms=None) -> "TermSchedule":
    """m exact terms, then N ~ `distribution`; `max_terms` None = default cap."""
    if int(n_exact_terms) < 0:
      raise ValueError(f"n_exact_terms must be >= 0; got {n_exact_terms}.")
    if distribution not in ROULETTE_DISTRIBUTIONS:
      raise ValueError(f"roulette distribution must be one of {ROULETTE_DISTRIBUTIONS}; "
                       f"got {distribution!r}.")
    if distribution == "geometric" and not 0.0 < p < 1.0:
      raise ValueError(f"geometric roulette needs p in (0, 1); got {p}.")
    if distribution == "poisson" and not rate > 0.0:
      raise ValueError(f"Poisson roulette needs rate > 0; got {rate}.")
    m = int(n_exact_terms)
    if max_terms is None:
      max_terms = m + default_num_random_terms(distribution, p, rate)
    num_random = int(max_terms) - m
    if num_random < 1:
      raise ValueError(f"max_terms ({max_terms}) must exceed n_exact_terms ({m}).")
    reach = np.array([survival_probability(distribution, j, p, rate)
                      for j in range(1, num_random + 1)])
    return cls(np.concatenate([np.ones([m]), 1.0 / reach]), m, reach,
               survival_probability(distribution, num_random + 1, p, rate))

  @property
  def max_terms(self) -> int:
    """The static cap on the number of terms."""
    return len(self.term_weights)

  def sample_num_terms(self, seed) -> tf.Tensor:
    """min(m + N, max_terms) as a scalar int32, from a stateless `seed` `[2]`."""
    if not len(self.reach_probabilities):
      return tf.constant(self.max_terms, tf.int32)
    uniform = tf.random.stateless_uniform([], seed=seed, dtype=tf.float64)
    reached = uniform < tf.constant(self.reach_probabilities, tf.float64)
    return self.n_exact_terms + tf.reduce_sum(tf.cast(reached, tf.int32))
