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


def private_imports(path):
  """`module.name` of every private name imported from tfp_ldu, models or train in `path`."""
  found = []
  for node in ast.walk(ast.parse(path.read_text())):
    if (isinstance(node, ast.ImportFrom) and node.module and node.level == 0
        and node.module.split(".")[0] in ("tfp_ldu", "models", "train")):
      found += [f"{node.module}.{alias.name}" for alias in node.names
                if alias.name.startswith("_")]
  return found


def test_modules_talk_through_public_names():
  offenders = {str(path.relative_to(ROOT)): private_imports(path)
               for folder in ("tfp_ldu", "models", "train", "bench")
               for path in (ROOT / folder).rglob("*.py")}
  offenders = {path: names for path, names in offenders.items() if names}
  assert not offenders, f"private names imported across modules: {offenders}"


def family_names_in_conditions(path, names):
  """Lines of `path` whose `if`/comparison/`isinstance` names a flow family or class."""
  lines = []
  for node in ast.walk(ast.parse(path.read_text())):
    tests = []
    if isinstance(node, (ast.If, ast.IfExp, ast.While)):
      tests.append(node.test)
    if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "isinstance":
      tests.append(node)
    for test in tests:
      for inner in ast.walk(test):
        value = (inner.value if isinstance(inner, ast.Constant) else
                 inner.id if isinstance(inner, ast.Name) else
                 inner.attr if isinstance(inner, ast.Attribute) else None)
        if value in names:
          lines.append(f"{path.relative_to(ROOT)}:{inner.lineno} {value}")
  return sorted(set(lines))


def test_train_never_names_a_flow_family():
  import models
  names = set(models.SPECS)
  for spec in models.SPECS.values():
    names.update(variant.flow_class.__name__ for variant in (spec.vectors, spec.images)
                 if variant is not None)
  lines = [line for path in (ROOT / "train").rglob("*.py")
           for line in family_names_in_conditions(path, names)]
  assert not lines, f"train/ branches on a model family: {lines}"


def test_the_family_check_can_fail(tmp_path):
  bad = tmp_path / "bad.py"
  bad.write_text('if args.model == "ldu" or isinstance(model, MAF):\n  pass\n')
  bad = pathlib.Path(bad)
  global ROOT
  root, ROOT = ROOT, tmp_path
  try:
    assert len(family_names_in_conditions(bad, {"ldu", "MAF"})) == 2
  finally:
    ROOT = root
