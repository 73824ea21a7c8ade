"""Training, data and figures around the `tfp_ldu` library (`python train/fit.py`).

`train.fit_table(table, model="ldu", **flags)` is the notebook entry point of
`train/fit.py --data FILE` (imported on first use, so `import train.datasets`
stays light).
"""


def __getattr__(name):
  if name in ("fit_table", "FitResult"):
    from train import fit  # pylint: disable=import-outside-toplevel
    return getattr(fit, name)
  raise AttributeError(f"module 'train' has no attribute {name!r}")
