"""Command-line options shared by the benchmarks that run the authors' PyTorch code."""
import argparse
import os

__all__ = ["reference_parser"]


def reference_parser(description):
  """An `ArgumentParser` with `--torch-python` and `--reference-dir` (or their env vars)."""
  parser = argparse.ArgumentParser(description=description,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--torch-python", default=os.environ.get("PARITY_TORCH_PYTHON"),
                      help="python of a PyTorch environment ($PARITY_TORCH_PYTHON)")
  parser.add_argument("--reference-dir", default=os.environ.get("PARITY_REFERENCE_DIR"),
                      help="checkout of weiyumou/ldu-flow ($PARITY_REFERENCE_DIR)")
  return parser
