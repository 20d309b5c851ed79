"""Per-guide cell tables (see ``tests/guides/guide_table.py``)."""
