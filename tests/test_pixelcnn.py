"""PixelCNN shift network: triangularity proved through the Jacobian, DDI, gradients, XLA."""
import numpy as np
import pytest
import tensorflow as tf

from tfp_ldu.bijectors import TriangularShift
from tfp_ldu.nets.masked_conv2d import MaskedConv2D, pixelcnn_mask
from tfp_ldu.nets.pixelcnn import PixelActNorm, PixelCNN

IMAGE = (3, 4, 3)  # H, W, C
D = int(np.prod(IMAGE))
FILTERS = 6  # stream 12 = 4 maps per channel group, bottleneck 6 = 2 per group


def make_net(upper=False, dtype="float64", **kwargs):
  return PixelCNN(IMAGE, filters=FILTERS, upper=upper, dtype=dtype, **kwargs)


def randomise(net, rng, scale=0.5):
  """Re-draws every trainable weight (kernels, biases, norm loc/log-scale) at random."""
  for weight in net.trainable_weights:
    weight.assign(rng.normal(scale=scale, size=weight.shape).astype(weight.dtype))


def jacobian(fn, x):
  """|d fn(x)_k / d x_j| per row, `[N, D, D]` (output k, input j, flat NHWC order)."""
  x = tf.convert_to_tensor(x)
  with tf.GradientTape() as tape:
    tape.watch(x)
    y = fn(x)
  return np.abs(tape.batch_jacobian(y, x).numpy())


def union_of_jacobians(net, draws=3, batch=8, seed=0):
  """Max over `draws` random weight draws and `batch` random inputs, `[D, D]`."""
  rng = np.random.default_rng(seed)
  total = np.zeros((D, D))
  for _ in range(draws):
    randomise(net, rng)
    total = np.maximum(total, jacobian(net, rng.normal(size=(batch, D))).max(axis=0))
  return total


@pytest.mark.parametrize("upper", [False, True])
def test_shift_is_strictly_triangular_and_uses_every_allowed_input(upper):
  """Output k depends on exactly the inputs j < k (lower) or j > k (upper).

  With the default 7x7 type-A input kernel, the first layer alone reaches every
  earlier pixel of a 3 x 4 image (row offsets <= 2, column offsets <= 3 <= 7 // 2),
  and every channel group owns feature maps, so every strictly earlier scalar is
  reachable: the "every allowed entry is non-zero" half of the claim is true here.
  """
  net = make_net(upper=upper)
  jac = union_of_jacobians(net)
  allowed = np.tril(np.ones((D, D), bool), -1)
  if upper:
    allowed = allowed.T
  assert np.all(jac[~allowed] == 0.0)
  assert np.all(jac[allowed] > 0.0)


def test_small_input_kernel_keeps_the_blind_spot():
  """With a 3x3 input kernel, pixel (1, 0) cannot see (0, 2) or (0, 3): no masked
  layer moves right on a row without moving up.  Triangularity still holds."""
  net = make_net(kernel_size=3)
  jac = union_of_jacobians(net).reshape(IMAGE + IMAGE)  # [h, w, c, h', w', c']
  assert np.all(jac.reshape(D, D)[np.triu_indices(D)] == 0.0)
  assert np.all(jac[1, 0, :, 0, 2:, :] == 0.0)
  assert np.all(jac[1, 0, :, 0, :2, :] > 0.0)


def test_type_b_input_layer_would_be_caught():
  """Negative control: a type-B first layer lets output (p, c) read input (p, c)."""
  net = make_net()
  bad = MaskedConv2D(2 * FILTERS, net.kernel_size, "B", IMAGE[-1], use_bias=False,
                     dtype="float64", name="input_conv_type_b")
  bad.build((None,) + IMAGE)
  net.input_conv = bad
  jac = union_of_jacobians(net)
  assert np.all(np.diag(jac) > 0.0)
  assert not np.all(jac[np.triu_indices(D)] == 0.0)


def test_masks_match_the_documented_pictures():
  mask = pixelcnn_mask(5, 3, 6, 3, "A")
  spatial = mask.max(axis=(2, 3))
  np.testing.assert_array_equal(spatial, [[1] * 5, [1] * 5, [1, 1, 1, 0, 0],
                                          [0] * 5, [0] * 5])
  np.testing.assert_array_equal(mask[2, 2, :, :3], [[0, 1, 1], [0, 0, 1], [0, 0, 0]])
  np.testing.assert_array_equal(mask[2, 2, :, 3:], mask[2, 2, :, :3])  # groups f % C
  mask_b = pixelcnn_mask(5, 6, 3, 3, "B")
  np.testing.assert_array_equal(mask_b[2, 2, 3:], mask_b[2, 2, :3])
  np.testing.assert_array_equal(mask_b[2, 2, :3], [[1, 1, 1], [0, 1, 1], [0, 0, 1]])
  assert np.all(mask_b[:2] == 1) and np.all(mask_b[3:] == 0)


def test_initialize_standardises_every_norm_per_position(monkeypatch):
  net = make_net()
  rng = np.random.default_rng(1)
  batch = rng.normal(loc=2.0, scale=3.0, size=(64, D))
  assert net.needs_initialization and not net.is_initialized
  net.initialize(batch)
  assert net.is_initialized and not net.needs_initialization

  seen = []  # (input, output) of every norm on the next call, in data order
  original_call = PixelActNorm.call

  def recording_call(self, x):
    y = original_call(self, x)
    seen.append((x.numpy(), y.numpy()))
    return y

  monkeypatch.setattr(PixelActNorm, "call", recording_call)
  out = net(batch).numpy()
  assert len(seen) == len(net.norms) == 3 * 2 + 2
  # Features within a factor of 100 of the threshold are left out: the
  # initialisation's variance (NumPy) and this call's (another summation
  # order) can fall on either side of it (one of 144 did, in one CI run).
  threshold = net.norms[0].min_variance
  for x, y in seen:
    variance = x.var(axis=0)
    varying = variance > 100 * threshold
    np.testing.assert_allclose(y.mean(axis=0), 0.0, atol=1e-9)
    np.testing.assert_allclose(y.std(axis=0)[varying], 1.0, rtol=1e-9)
    assert varying.mean() > 0.9
  # The only constant features entering the first norm: group 0 (maps 0, 3, 6, 9)
  # of pixel (0, 0), which the type-A input layer connects to nothing.
  first_constant = seen[0][0].var(axis=0) <= threshold / 100
  expected = np.zeros_like(first_constant)
  expected[0, 0, 0::3] = True
  np.testing.assert_array_equal(first_constant, expected)
  assert np.std(out) < 0.1  # small output layer: the shift starts near 0

  weights = [w.numpy().copy() for w in net.weights]
  net.initialize(rng.normal(size=(64, D)))  # already initialised: a no-op
  assert all(np.array_equal(a, w.numpy()) for a, w in zip(weights, net.weights))


def test_every_trainable_weight_gets_a_gradient_on_the_first_step():
  net = make_net(dtype="float32")
  rng = np.random.default_rng(2)
  x = rng.normal(size=(16, D)).astype("float32")
  net.initialize(x)
  target = tf.constant(rng.normal(size=(16, D)).astype("float32"))
  with tf.GradientTape() as tape:
    loss = tf.reduce_mean((net(x) - target) ** 2)
  grads = tape.gradient(loss, net.trainable_weights)
  assert len(grads) == 1 + 2 * 3 * 2 + 3 * 2 + 2 * 2 + 2 + 1  # 26 weights
  for weight, grad in zip(net.trainable_weights, grads):
    assert grad is not None and np.any(grad.numpy() != 0.0), weight.path


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("upper", [False, True])
def test_xla_with_unknown_batch_matches_eager(dtype, upper):
  net = make_net(upper=upper, dtype=dtype)
  rng = np.random.default_rng(3)
  net.initialize(rng.normal(size=(32, D)).astype(dtype))
  randomise(net, rng, scale=0.3)
  x = rng.normal(size=(5, D)).astype(dtype)
  compiled = tf.function(net, jit_compile=True,
                         input_signature=[tf.TensorSpec([None, D], dtype)])
  tolerance = 1e-5 if dtype == "float32" else 1e-12
  eager = net(x).numpy()
  assert eager.dtype == dtype
  np.testing.assert_allclose(compiled(x).numpy(), eager, rtol=tolerance, atol=tolerance)
  images = net(x.reshape((5,) + IMAGE)).numpy()  # image input gives the same shift
  np.testing.assert_allclose(images.reshape(5, D), eager, rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("upper", [False, True])
def test_drives_triangular_shift_round_trip(upper):
  net = make_net(upper=upper)
  rng = np.random.default_rng(4)
  x = tf.constant(rng.normal(size=(6, D)))
  net.initialize(x)
  randomise(net, rng, scale=0.3)
  bijector = TriangularShift(net, upper=upper, event_size=D)
  z = bijector.inverse(x)
  assert np.max(np.abs(z - x)) > 0.1  # a non-trivial shift
  np.testing.assert_allclose(bijector.forward(tf.identity(z)), x, rtol=1e-9, atol=1e-9)


def test_config_round_trip_and_errors():
  net = PixelCNN(IMAGE, filters=4, num_residual_blocks=1, kernel_size=5, upper=True,
                 activation="elu", name="shift", dtype="float64")
  clone = PixelCNN.from_config(net.get_config())
  assert clone.name == "shift" and clone.dtype == "float64" and clone.upper
  assert clone.image_shape == IMAGE and clone.filters == 4 and clone.kernel_size == 5
  assert len(clone.blocks) == 1 and len(clone.trainable_weights) == len(net.trainable_weights)
  with pytest.raises(ValueError, match=r"filters must be >= .* C = 3.*filters=2"):
    PixelCNN(IMAGE, filters=2)
  with pytest.raises(ValueError, match="kernel_size must be a positive odd"):
    PixelCNN(IMAGE, kernel_size=4)
  with pytest.raises(ValueError, match=r"\[\.\.\., 36\].*\[\.\.\., 3, 4, 3\].*\[2, 35\]"):
    net(tf.zeros([2, 35], tf.float64))
  with pytest.raises(ValueError, match="output_init_scale must be > 0"):
    PixelCNN(IMAGE, output_init_scale=0.0)
  with pytest.raises(ValueError, match="mask_type must be 'A' or 'B'"):
    MaskedConv2D(3, 3, "C", 3)
