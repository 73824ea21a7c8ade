"""`train/fit.py --strategy multi-worker`: two worker processes on 127.0.0.1.

Each worker is a fresh Python process running `train.fit.main` (the CLI)
with its own `TF_CONFIG`, plus a callback that dumps its variables and loss
history when training ends.  A single-process run on the same flags is the
reference: the workers shard every global batch, so the two runs see the
same batches and must agree to float tolerance.  The two-worker run is
killed mid-training (its non-chief first) and resumed to the end, so one
pair of runs checks both the lockstep and the resume.  The workers run with
`--no-jit` here (the replica-XLA path is the same code under Mirrored and
is tested in tests/test_mirrored.py) and are always killed by pid.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

# Every test here runs train/fit.py end to end (see pytest.ini).
pytestmark = pytest.mark.e2e

REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TIMEOUT = 240  # Seconds a run of the workers may take before the test fails.

CHILD = textwrap.dedent("""
    import json
    import sys

    import keras
    import numpy as np

    from train import fit


    class DumpAtTrainEnd(keras.callbacks.Callback):
      '''Writes this worker's variables, losses and replica count when training ends.'''

      def __init__(self, path):
        super().__init__()
        self.path = path
        self.losses = []

      def on_epoch_end(self, epoch, logs=None):
        self.losses.append(float(logs["loss"]))

      def on_train_end(self, logs=None):
        # Every worker runs this (reading synchronised variables may all-reduce).
        np.savez(self.path + ".npz", *[np.asarray(v.numpy()) for v in self.model.variables])
        with open(self.path + ".json", "w") as stream:
          json.dump(dict(
              losses=self.losses,
              num_replicas_in_sync=self.model.distribute_strategy.num_replicas_in_sync,
              steps=int(self.model.optimizer.iterations.numpy())), stream)


    fit.main(sys.argv[2:], callbacks=[DumpAtTrainEnd(sys.argv[1])])
    """)

# A small conditional LDU flow p(x | c) on the 2-D rotating moons (the
# unconditional path is the same code with no context, and is what the
# Mirrored tests run); 3 epochs of 50 steps, so that a worker killed after the
# first checkpoint dies in the middle of training.
FLAGS = ["--dataset", "rotating_moons", "--conditional",
         "--num-blocks", "2", "--num-d-scales", "1", "--num-mixtures", "2",
         "--hidden-units", "16", "--batch-size", "64", "--epochs", "3", "--steps", "150",
         "--num-samples", "100", "--eval-batch-size", "1000", "--verbose", "0", "--no-jit"]


def _free_ports(count):
  sockets = [socket.socket() for _ in range(count)]
  try:
    for sock in sockets:
      sock.bind(("127.0.0.1", 0))
    return [sock.getsockname()[1] for sock in sockets]
  finally:
    for sock in sockets:
      sock.close()


def _environment(scratch, tf_config=None):
  environment = {key: value for key, value in os.environ.items()
                 if key.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
  environment.update(
      NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost",
      CUDA_VISIBLE_DEVICES="-1", TF_CPP_MIN_LOG_LEVEL="2", TF_ENABLE_ONEDNN_OPTS="0",
      TMPDIR=str(scratch),  # Where non-chief workers put (and remove) their scratch.
      PYTHONPATH=os.pathsep.join(filter(None, [REPOSITORY, os.environ.get("PYTHONPATH")])))
  if tf_config is not None:
    environment["TF_CONFIG"] = json.dumps(tf_config)
  return environment


def _start(dump, flags, environment, log):
  return subprocess.Popen([sys.executable, "-c", CHILD, str(dump), *flags], cwd=REPOSITORY,
                          env=environment, stdout=log, stderr=subprocess.STDOUT)


def _kill(processes):
  for process in processes:
    if process.poll() is None:
      os.kill(process.pid, signal.SIGKILL)
      process.wait()


def _tail(path, size=3000):
  with open(path, errors="replace") as stream:
    return stream.read()[-size:]


class _Workers:
  """Two `fit.py --strategy multi-worker` processes on free local ports."""

  def __init__(self, directory, out, flags, extra=()):
    self.directory = directory
    self.scratch = directory / "scratch"
    self.scratch.mkdir(exist_ok=True)
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    self.logs = [directory / f"worker{i}.log" for i in range(2)]
    self.dumps = [directory / f"worker{i}" for i in range(2)]
    self.processes = []
    for i in range(2):
      environment = _environment(self.scratch, {"cluster": cluster,
                                                "task": {"type": "worker", "index": i}})
      with open(self.logs[i], "w") as log:
        self.processes.append(_start(
            self.dumps[i], ["--strategy", "multi-worker", "--out", str(out), *flags, *extra],
            environment, log))

  def wait(self, timeout=TIMEOUT):
    """Waits for both; on a timeout or a failure kills both and fails with their logs."""
    deadline = time.monotonic() + timeout
    try:
      for process in self.processes:
        process.wait(timeout=max(deadline - time.monotonic(), 1))
    except subprocess.TimeoutExpired:
      _kill(self.processes)
      pytest.fail(f"the workers did not finish within {timeout} s:\n" + self.tails())
    finally:
      _kill(self.processes)
    codes = [process.returncode for process in self.processes]
    assert codes == [0, 0], f"exit codes {codes}:\n" + self.tails()

  def tails(self):
    return "\n".join(f"--- {log.name}\n{_tail(log)}" for log in self.logs)


def _load(dump):
  with open(f"{dump}.json") as stream:
    info = json.load(stream)
  with np.load(f"{dump}.npz") as arrays:
    variables = [arrays[f"arr_{i}"] for i in range(len(arrays.files))]
  return info, variables


def _checkpoint(out):
  """The last checkpoint's state and arrays in `out/checkpoints`."""
  directory = os.path.join(out, "checkpoints")
  with open(os.path.join(directory, "state.json")) as stream:
    state = json.load(stream)
  with np.load(os.path.join(directory, state["last_file"])) as arrays:
    return state, {key: arrays[key] for key in arrays.files}


def _interrupt_after_first_checkpoint(workers, out):
  """Kills the non-chief once the chief has committed epoch 1, then the stuck chief."""
  state_file = out / "checkpoints" / "state.json"
  deadline = time.monotonic() + TIMEOUT
  try:
    while not state_file.exists():  # The chief committed epoch 1.
      if time.monotonic() > deadline or any(p.poll() is not None for p in workers.processes):
        pytest.fail("no checkpoint before the workers stopped:\n" + workers.tails())
      time.sleep(0.05)
    os.kill(workers.processes[1].pid, signal.SIGKILL)  # The non-chief dies mid-run,
  finally:
    _kill(workers.processes)  # and the chief, now stuck in a collective, is stopped.


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
  """Two workers whose non-chief is killed mid-run and which then `--resume` to
  the end, and the single-process run on the same flags, uninterrupted.

  The resumed run is the one every test reads: if resuming lost or repeated
  anything, it would not end where the single process ends.
  """
  directory = tmp_path_factory.mktemp("multi_worker")
  out = directory / "two_workers"
  single_log = directory / "single.log"
  with open(single_log, "w") as log:
    single = _start(directory / "single", ["--out", str(directory / "single_out"), *FLAGS],
                    _environment(directory), log)
  try:
    (directory / "interrupted").mkdir()
    _interrupt_after_first_checkpoint(_Workers(directory / "interrupted", out, FLAGS), out)
    interrupted_state, _ = _checkpoint(out)
    (directory / "resumed").mkdir()
    workers = _Workers(directory / "resumed", out, FLAGS, extra=["--resume"])
    workers.wait()
    single.wait(timeout=TIMEOUT)
  except subprocess.TimeoutExpired:
    pytest.fail("the single-process run did not finish:\n" + _tail(single_log))
  finally:
    _kill([single])
  assert single.returncode == 0, _tail(single_log)
  return dict(directory=directory / "resumed", workers=workers, single=directory / "single",
              out=out, single_out=directory / "single_out",
              interrupted_epoch=interrupted_state["epoch"])


@pytest.mark.slow
def test_a_killed_worker_resumes_to_where_one_process_ends(runs):
  assert 1 <= runs["interrupted_epoch"] < 3, "the worker was killed after training ended"
  assert all("Resuming" in _tail(log) for log in runs["workers"].logs)
  state, arrays = _checkpoint(runs["out"])
  single_state, single_arrays = _checkpoint(runs["single_out"])
  assert state["epoch"] == single_state["epoch"] == 3
  assert state["step"] == single_state["step"] == 150
  assert state["history"].keys() == single_state["history"].keys()
  for key, values in state["history"].items():  # Every epoch's, before and after the kill.
    np.testing.assert_allclose(values, single_state["history"][key], rtol=2e-5, err_msg=key)
  assert arrays.keys() == single_arrays.keys()  # Model and optimizer variables.


@pytest.mark.slow
def test_two_workers_train_in_lockstep(runs):
  (info0, weights0), (info1, weights1) = (_load(dump) for dump in runs["workers"].dumps)
  assert info0["num_replicas_in_sync"] == info1["num_replicas_in_sync"] == 2
  assert info0["steps"] == info1["steps"] == 150
  assert len(weights0) == len(weights1) > 0
  for first, second in zip(weights0, weights1):
    np.testing.assert_array_equal(first, second)  # Bit-identical.
  assert info0["losses"] and info0["losses"] == info1["losses"]  # The resumed epochs'.
  state, _ = _checkpoint(runs["out"])
  assert state["history"]["loss"][-1] < state["history"]["loss"][0]


@pytest.mark.slow
def test_two_workers_match_one_process_on_the_same_global_batches(runs):
  info, weights = _load(runs["workers"].dumps[0])
  single_info, single_weights = _load(runs["single"])
  assert single_info["num_replicas_in_sync"] == 1
  np.testing.assert_allclose(info["losses"], single_info["losses"][-len(info["losses"]):],
                             rtol=1e-5)
  assert len(weights) == len(single_weights)
  # 150 Adam steps amplify the different rounding of the summed gradients
  # (Adam's update of a near-zero gradient is about +-lr whatever its size):
  # the weights agree to a few 1e-3 (measured: <= 2.3e-3), the loss
  # histories above to 1e-5 and the test log-likelihood below to 1e-6.
  for ours, theirs in zip(weights, single_weights):
    np.testing.assert_allclose(ours, theirs, atol=1e-2)
  with open(runs["out"] / "metrics.json") as stream:
    metrics = json.load(stream)
  with open(runs["single_out"] / "metrics.json") as stream:
    single_metrics = json.load(stream)
  assert metrics["num_replicas_in_sync"] == 2 and metrics["config"]["num_workers"] == 2
  # p(x | c): both runs trained the conditional model, and the workers' context
  # standardisation comes from every training context, as the single run's.
  assert metrics["conditional"] and single_metrics["conditional"]
  assert metrics["config"]["context_shape"] == [1]
  np.testing.assert_allclose(metrics["history"]["val_loss"],
                             single_metrics["history"]["val_loss"], rtol=2e-5)
  np.testing.assert_allclose(metrics["test_log_likelihood"],
                             single_metrics["test_log_likelihood"], rtol=1e-5)
  # The exported p(x | c) reads its context: one point, four contexts, four densities.
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  exported = tf.saved_model.load(str(runs["out"] / "saved_model"))
  log_prob = exported.log_prob(np.zeros([4, 2], np.float32),
                               np.float32([[-0.9], [-0.3], [0.3], [0.9]])).numpy()
  assert np.all(np.isfinite(log_prob)) and np.ptp(log_prob) > 1e-3, log_prob


@pytest.mark.slow
def test_only_the_chief_writes_outputs(runs):
  out = runs["out"]
  for name in ("config.json", "metrics.json", "checkpoints", "logs", "saved_model",
               "samples.png"):  # A conditional 2-D model plots samples at five contexts.
    assert (out / name).exists(), name
  # The other worker wrote into a scratch directory under TMPDIR and removed it,
  # and its log says where the outputs are instead of naming that directory.
  assert list((runs["directory"] / "scratch").iterdir()) == []
  chief_log, other_log = (_tail(log, 5000) for log in runs["workers"].logs)
  assert f"Outputs in {out}." in chief_log
  assert "Outputs in" not in other_log and "the chief writes the outputs" in other_log
