"""`array_dataset`: the arrays pipeline `FlowModel.fit` uses on CPUs, batched as Keras batches."""
import numpy as np
import tensorflow as tf

from tfp_ldu.flows.training import array_dataset


def rows_of(dataset, epochs=1):
  return [[np.asarray(part) for part in tf.nest.flatten(element)]
          for _ in range(epochs) for element in dataset]


def test_batches_in_order_with_a_partial_last_batch():
  x = np.arange(20, dtype=np.float32).reshape(10, 2)
  batches = rows_of(array_dataset(x, batch_size=4, shuffle=False))
  assert [b[0].shape[0] for b in batches] == [4, 4, 2]
  np.testing.assert_array_equal(np.concatenate([b[0] for b in batches]), x)


def test_shuffled_epochs_hold_every_row_once_and_keep_rows_paired():
  # Under a global seed (keras.utils.set_random_seed, as in these tests) each
  # new iterator repeats its permutation, as Keras's own array pipeline does.
  x = {"x": np.arange(64, dtype=np.float32).reshape(32, 2),
       "context": np.arange(32, dtype=np.float32)[:, None] * 10}
  weights = np.arange(32, dtype=np.float32)
  labels = np.zeros(32, np.float32)
  dataset = array_dataset(x, labels, weights, batch_size=8, shuffle=True)
  # Flattened elements: context, x (dict keys sorted), labels, weights.
  first, second = (np.concatenate([b[0] for b in rows_of(dataset)]) for _ in range(2))
  for order in (first, second):  # Every row once per epoch.
    np.testing.assert_array_equal(np.sort(order[:, 0]), x["context"][:, 0])
  assert not np.array_equal(first[:, 0], np.sort(first[:, 0]))  # Shuffled.
  for context, rows, _, weight in rows_of(dataset):
    np.testing.assert_array_equal(rows[:, 0] * 5, context[:, 0])
    np.testing.assert_array_equal(context[:, 0] / 10, weight)


def test_float64_arrays_stay_float64():
  x = np.random.default_rng(0).normal(size=(6, 3))
  (batch,), = rows_of(array_dataset(x, batch_size=6, shuffle=False))
  assert batch.dtype == np.float64
