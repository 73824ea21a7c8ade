"""Fetches and safely unpacks the MAF archive of the tabular benchmarks.

`download(data_dir)` streams `data.tar.gz` (Zenodo record 1161203) with
urllib, showing progress on stderr, checks its MD5 against the checksum
Zenodo publishes (`layout.ARCHIVE_MD5`) and that it is a gzip-compressed tar
archive, and unpacks it into `data_dir` in the layout the loaders read
(`power/data.npy`, `gas/ethylene_CO.pickle`, ...): the archive's single
top-level folder (`data/`) is stripped.  Every member is checked before
anything is written: only regular files and folders, no absolute paths, no
`..`, nothing that would land outside `data_dir`.

Command line: `python -m train.datasets --data-dir DIR`.
"""
import hashlib
import os
import shutil
import sys
import tarfile
import tempfile
import time
import urllib.request

from train.datasets import layout

GZIP_MAGIC = b"\x1f\x8b"
CHUNK_BYTES = 1 << 20
PROGRESS_INTERVAL_SECONDS = 0.5


def missing_files(root: str) -> list:
  """Archive files (relative paths) not present under `root`."""
  return [path for files in layout.ARCHIVE_FILES.values() for path in files
          if not os.path.isfile(os.path.join(root, path))]


def fetch(url: str, destination, progress: bool = True) -> int:
  """Streams `url` into the open binary file `destination`.

  Args:
    url: any URL urllib opens (https://, file://).
    destination: a file object opened for binary writing.
    progress: whether to show bytes received (and percent, when the size is
      known) on stderr.

  Returns:
    The number of bytes written.

  Raises:
    ValueError: fewer bytes arrived than the server announced.
  """
  with urllib.request.urlopen(url, timeout=60) as response:
    total = int(response.headers.get("Content-Length") or 0)
    received, last_report = 0, 0.
    while chunk := response.read(CHUNK_BYTES):
      destination.write(chunk)
      received += len(chunk)
      now = time.monotonic()
      if progress and now - last_report >= PROGRESS_INTERVAL_SECONDS:
        report_progress(url, received, total)
        last_report = now
  if progress:
    report_progress(url, received, total)
    sys.stderr.write("\n")
  if total and received != total:
    raise ValueError(f"{url}: download incomplete, received {received} of "
                     f"{total} bytes.")
  return received


def report_progress(url: str, received: int, total: int) -> None:
  """Rewrites the stderr progress line."""
  done = f"{received / 1e6:.1f} MB"
  if total:
    done += f" of {total / 1e6:.1f} MB ({100. * received / total:.0f}%)"
  sys.stderr.write(f"\rDownloading {url}: {done}")
  sys.stderr.flush()


def member_parts(name: str) -> list:
  """A member name's path components, without empty and "." parts."""
  return [part for part in name.split("/") if part not in ("", ".")]


def stripped_top_folder(names) -> str:
  """The archive's single top-level folder to strip, or "" if there is none.

  The MAF archive wraps everything in `data/`; an archive whose top level
  already holds the dataset folders is unpacked as is.
  """
  tops = {parts[0] for parts in map(member_parts, names) if parts}
  dataset_dirs = {path.split("/", 1)[0]
                  for files in layout.ARCHIVE_FILES.values() for path in files}
  if len(tops) == 1 and not tops & dataset_dirs:
    return tops.pop()
  return ""


def safe_targets(archive: tarfile.TarFile, root: str, source: str) -> list:
  """Checks every member and maps it to its path under `root`.

  Args:
    archive: the open tar archive.
    root: the absolute destination folder.
    source: the archive's name, for messages.

  Returns:
    `[(member, target_path)]` for the members to write (the stripped
    top-level folder itself is skipped).

  Raises:
    ValueError: a member is a link or special file, has an absolute path or
      `..`, or would be written outside `root`.
  """
  members = archive.getmembers()
  top_folder = stripped_top_folder(member.name for member in members)
  real_root = os.path.realpath(root)
  targets = []
  for member in members:
    if not (member.isfile() or member.isdir()):
      raise ValueError(f"{source}: refusing member {member.name!r}: only "
                       f"regular files and folders are extracted.")
    parts = member_parts(member.name)
    if os.path.isabs(member.name) or ".." in parts:
      raise ValueError(f"{source}: refusing member {member.name!r}: absolute "
                       f"path or '..'.")
    if top_folder:
      parts = parts[1:]
    if not parts:
      continue
    target = os.path.realpath(os.path.join(real_root, *parts))
    if os.path.commonpath([real_root, target]) != real_root:
      raise ValueError(f"{source}: refusing member {member.name!r}: it would "
                       f"be written outside {root}.")
    targets.append((member, target))
  return targets


def file_md5(path: str) -> str:
  """The hexadecimal MD5 digest of the file at `path`."""
  digest = hashlib.md5(usedforsecurity=False)
  with open(path, "rb") as stream:
    while chunk := stream.read(CHUNK_BYTES):
      digest.update(chunk)
  return digest.hexdigest()


def verify_md5(path: str, expected: str, source: str) -> None:
  """Raises a `ValueError` unless the file's MD5 is `expected` (hex, any case)."""
  found = file_md5(path)
  if found != expected.lower():
    raise ValueError(f"{source}: the download's MD5 is {found}, not the published "
                     f"{expected.lower()}; it is corrupted or not the MAF archive, so "
                     f"nothing was unpacked.  Try again, or pass md5=None (--md5 none) "
                     f"for a different archive you trust.")


def extract(archive_path: str, root: str, source: str) -> None:
  """Verifies that `archive_path` is a gzip tar and unpacks it into `root`.

  Raises:
    ValueError: not gzip, not a tar archive, or an unsafe member (nothing is
      written in that case).
  """
  with open(archive_path, "rb") as stream:
    if stream.read(len(GZIP_MAGIC)) != GZIP_MAGIC:
      raise ValueError(f"{source}: not a gzip file (expected data.tar.gz).")
  try:
    archive = tarfile.open(archive_path, mode="r:gz")
  except (tarfile.TarError, OSError, EOFError) as error:
    raise ValueError(f"{source}: not a readable gzip-compressed tar archive "
                     f"({error}).") from error
  with archive:
    for member, target in safe_targets(archive, root, source):
      if member.isdir():
        os.makedirs(target, exist_ok=True)
        continue
      os.makedirs(os.path.dirname(target), exist_ok=True)
      with archive.extractfile(member) as data, open(target, "wb") as out:
        shutil.copyfileobj(data, out, CHUNK_BYTES)


def download(data_dir=None, url: str = layout.DEFAULT_URL, force: bool = False,
             progress: bool = True, md5=layout.ARCHIVE_MD5) -> str:
  """Downloads the MAF archive and unpacks it into the loaders' layout.

  Args:
    data_dir: destination folder; None for `$TFP_LDU_DATA_DIR` or
      `~/.tfp_ldu/data`.
    url: archive URL; tests pass a local `file://` URL.
    force: download even if every expected file is already present.
    progress: show download progress on stderr.
    md5: expected MD5 of the archive (default: the one Zenodo publishes for
      the MAF archive); None skips the check, for another archive.

  Returns:
    The absolute data directory.

  Raises:
    ValueError: the download's MD5 differs from `md5`, it is not a gzip
      tar, holds unsafe members, or lacks some of the expected files.
    urllib.error.URLError: the URL cannot be fetched.
  """
  root = layout.resolve_data_dir(data_dir)
  if not force and not missing_files(root):
    return root
  os.makedirs(root, exist_ok=True)
  with tempfile.NamedTemporaryFile(dir=root, prefix=".download-",
                                   suffix=".tar.gz", delete=False) as partial:
    archive_path = partial.name
  try:
    with open(archive_path, "wb") as partial:
      fetch(url, partial, progress)
    if md5 is not None:
      verify_md5(archive_path, md5, url)
    extract(archive_path, root, source=url)
  finally:
    os.remove(archive_path)
  missing = missing_files(root)
  if missing:
    raise ValueError(f"{url}: after unpacking into {root} these expected files "
                     f"are missing: {missing}. Expected layout:\n"
                     f"{layout.layout_description()}")
  return root
