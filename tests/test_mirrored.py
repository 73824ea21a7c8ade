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
