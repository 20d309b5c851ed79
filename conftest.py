"""Repository-wide pytest setup: Hypothesis profiles.

Being at the repository root, this file also makes pytest put the root on
``sys.path`` (rootdir conftest insertion), so ``import nnref`` and
``import shared_spec`` work from any test even without an installed package.

Profiles, chosen by the ``HYPOTHESIS_PROFILE`` environment variable:

* ``ci`` (default): 25 examples, derandomized so every CI run draws the same
  cases, no per-example deadline (JAX compiles on first use).
* ``dev``: 50 random examples, for local runs.
* ``deep``: 2000 examples, for ``make conformance-deep``.
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    'ci', max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile('dev', max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile('deep', max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get('HYPOTHESIS_PROFILE', 'ci'))
