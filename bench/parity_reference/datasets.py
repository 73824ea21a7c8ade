"""Offline data sets, fixed splits and the shared batch order of the parity harness.

Every data set is split once, by a seeded permutation, into train / validation /
test (70 / 15 / 15 % for the real ones) and standardised with the training
split's mean and standard deviation, so both implementations see the very same
float32 arrays:

* `digits`: scikit-learn's bundled 8x8 digits, 1,797 x 64 pixel counts in
  0..16, uniformly dequantised (x + U(0, 1)) and then standardised: the 64-D
  set of the issue.
* `breast_cancer`: the bundled Wisconsin breast-cancer features, 569 x 30,
  standardised.
* `wine`: the bundled wine recognition features, 178 x 13, standardised.
* `gmm8`: 8,000 draws of a fixed 4-component Gaussian mixture in 8-D (5,000 /
  1,500 / 1,500), standardised; its exact log-density is known, so the true
  mean test log-likelihood (in the standardised coordinates:
  log p(y) = log p(x) + sum_i log s_i) is the ceiling a model can reach.

`batch_order` draws the training order that both implementations follow.
"""
import dataclasses
import math
from typing import Callable, Dict, Optional

import numpy as np
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

__all__ = ["ParityData", "DATASETS", "load_dataset", "batch_order", "effective_batch_size",
           "split_indices", "standardise"]

VALIDATION_FRACTION = 0.15
TEST_FRACTION = 0.15


@dataclasses.dataclass(frozen=True)
class ParityData:
  """One data set, split and standardised.

  Attributes:
    name: key in `DATASETS`.
    train, val, test: float32 arrays `[N_split, D]`.
    true_test_log_prob: `[N_test]` exact log-density of the test points in the
      standardised coordinates (synthetic data only), else None.
    description: one line for the report.
  """
  name: str
  train: np.ndarray
  val: np.ndarray
  test: np.ndarray
  true_test_log_prob: Optional[np.ndarray]
  description: str

  @property
  def event_size(self):
    return self.train.shape[1]


def split_indices(num_examples, seed, validation_fraction=VALIDATION_FRACTION,
                  test_fraction=TEST_FRACTION):
  """(train, val, test) index arrays of a seeded permutation of `range(num_examples)`."""
  order = np.random.default_rng(seed).permutation(num_examples)
  num_val = int(round(validation_fraction * num_examples))
  num_test = int(round(test_fraction * num_examples))
  num_train = num_examples - num_val - num_test
  if min(num_train, num_val, num_test) < 2:
    raise ValueError(f"split_indices: {num_examples} examples give splits of "
                     f"{num_train} / {num_val} / {num_test}; each needs >= 2.")
  return order[:num_train], order[num_train:num_train + num_val], order[num_train + num_val:]


def standardise(train, *others):
  """(x - mean) / std with the training split's statistics; also returns log std `[D]`."""
  mean = train.mean(axis=0)
  std = train.std(axis=0)
  if np.any(std <= 0):
    raise ValueError(f"standardise: columns {np.flatnonzero(std <= 0).tolist()} are "
                     "constant in the training split; dequantise or drop them.")
  scaled = [((x - mean) / std).astype(np.float32) for x in (train, *others)]
  return (*scaled, np.log(std))


def _split_real(name, x, seed, description):
  train_idx, val_idx, test_idx = split_indices(len(x), seed)
  train, val, test, _ = standardise(x[train_idx], x[val_idx], x[test_idx])
  return ParityData(name, train, val, test, None, description)


def _digits(seed):
  from sklearn.datasets import load_digits
  pixels = load_digits().data.astype(np.float64)
  rng = np.random.default_rng([seed, 1])
  dequantised = pixels + rng.uniform(size=pixels.shape)
  return _split_real("digits", dequantised, seed,
                     "sklearn digits 64-D, pixels + U(0,1), standardised")


def _breast_cancer(seed):
  from sklearn.datasets import load_breast_cancer
  return _split_real("breast_cancer", load_breast_cancer().data.astype(np.float64), seed,
                     "sklearn breast cancer 30-D, standardised")


def _wine(seed):
  from sklearn.datasets import load_wine
  return _split_real("wine", load_wine().data.astype(np.float64), seed,
                     "sklearn wine 13-D, standardised")


def _gmm8_components():
  """The fixed mixture: weights [4], means [4, 8], covariances [4, 8, 8]."""
  rng = np.random.default_rng(20240)
  dim, num_components = 8, 4
  weights = np.array([0.4, 0.3, 0.2, 0.1])
  means = rng.normal(scale=2.5, size=(num_components, dim))
  factors = rng.normal(size=(num_components, dim, dim))
  covariances = factors @ np.swapaxes(factors, 1, 2) / dim + 0.1 * np.eye(dim)
  return weights, means, covariances


def _gmm8_log_prob(x, weights, means, covariances):
  per_component = np.stack([
      np.log(w) + multivariate_normal(mean=m, cov=c).logpdf(x)
      for w, m, c in zip(weights, means, covariances)], axis=-1)
  return logsumexp(per_component, axis=-1)


def _gmm8(seed):
  weights, means, covariances = _gmm8_components()
  rng = np.random.default_rng([seed, 2])
  sizes = (5000, 1500, 1500)
  total = sum(sizes)
  labels = rng.choice(len(weights), size=total, p=weights)
  x = np.empty((total, means.shape[1]))
  for k in range(len(weights)):
    rows = labels == k
    x[rows] = rng.multivariate_normal(means[k], covariances[k], size=int(rows.sum()))
  raw_train, raw_val, raw_test = np.split(x, np.cumsum(sizes)[:-1])
  train, val, test, log_std = standardise(raw_train, raw_val, raw_test)
  true_test = _gmm8_log_prob(raw_test, weights, means, covariances) + log_std.sum()
  return ParityData("gmm8", train, val, test, true_test.astype(np.float64),
                    "4-component Gaussian mixture 8-D (known density), standardised")


DATASETS: Dict[str, Callable[[int], ParityData]] = {
    "digits": _digits, "breast_cancer": _breast_cancer, "wine": _wine, "gmm8": _gmm8}


def load_dataset(name, seed=0):
  """The `ParityData` of `name` (a key of `DATASETS`) split with `seed`."""
  if name not in DATASETS:
    raise ValueError(f"load_dataset: unknown data set {name!r}; expected one of "
                     f"{sorted(DATASETS)}.")
  return DATASETS[name](seed)


def effective_batch_size(requested, num_train):
  """`requested`, capped at half the training split so an epoch has >= 2 steps."""
  if requested < 1:
    raise ValueError(f"effective_batch_size: batch size must be >= 1; got {requested}.")
  return max(1, min(int(requested), num_train // 2))


def batch_order(num_examples, batch_size, steps, seed):
  """Row indices of every training batch, `[steps, batch_size]` int64.

  Independent random permutations of `range(num_examples)` (one per epoch,
  from `np.random.default_rng(seed)`) are concatenated and cut into
  consecutive batches, so every row is seen once per epoch and a batch may
  straddle two epochs.  Both implementations index their training array with
  row s at step s.
  """
  if not 1 <= batch_size <= num_examples:
    raise ValueError(f"batch_order: batch_size must be in [1, {num_examples}] "
                     f"(the training examples); got {batch_size}.")
  if steps < 1:
    raise ValueError(f"batch_order: steps must be >= 1; got {steps}.")
  rng = np.random.default_rng(seed)
  needed = steps * batch_size
  epochs = math.ceil(needed / num_examples)
  rows = np.concatenate([rng.permutation(num_examples) for _ in range(epochs)])
  return rows[:needed].reshape(steps, batch_size).astype(np.int64)
