"""Every known-answer runner, by case name: the Module-system cases and each layer family's.

The raw PRNG/initializer cases (tested in ``tests/nnref``) have no runner here.
"""

from conformance import (
    kat_layers_attention,
    kat_layers_conv,
    kat_layers_embedding,
    kat_layers_linear_general,
    kat_layers_normalization,
    kat_layers_recurrent,
    kat_layers_stochastic,
    kat_models,
    kat_transforms,
)

ALL_RUNNERS = {}
for _family in (
    kat_models,
    kat_layers_attention,
    kat_layers_conv,
    kat_layers_embedding,
    kat_layers_linear_general,
    kat_layers_normalization,
    kat_layers_recurrent,
    kat_layers_stochastic,
    kat_transforms,
):
    for _name, _runner in _family.RUNNERS.items():
        assert _name not in ALL_RUNNERS, f"two runners for KAT case {_name!r}"
        ALL_RUNNERS[_name] = _runner
