"""Helpers of `bench/sbi.py`: amortised posterior estimation, the library beside zuko.

* `tasks`: numpy-only simulators and exact reference posterior samplers
  (gaussian_linear, two_moons), read by both sides;
* `library_runner`: trains the library's conditional `MAF`, `NSF`, `LDUFlow`
  in-process;
* `torch_runner`: a script run by a separate PyTorch interpreter that trains
  zuko's conditional `MAF` and `NSF` on the same arrays;
* `report`: C2ST, the per-(task, model) summary and the results table
  (markdown, JSON, CSV).
"""
