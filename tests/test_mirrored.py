"""`train/fit.py --strategy mirrored` on two logical CPU devices.

The devices must be configured before TensorFlow initialises, so the run
happens in a fresh Python subprocess that splits the CPU in two, then calls
`train.fit.main`; the test reads back the metrics it wrote.
"""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CHILD = textwrap.dedent("""
    import sys
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

    from train import fit

    fit.main(sys.argv[1:])
    """)


@pytest.mark.e2e
def test_mirrored_strategy_trains_on_two_replicas(tmp_path):
  out = str(tmp_path / "mirrored")
  flags = ["--strategy", "mirrored", "--num-blocks", "2", "--num-d-scales", "1",
           "--num-mixtures", "2", "--hidden-units", "16", "--batch-size", "64",
           "--epochs", "3", "--steps", "45", "--num-samples", "200",
           "--eval-batch-size", "500", "--verbose", "0", "--out", out]
  environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", TF_ENABLE_ONEDNN_OPTS="0",
                     PYTHONPATH=os.pathsep.join(filter(None, [
                         REPOSITORY, os.environ.get("PYTHONPATH")])))
  finished = subprocess.run([sys.executable, "-c", CHILD, *flags], cwd=REPOSITORY,
                            env=environment, capture_output=True, text=True, timeout=600)
  assert finished.returncode == 0, finished.stderr[-3000:]
  with open(os.path.join(out, "metrics.json")) as stream:
    metrics = json.load(stream)
  assert metrics["num_replicas_in_sync"] == 2
  assert metrics["steps"] == 45
  losses = metrics["history"]["loss"]
  assert len(losses) == 3 and losses[-1] < losses[0]
  assert metrics["history"]["val_loss"][-1] < metrics["history"]["val_loss"][0]
  assert metrics["test_log_likelihood"] > metrics["initial_test_log_likelihood"]


XLA_CHILD = textwrap.dedent("""
    import json
    import sys

    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

    import keras
    import numpy as np

    from tfp_ldu.flows import LDUFlow

    x = np.random.default_rng(0).normal(size=(640, 3)).astype("float32")
    batches = tf.data.Dataset.from_tensor_slices(x).batch(64, drop_remainder=True)
    strategy = tf.distribute.MirroredStrategy()
    results = {}
    for jit_compile in (False, True):
      keras.utils.set_random_seed(0)
      with strategy.scope():
        flow = LDUFlow(3, num_blocks=2, num_d_scales=1, num_components=2, hidden_units=(16,))
        flow.compile(keras.optimizers.Adam(1e-2), jit_compile=jit_compile)
      history = flow.fit(batches, epochs=3, verbose=0, shuffle=False)
      results[str(jit_compile)] = dict(
          losses=history.history["loss"],
          replica_jit_compile=bool(getattr(flow, "replica_jit_compile", False)),
          outer_jit_compile=bool(flow.jit_compile),
          num_replicas=strategy.num_replicas_in_sync,
          weights=[w.tolist() for w in flow.get_weights()])

    # compute_loss: layer losses count once over the replicas, like the NLL.
    class WithLayerLoss(LDUFlow):
      @property
      def losses(self):
        return [tf.constant(2.0)]

    with strategy.scope():
      flow = WithLayerLoss(3, num_blocks=1, num_d_scales=1, num_components=2, hidden_units=(8,))

    def replica_loss(batch):
      log_likelihood = flow(batch)
      return flow.compute_loss(y_pred=log_likelihood), -tf.reduce_mean(log_likelihood)

    scaled, nll = strategy.run(replica_loss, args=(tf.constant(x[:32]),))
    results["compute_loss"] = dict(
        scaled=[float(v) for v in strategy.experimental_local_results(scaled)],
        nll=[float(v) for v in strategy.experimental_local_results(nll)])
    with open(sys.argv[1], "w") as stream:
      json.dump(results, stream)
    """)


@pytest.mark.e2e
def test_mirrored_xla_per_replica_trains_and_matches_the_graph_run(tmp_path):
  out = tmp_path / "results.json"
  environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", TF_ENABLE_ONEDNN_OPTS="0",
                     PYTHONPATH=os.pathsep.join(filter(None, [
                         REPOSITORY, os.environ.get("PYTHONPATH")])))
  finished = subprocess.run([sys.executable, "-c", XLA_CHILD, str(out)], cwd=REPOSITORY,
                            env=environment, capture_output=True, text=True, timeout=400)
  assert finished.returncode == 0, finished.stderr[-3000:]
  with open(out) as stream:
    results = json.load(stream)
  graph, xla = results["False"], results["True"]
  assert graph["num_replicas"] == xla["num_replicas"] == 2
  # XLA moved into the replica step; the outer step (all-reduce, update) is a graph.
  assert xla["replica_jit_compile"] and not xla["outer_jit_compile"]
  assert not graph["replica_jit_compile"]
  assert xla["losses"][-1] < xla["losses"][0]
  np.testing.assert_allclose(xla["losses"], graph["losses"], rtol=1e-4)
  for ours, theirs in zip(xla["weights"], graph["weights"]):
    np.testing.assert_allclose(ours, theirs, rtol=1e-3, atol=1e-4)
  # Each replica's loss is (NLL + layer losses) / 2, so the sum over the
  # replicas counts the layer loss (2.0) once.
  for scaled, nll in zip(results["compute_loss"]["scaled"], results["compute_loss"]["nll"]):
    np.testing.assert_allclose(scaled, (nll + 2.0) / 2, rtol=1e-5)


@pytest.mark.parametrize("jit_compile", [False, True], ids=["graph", "xla"])
def test_mirrored_strategy_on_one_device_trains(jit_compile):
  """One GPU or one CPU is the commonest machine: the finite-update guard must not
  call `merge_call` from inside a `tf.cond` there."""
  import keras
  import tensorflow as tf
  from tfp_ldu.flows import MAF
  strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
  assert strategy.num_replicas_in_sync == 1
  with strategy.scope():
    model = MAF(2, num_blocks=1, hidden_units=(8,))
    model.compile(keras.optimizers.Adam(1e-2), jit_compile=jit_compile)
  x = np.random.default_rng(0).normal(size=(128, 2)).astype("float32")
  before = [v.numpy().copy() for v in model.trainable_variables]
  history = model.fit(x, batch_size=32, epochs=2, verbose=0)
  assert np.all(np.isfinite(history.history["loss"]))
  assert all(not np.array_equal(b, v.numpy()) for b, v in zip(before, model.trainable_variables))
  bad = x.copy()
  bad[40] = np.nan
  from tfp_ldu.flows import NonFiniteLossError
  with pytest.raises(NonFiniteLossError):
    model.fit(bad, batch_size=32, epochs=1, verbose=0, shuffle=False)
