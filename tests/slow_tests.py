"""Rewrites tests/slow_tests.txt from a pytest `--durations=0` log.

    python -m pytest -q -n auto --durations=0 > durations.log
    python tests/slow_tests.py durations.log [--threshold 2.5]

A test is slow when its setup, call and teardown took `--threshold` seconds
or more (`e2e` tests are slow in any case, tests/conftest.py).  The tests
already listed stay listed (pass `--fresh` to start over): the log of a
fast-tier run then adds what it still found slow, e.g. a test that inherited
the setup of a module fixture from a test that left the tier.
"""
import argparse
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
_DURATION = re.compile(r"([\d.]+)s (?:call|setup|teardown)\s+(\S+)")


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("log")
  parser.add_argument("--threshold", type=float, default=2.5)
  parser.add_argument("--fresh", action="store_true", help="forget the current list")
  args = parser.parse_args(argv)
  seconds = {}
  with open(args.log) as stream:
    for line in stream:
      match = _DURATION.match(line.strip())
      if match:
        seconds[match.group(2)] = seconds.get(match.group(2), 0.0) + float(match.group(1))
  path = os.path.join(HERE, "slow_tests.txt")
  listed = set()
  if os.path.exists(path) and not args.fresh:
    with open(path) as stream:
      listed = {line.strip() for line in stream if line.strip() and not line.startswith("#")}
  slow = sorted(listed | {node for node, total in seconds.items() if total >= args.threshold})
  with open(path, "w") as stream:
    stream.write(f"# Tests that took >= {args.threshold} s (tests/slow_tests.py); the "
                 f"fast tier, -m \"not slow\", leaves them out.\n")
    stream.write("".join(node + "\n" for node in slow))
  print(f"{len(slow)} slow tests, {sum(seconds.get(n, 0.0) for n in slow):.0f} s of the "
        f"log's {sum(seconds.values()):.0f} s")


if __name__ == "__main__":
  main()
