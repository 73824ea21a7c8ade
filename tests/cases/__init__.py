"""Bijector cases for the registry: one module per family, each with `CASES`."""
