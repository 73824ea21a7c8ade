"""Training entry points for tfp_ldu flows: datasets, fitting and evaluation."""
