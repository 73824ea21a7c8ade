"""Keras layer owning Glow's LU-parameterised invertible 1x1 convolution."""
import keras
import numpy as np
import tensorflow as tf

from tfp_ldu.bijectors.conv1x1_lu import Conv1x1LU
from tfp_ldu.layers.bijector_layer import BijectorLayer

__all__ = ["InvertibleConv1x1"]


def _lu_with_pivoting(matrix):
  """(P, L, U) with matrix = P @ L @ U: Gaussian elimination with partial pivoting.

  P is a permutation matrix, L unit lower-triangular, U upper-triangular
  (scipy.linalg.lu's convention, which openai/glow uses).
  """
  size = len(matrix)
  upper = np.array(matrix, dtype=np.float64)
  lower = np.eye(size)
  order = np.arange(size)
  for k in range(size - 1):
    pivot = k + int(np.argmax(np.abs(upper[k:, k])))
    upper[[k, pivot]] = upper[[pivot, k]]
    lower[[k, pivot], :k] = lower[[pivot, k], :k]
    order[[k, pivot]] = order[[pivot, k]]
    factors = upper[k + 1:, k] / upper[k, k]
    lower[k + 1:, k] = factors
    upper[k + 1:] -= factors[:, None] * upper[k]
  # Rows: matrix[order] = L U, i.e. matrix = P L U with P = I[order]^T.
  permutation = np.eye(size)[order].T
  return permutation, lower, np.triu(upper)


@keras.saving.register_keras_serializable(package="tfp_ldu")
class InvertibleConv1x1(BijectorLayer):
  """Owns the LU factors of a 1x1 convolution's kernel; `bijector()` builds `Conv1x1LU`.

  Data -> latent (the bijector's `inverse`) mixes the channels of every pixel
  of `[N, H, W, C]`:

      z[n, h, w, :] = W x[n, h, w, :],   W = P L (U + diag(sign * exp(log_s)))
      inverse_log_det_jacobian = H * W * sum(log_s)

  Weights (Glow's LU path): `lower` and `upper` (`[C, C]`; only the strictly
  lower / strictly upper triangles are used, the rest gets zero gradients and
  stays 0) and `log_s` (`[C]`) are trainable; the permutation matrix P and
  `sign` are fixed (non-trainable weights, saved with the model).  All are
  initialised as Glow does: W_0 is a random rotation, the Q of the QR
  decomposition of a `seed`ed standard normal matrix, and (P, L, U) its LU
  decomposition with partial pivoting, so the layer does not start as the
  identity.  The sampling direction is closed form (two triangular solves).

  Args:
    num_channels: C.
    seed: seed of the random rotation (None: a fresh random one).
    **kwargs: standard Keras layer arguments.

  #### References

  [1] Kingma, Dhariwal. Glow: Generative Flow with Invertible 1x1
      Convolutions. NeurIPS 2018, section 3.2. https://arxiv.org/abs/1807.03039
  """

  def __init__(self, num_channels, seed=None, **kwargs):
    super().__init__(**kwargs)
    self.num_channels = int(num_channels)
    if self.num_channels < 1:
      raise ValueError(f"InvertibleConv1x1: num_channels must be >= 1; got "
                       f"{num_channels}.")
    self.seed = None if seed is None else int(seed)
    rng = np.random.default_rng(self.seed)
    rotation, _ = np.linalg.qr(rng.normal(size=(self.num_channels, self.num_channels)))
    permutation, lower, upper = _lu_with_pivoting(rotation)
    diagonal = np.diag(upper)
    square = (self.num_channels, self.num_channels)
    constant = keras.initializers.Constant
    self.permutation = self.add_weight(shape=square, initializer=constant(permutation),
                                       trainable=False, name="permutation")
    self.lower = self.add_weight(shape=square, initializer=constant(np.tril(lower, -1)),
                                 name="lower")
    self.upper = self.add_weight(shape=square, initializer=constant(np.triu(upper, 1)),
                                 name="upper")
    self.log_s = self.add_weight(shape=(self.num_channels,),
                                 initializer=constant(np.log(np.abs(diagonal))), name="log_s")
    self.sign = self.add_weight(shape=(self.num_channels,),
                                initializer=constant(np.sign(diagonal)), trainable=False,
                                name="sign")
    self.built = True

  def bijector(self, training=None):
    """A fresh `Conv1x1LU` over the current weights (latent -> data = W^{-1} per pixel)."""
    del training
    return Conv1x1LU(*(tf.convert_to_tensor(w) for w in (
        self.permutation, self.lower, self.upper, self.log_s, self.sign)))

  def get_config(self):
    return {**super().get_config(), "num_channels": self.num_channels, "seed": self.seed}
