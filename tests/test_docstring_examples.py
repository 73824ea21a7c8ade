"""Every `#### Example` block in a library docstring runs (as the README's commands do).

Each block runs in a namespace with `tf`, `tfp`, `tfd`, `tfb`, `np`, `keras`
and the globals of the module that documents it.
"""
import importlib
import pathlib
import re

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

import tfp_ldu

LIBRARY = pathlib.Path(__file__).resolve().parents[1] / "tfp_ldu"
EXAMPLE = re.compile(r"#### Examples?\s*\n\s*```python\n(.*?)```", re.S)


def examples():
  found = []
  for path in sorted(LIBRARY.rglob("*.py")):
    for index, block in enumerate(EXAMPLE.findall(path.read_text())):
      module = ".".join(path.relative_to(LIBRARY.parent).with_suffix("").parts)
      found.append(pytest.param(module, block, id=f"{module}:{index}"))
  return found


def dedent(block):
  lines = [line for line in block.splitlines() if line.strip()]
  indent = min(len(line) - len(line.lstrip()) for line in lines)
  return "\n".join(line[indent:] for line in block.splitlines())


def test_the_library_has_examples():
  assert len(examples()) >= 3


@pytest.mark.parametrize("module, block", examples())
def test_docstring_example_runs(module, block):
  namespace = dict(vars(importlib.import_module(module)))
  namespace.update(tf=tf, tfp=tfp, tfd=tfp.distributions, tfb=tfp.bijectors, np=np,
                   keras=keras, tfp_ldu=tfp_ldu)
  exec(compile(dedent(block), f"<{module} example>", "exec"), namespace)  # noqa: S102
