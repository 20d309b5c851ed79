"""Sharded and multi-process training as a user writes it (issue 13).

Several simulated CPU devices and several processes need their own Python
interpreters (``XLA_FLAGS`` is read when JAX starts, ``jax.distributed`` once
per process), so the tests here start ``worker.py`` in subprocesses through
``launcher.py`` and assert on the JSON each worker writes. The model and the
rule sets both sides use live in ``workload.py``.
"""
