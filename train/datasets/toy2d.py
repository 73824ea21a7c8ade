"""Built-in 2-D toy densities, generated with numpy (FFJORD-style).

The shapes and scales follow FFJORD's `lib/toy_data.py` (Grathwohl et al.
2019), which most flow papers reuse, so samples lie roughly in [-4, 4]^2:

  moons:        two interleaved half circles (sklearn's `make_moons`,
                noise 0.1), scaled by 2 and shifted by (-1, -0.2);
  8gaussians:   eight N(c, 0.5^2 I) around a circle of radius 4, divided by
                1.414;
  checkerboard: uniform on the black squares of a 4x4 board over [-4, 4]^2;
  rings:        four concentric circles of radii 3, 2.25, 1.5 and 0.75 with
                N(0, 0.08^2) noise;
  spirals:      two interleaved spiral arms (FFJORD's "2spirals"), divided
                by 3 with N(0, 0.1^2) noise.

One conditional toy, pairs (x, c) for `--conditional` (p(x | c)):

  rotating_moons: c ~ U(-1, 1); x = the moons rotated by c * 90 degrees
                about the origin, their noise growing from 0.05 (c = -1) to
                0.2 (c = 1) before the scaling by 2: the shape, not only the
                position, depends on c.

Where FFJORD places points on a grid (`np.linspace` angles) or assigns a
fixed half of the batch to each component, each sample here draws its own
angle and component, so that every split is an i.i.d. sample of one density.
"""
import numpy as np

from train.datasets.tabular_data import TabularData

DEFAULT_SPLIT_SIZES = (50_000, 5_000, 5_000)


def sample_moons(rng: np.random.Generator, num: int) -> np.ndarray:
  """Two moons: `[num, 2]` samples."""
  angle = rng.uniform(0., np.pi, num)
  lower = rng.random(num) < 0.5
  x = np.where(lower, 1. - np.cos(angle), np.cos(angle))
  y = np.where(lower, 0.5 - np.sin(angle), np.sin(angle))
  points = np.stack([x, y], axis=1) + rng.normal(0., 0.1, (num, 2))
  return 2. * points + np.array([-1., -0.2])


def sample_8gaussians(rng: np.random.Generator, num: int) -> np.ndarray:
  """Eight Gaussians on a circle: `[num, 2]` samples."""
  angles = np.arange(8) * (np.pi / 4.)
  centers = 4. * np.stack([np.cos(angles), np.sin(angles)], axis=1)
  noise = 0.5 * rng.standard_normal((num, 2))
  points = centers[rng.integers(0, 8, num)] + noise
  return points / 1.414


def sample_checkerboard(rng: np.random.Generator, num: int) -> np.ndarray:
  """Checkerboard: `[num, 2]` samples, uniform on 8 of 16 squares."""
  x1 = rng.uniform(-2., 2., num)
  x2 = rng.random(num) - 2. * rng.integers(0, 2, num) + np.floor(x1) % 2
  return 2. * np.stack([x1, x2], axis=1)


def sample_rings(rng: np.random.Generator, num: int) -> np.ndarray:
  """Four concentric rings: `[num, 2]` samples."""
  radii = 3. * np.array([1., 0.75, 0.5, 0.25])
  radius = radii[rng.integers(0, 4, num)]
  angle = rng.uniform(0., 2. * np.pi, num)
  points = radius[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1)
  return points + rng.normal(0., 0.08, (num, 2))


def sample_spirals(rng: np.random.Generator, num: int) -> np.ndarray:
  """Two spirals: `[num, 2]` samples."""
  turn = np.sqrt(rng.random(num)) * np.deg2rad(540.)
  arm = np.stack([-np.cos(turn) * turn + 0.5 * rng.random(num),
                  np.sin(turn) * turn + 0.5 * rng.random(num)], axis=1)
  sign = np.where(rng.random(num) < 0.5, 1., -1.)[:, None]
  return sign * arm / 3. + rng.normal(0., 0.1, (num, 2))


def sample_rotating_moons(rng: np.random.Generator, num: int):
  """Rotating moons: `([num, 2] samples, [num, 1] contexts c in [-1, 1])`."""
  c = rng.uniform(-1., 1., num)
  angle = rng.uniform(0., np.pi, num)
  lower = rng.random(num) < 0.5
  x = np.where(lower, 1. - np.cos(angle), np.cos(angle)) - 0.5
  y = np.where(lower, 0.25 - np.sin(angle), np.sin(angle) - 0.25)
  noise = (0.125 + 0.075 * c)[:, None] * rng.normal(size=(num, 2))
  points = 2. * (np.stack([x, y], axis=1) + noise)
  turn = 0.5 * np.pi * c
  cos, sin = np.cos(turn), np.sin(turn)
  rotated = np.stack([cos * points[:, 0] - sin * points[:, 1],
                      sin * points[:, 0] + cos * points[:, 1]], axis=1)
  return rotated, c[:, None]


# Toys of pairs (x, c): sampler -> (samples, contexts), and what c is.
CONDITIONAL_TOY_SAMPLERS = {
    "rotating_moons": (sample_rotating_moons, "c in [-1, 1]: rotation by c * 90 degrees, "
                                              "noise 0.05 to 0.2"),
}

TOY_SAMPLERS = {
    "moons": sample_moons,
    "8gaussians": sample_8gaussians,
    "checkerboard": sample_checkerboard,
    "rings": sample_rings,
    "spirals": sample_spirals,
}


def load_toy(name: str, seed: int = 0,
             split_sizes=DEFAULT_SPLIT_SIZES) -> TabularData:
  """Draws train/val/test splits of a toy density.

  The three splits are consecutive rows of one draw of `sum(split_sizes)`
  samples from `np.random.default_rng(seed)`, so they are independent and
  identically distributed, and the same seed gives the same data.

  Args:
    name: a key of `TOY_SAMPLERS` or `CONDITIONAL_TOY_SAMPLERS` (lower case).
    seed: the generator seed.
    split_sizes: `(n_train, n_val, n_test)`, each a positive int.

  Returns:
    `TabularData` with `[n_split, 2]` float32 splits (and `[n_split, 1]`
    contexts for a conditional toy).
  """
  sizes = tuple(int(size) for size in split_sizes)
  if len(sizes) != 3 or min(sizes) < 1:
    raise ValueError(f"split_sizes must be three positive ints, got "
                     f"{split_sizes!r}.")
  rng = np.random.default_rng(seed)
  source = f"toy set {name!r} (seed {seed})"
  if name in CONDITIONAL_TOY_SAMPLERS:
    sampler, description = CONDITIONAL_TOY_SAMPLERS[name]
    points, contexts = sampler(rng, sum(sizes))
    cut = np.cumsum(sizes[:2])
    return TabularData.from_splits(
        name, *np.split(points, cut), source=source, context_description=description,
        contexts=dict(zip(("train", "val", "test"), np.split(contexts, cut))))
  points = TOY_SAMPLERS[name](rng, sum(sizes))
  train, val, test = np.split(points, np.cumsum(sizes[:2]))
  return TabularData.from_splits(name, train, val, test, source=source)
