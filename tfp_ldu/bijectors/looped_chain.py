"""A chain of B bijectors of one kind, run as one `tf.while_loop` over the block index."""
import tensorflow as tf

from tfp_ldu.bijectors.numeric_inverse_bijector import NumericInverseBijector
from tfp_ldu.bijectors.numeric_inverse_bijector import solve_forward
from tfp_ldu.solvers import NumericInverse

__all__ = ["LoopedChain"]


class LoopedChain(NumericInverseBijector):
  """`tfb.Chain([b_0, ..., b_{B-1}])` with b_i = `make_block(i)` built inside a loop.

  Data -> latent (`inverse`) applies b_0.inverse first:

      x_0 = x,   x_{i+1} = b_i.inverse(x_i),   z = x_B
      inverse_log_det_jacobian(x) = sum_{i<B} b_i.inverse_log_det_jacobian(x_i)

  and latent -> data (`forward`, sampling) runs b_{B-1}.forward ... b_0.forward,
  each through `solve_forward`, so the solves' diagnostics add up (iterations
  by max, unconverged problems by sum).  Both directions are one
  `tf.while_loop` over i whose body is traced once: the graph (and the time
  to trace, differentiate and optimise it) does not grow with B.  `make_block`
  typically gathers slice i of weights stacked along a leading block axis.
  The loops carry `maximum_iterations=B`, so XLA compiles and differentiates
  them.

  `inverse` and `inverse_log_det_jacobian` run in the same loop, once per
  input tensor: calling both on the same tensor (as
  `TransformedDistribution.log_prob` does) runs the loop once.

  Shapes: `[..., *event_shape] -> [..., *event_shape]`; every block must map
  that event shape to itself with `forward_min_event_ndims = len(event_shape)`.

  #### Example

  ```python
  shifts = tf.constant([[1., 2.], [3., 4.], [5., 6.]])        # B = 3, D = 2
  chain = LoopedChain(lambda i: tfb.Shift(tf.gather(shifts, i)), num_blocks=3,
                      event_shape=[2])
  chain.inverse(tf.zeros([1, 2]))                             # [[-9., -12.]]
  ```
  """

  def __init__(self, make_block, num_blocks, event_shape, dtype=tf.float32,
               parallel_iterations=1, validate_args=False, name="looped_chain"):
    """Builds the chain.

    Args:
      make_block: `i -> tfb.Bijector`, i a scalar int32 tensor in [0, B); called
        inside the loop body, once per trace.
      num_blocks: B >= 1, a Python int.
      event_shape: the blocks' event shape (list of ints; `[D]` for vectors).
      dtype: the blocks' dtype.
      parallel_iterations: of the `tf.while_loop`s (iterations depend on each
        other, so 1 loses nothing).
      validate_args: TFP's flag (kept for the API).
      name: name scope.

    Raises:
      ValueError: if `num_blocks` < 1.
    """
    parameters = dict(locals())
    if int(num_blocks) < 1:
      raise ValueError(f"LoopedChain: num_blocks must be >= 1; got {num_blocks}.")
    with tf.name_scope(name) as name:
      self._make_block = make_block
      self._num_blocks = int(num_blocks)
      self._event_ndims = len(event_shape)
      self._parallel_iterations = int(parallel_iterations)
      self._inverted = None
      super().__init__(event_shape=list(event_shape),
                       forward_min_event_ndims=self._event_ndims,
                       validate_args=validate_args, parameters=parameters, dtype=dtype,
                       name=name)

  @classmethod
  def _parameter_properties(cls, dtype):
    return dict()

  num_blocks = property(lambda self: self._num_blocks, doc="B.")
  make_block = property(lambda self: self._make_block, doc="`i -> bijector`.")

  def _inverse_and_log_det(self, y):
    """(z, inverse log-det `[...]`) of input `y`, one loop per input tensor."""
    if self._inverted is None or self._inverted[0] is not y:
      self._check_event(y)
      batch_shape = tf.shape(y)[:tf.rank(y) - self._event_ndims]

      def body(i, x, total):
        block = self._make_block(i)
        total += block.inverse_log_det_jacobian(x, event_ndims=self._event_ndims)
        return i + 1, block.inverse(x), total

      _, z, total = tf.while_loop(
          lambda i, x, total: i < self._num_blocks, body,
          (tf.constant(0, tf.int32), y, tf.zeros(batch_shape, y.dtype)),
          maximum_iterations=self._num_blocks,
          parallel_iterations=self._parallel_iterations)
      self._inverted = (y, (z, total))
    return self._inverted[1]

  def _inverse(self, y):
    return self._inverse_and_log_det(y)[0]

  def _inverse_log_det_jacobian(self, y):
    return self._inverse_and_log_det(y)[1]

  def _solve_forward(self, x):
    """Latent -> data: blocks B-1, ..., 0, each by `solve_forward`."""
    def body(i, x, num_iterations, num_unconverged):
      solved = solve_forward(self._make_block(self._num_blocks - 1 - i), x)
      return (i + 1, solved.value, tf.maximum(num_iterations, solved.num_iterations),
              num_unconverged + solved.num_unconverged)

    zero = tf.constant(0, tf.int32)
    _, x, num_iterations, num_unconverged = tf.while_loop(
        lambda i, *_: i < self._num_blocks, body, (zero, x, zero, zero),
        maximum_iterations=self._num_blocks,
        parallel_iterations=self._parallel_iterations)
    return NumericInverse(x, num_iterations, num_unconverged)
