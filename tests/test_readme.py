"""The README's commands are the ones CI and newcomers actually run."""
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]


def code_lines(text):
  blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
  return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


def test_readme_starts_with_install_and_test_commands():
  commands = code_lines((ROOT / "README.md").read_text())
  assert commands[0] == 'pip install -e ".[test]" && python train/fit.py'
  assert commands[1] == "python -m pytest -q -n auto"


def test_ci_runs_exactly_the_readme_test_command():
  readme_test_command = code_lines((ROOT / "README.md").read_text())[1]
  ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()
              if line.strip() and not line.lstrip().startswith("#")]
  assert ci_lines[-1] == readme_test_command
  assert any("pip install" in line and '-e ".[test]"' in line for line in ci_lines)


def test_readme_python_examples_run():
  blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)
  assert len(blocks) >= 2
  for block in blocks:
    namespace = {}
    exec(compile(block, "README.md", "exec"), namespace)  # pylint: disable=exec-used
    if "losses" in namespace:  # the variational-inference example trained
      losses = namespace["losses"].numpy()
      assert losses.shape == (20,) and losses[-5:].mean() < losses[:5].mean()
