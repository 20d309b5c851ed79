"""Layer tests, each run on both backends."""
