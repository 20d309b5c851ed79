"""Differential tests: the same backend-neutral model code on nnref and nnjax."""
