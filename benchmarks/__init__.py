"""Benchmarks: speed as ratios against a peer measured in the same process and run."""
