"""The import map: the library closes downward, benchmarks borrow nothing from tests."""
import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def imported_top_levels(path):
  """Top-level package names imported anywhere in `path`."""
  names = set()
  for node in ast.walk(ast.parse(path.read_text())):
    if isinstance(node, ast.Import):
      names.update(alias.name.split(".")[0] for alias in node.names)
    elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
      names.add(node.module.split(".")[0])
  return names


@pytest.mark.parametrize("folder, forbidden", [
    ("tfp_ldu", {"models", "train", "bench", "tests"}),
    ("models", {"train", "bench", "tests"}),
    ("bench", {"tests"}),
])
def test_no_import_runs_upward(folder, forbidden):
  offenders = {str(path.relative_to(ROOT)): sorted(imported_top_levels(path) & forbidden)
               for path in (ROOT / folder).rglob("*.py")}
  offenders = {path: names for path, names in offenders.items() if names}
  assert not offenders, f"imports that run upward: {offenders}"


def test_the_check_can_fail(tmp_path):
  bad = tmp_path / "bad.py"
  bad.write_text("from models import LDUFlow\nimport train.fit\n")
  assert imported_top_levels(bad) == {"models", "train"}
