"""Layers, grouped as the seed API reference groups them (one file per group)."""
