"""`python -m train.datasets`: downloads the MAF archive into a data folder."""
import argparse

from train.datasets import layout
from train.datasets.maf_archive import download


def main(argv=None) -> None:
  """Parses `--data-dir`, `--url`, `--md5`, `--force` and runs `download`."""
  parser = argparse.ArgumentParser(
      prog="python -m train.datasets",
      description="Download and unpack the MAF tabular benchmarks (Zenodo "
                  "record 1161203, data.tar.gz).")
  parser.add_argument("--data-dir", default=None,
                      help="destination (default: $TFP_LDU_DATA_DIR or "
                           "~/.tfp_ldu/data)")
  parser.add_argument("--url", default=layout.DEFAULT_URL,
                      help="archive URL (default: %(default)s)")
  parser.add_argument("--md5", default=layout.ARCHIVE_MD5,
                      help="expected MD5 of the archive (default: Zenodo's published "
                           "%(default)s); 'none' skips the check")
  parser.add_argument("--force", action="store_true",
                      help="download even if every file is present")
  args = parser.parse_args(argv)
  md5 = None if args.md5.lower() == "none" else args.md5
  print(download(args.data_dir, url=args.url, force=args.force, md5=md5))


if __name__ == "__main__":
  main()
