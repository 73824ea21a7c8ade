"""Base class for bijectors whose `forward` (latent -> data) is a numeric solve."""
import tensorflow as tf
from tensorflow_probability.python.bijectors import chain as chain_lib
from tensorflow_probability.python.bijectors import invert as invert_lib

from tfp_ldu.bijectors import shape_checks
from tfp_ldu.bijectors.instance_cached import InstanceCachedBijector
from tfp_ldu.solvers import NumericInverse

__all__ = ["NumericInverseBijector", "solve_forward"]


class NumericInverseBijector(InstanceCachedBijector):
  """A bijector with a closed-form `inverse` and a numerically solved `forward`.

  Subclasses implement

      _inverse(y)          the closed-form data -> latent map, `[..., E...]`
      _solve_forward(x)    latent -> data, returning a `NumericInverse`

  and get `forward` (the solve's value), `solve_forward` (the value with its
  iteration count and number of unconverged problems) and one static check
  of the event shape, `_check_event`, shared by both directions.  The event
  shape is the trailing `forward_min_event_ndims` dimensions of the input:
  `event_shape=[D]` for vectors, `[H, W, C]` for images; `None` entries are
  read from the input.
  """

  def __init__(self, *, event_shape=None, **kwargs):
    """Builds the bijector.

    Args:
      event_shape: static event shape (list of ints or None), or None when
        unknown; its length must equal `forward_min_event_ndims` if given.
      **kwargs: passed to `tfb.Bijector` (`forward_min_event_ndims`,
        `parameters`, `name`, ...).
    """
    self._static_event_shape = (None if event_shape is None
                                else tf.TensorShape(event_shape))
    super().__init__(**kwargs)

  def _check_event(self, x):
    """Raises `ValueError` if `x`'s trailing dimensions contradict `event_shape`."""
    shape_checks.check_event_shape(type(self).__name__, x, self._static_event_shape,
                                   self.forward_min_event_ndims)

  def solve_forward(self, x) -> NumericInverse:
    """Latent -> data with the solve's diagnostics (see `NumericInverse`)."""
    x = tf.convert_to_tensor(x, dtype_hint=self.dtype)
    self._check_event(x)
    return self._solve_forward(x)

  def _solve_forward(self, x) -> NumericInverse:
    raise NotImplementedError(f"{type(self).__name__} must implement _solve_forward.")

  def _forward(self, x):
    return self.solve_forward(x).value


def solve_forward(bijector, x) -> NumericInverse:
  """`bijector.forward(x)` with the diagnostics of every numeric solve inside it.

  Walks `tfb.Chain`s (in forward order) and `tfb.Invert`s of chains; a
  `NumericInverseBijector` reports its solve; any other bijector is applied
  in closed form and counts 0 iterations.  Iteration counts combine by max,
  unconverged counts by sum (`NumericInverse.combine`).

  Args:
    bijector: any `tfb.Bijector`.
    x: latent `[..., E...]`.
  """
  if isinstance(bijector, NumericInverseBijector):
    return bijector.solve_forward(x)
  # `tfb.Chain(...)` and `tfb.Invert(...)` build auto-composite subclasses of
  # the private `_Chain` / `_Invert`, which plain `Chain` instances also are.
  if isinstance(bijector, chain_lib._Chain):  # pylint: disable=protected-access
    solves = []
    for part in reversed(bijector.bijectors):
      solves.append(solve_forward(part, x))
      x = solves[-1].value
    return NumericInverse.combine(solves, value=x)
  if (isinstance(bijector, invert_lib._Invert)  # pylint: disable=protected-access
      and isinstance(bijector.bijector, invert_lib._Invert)):  # pylint: disable=protected-access
    return solve_forward(bijector.bijector.bijector, x)
  return NumericInverse.closed_form(bijector.forward(x))
