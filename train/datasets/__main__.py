"""`python -m train.datasets`: downloads the MAF archive into a data folder."""
import argparse

from train.datasets import layout
from train.datasets.maf_archive import download


def main(argv=None) -> None:
  """Parses `--data-dir`, `--url`, `--force` and runs `download`."""
  parser = argparse.ArgumentParser(
      prog="python -m train.datasets",
      description="Download and unpack the MAF tabular benchmarks (Zenodo "
                  "record 1161203, data.tar.gz).")
  parser.add_argument("--data-dir", default=None,
                      help="destination (default: $TFP_LDU_DATA_DIR or "
                           "~/.tfp_ldu/data)")
  parser.add_argument("--url", default=layout.DEFAULT_URL,
                      help="archive URL (default: %(default)s)")
  parser.add_argument("--force", action="store_true",
                      help="download even if every file is present")
  args = parser.parse_args(argv)
  print(download(args.data_dir, url=args.url, force=args.force))


if __name__ == "__main__":
  main()
