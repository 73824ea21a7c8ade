"""Helpers of `bench/parity.py`: the LDU-flow parity harness against the authors' code.

* `datasets`: offline data sets, fixed splits and the shared per-step batch order
  (numpy and scikit-learn only);
* `variants`: the named training conditions compared (reference, library defaults,
  candidate defaults) and what each changes;
* `torch_runner`: a script run by a separate PyTorch interpreter that trains the
  authors' `LDUFlow`, imported at run time from an external checkout;
* `library_runner`: trains `models.LDUFlow` in-process under a variant's changes;
* `report`: the results table (text, JSON, CSV) and the validation-curve plots.
"""
