"""Where the image datasets live on disk: several accepted layouts each.

MNIST and CIFAR-10 are read from the MAF archive (Zenodo record 1161203,
`data.tar.gz`, which holds `mnist/` and `cifar10/` next to the tabular
benchmarks) or from the raw files a user may already have.  A dataset lists
its `FileLayout`s in order of preference; `find_layout` returns the first
one whose files are all present under the data directory.
"""
import dataclasses
import os
from typing import Tuple

from train.datasets import layout

__all__ = ["FileLayout", "find_layout", "archive_instructions"]


@dataclasses.dataclass(frozen=True)
class FileLayout:
  """One way a dataset can be stored.

  Attributes:
    description: what these files are, for messages.
    files: paths relative to the data directory, all required.
  """
  description: str
  files: Tuple[str, ...]


def find_layout(data_dir, dataset: str, layouts, how_to_get):
  """Returns the first complete layout and the absolute paths of its files.

  Args:
    data_dir: the data directory, or None for `layout.default_data_dir()`.
    dataset: the dataset's display name, for messages.
    layouts: `FileLayout`s in order of preference.
    how_to_get: `root -> str`, instructions appended to the error for the
      absolute data directory `root`.

  Returns:
    `(chosen FileLayout, [absolute path of each of its files])`.

  Raises:
    FileNotFoundError: no layout is complete.  The message names the full
      path of the preferred layout's first missing file, every accepted
      layout with its missing files marked, and how to get the data.
  """
  root = layout.resolve_data_dir(data_dir)
  lines, first_missing = [], None
  for candidate in layouts:
    paths = [os.path.join(root, relative) for relative in candidate.files]
    missing = [path for path in paths if not os.path.isfile(path)]
    if not missing:
      return candidate, paths
    first_missing = first_missing or missing[0]
    lines.append(f"  {candidate.description}:")
    lines += [f"    {relative}{'   (missing)' if path in missing else ''}"
              for relative, path in zip(candidate.files, paths)]
  listing = "\n".join(lines)
  raise FileNotFoundError(
      f"Data file not found: {first_missing}\n"
      f"{dataset} is read from the first complete one of these layouts under "
      f"{root}:\n{listing}\n{how_to_get(root)}")


def archive_instructions(root: str) -> str:
  """How to fetch the MAF archive (with `mnist/` and `cifar10/`) into `root`."""
  return (f"Get the MAF archive (Zenodo record 1161203, data.tar.gz, "
          f"{layout.DEFAULT_URL}; it holds mnist/ and cifar10/ next to the "
          f"tabular benchmarks) and unpack it into {root}, or let tfp_ldu "
          f"fetch it: `python -m train.datasets --data-dir {root} --force` "
          f"(--force because the download is skipped while the tabular files "
          f"are present) or `train.datasets.download({root!r}, force=True)`.")
