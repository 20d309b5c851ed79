"""Runnable examples (``make demo`` runs ``train_digits.py``)."""
