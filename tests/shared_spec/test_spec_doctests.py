"""Run the docstring examples of every shared_spec module."""

import doctest
import importlib

import pytest

MODULES = [
    'shared_spec',
    'shared_spec.frozen_dict',
    'shared_spec.dict_paths',
    'shared_spec.collection_filters',
    'shared_spec.errors',
    'shared_spec.tolerances',
    'shared_spec.kat',
    'shared_spec.api_table',
]


@pytest.mark.parametrize('name', MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    if name == 'shared_spec.kat':
        from shared_spec.kat import kat_dir

        if not (kat_dir() / 'cases.json').is_file():
            pytest.skip(f'known-answer vectors not found at {kat_dir()}')
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f'{name} has no examples'
    assert result.failed == 0
