"""Package-level contracts: dependencies and the re-exported names."""

import ast
import sys
from pathlib import Path

import shared_spec

PACKAGE_DIR = Path(shared_spec.__file__).parent
ALLOWED_THIRD_PARTY = {'numpy'}


def _imported_top_level_names(path):
    tree = ast.parse(path.read_text(encoding='utf-8'))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name.split('.')[0]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield node.module.split('.')[0]


def test_only_stdlib_numpy_and_itself_are_imported():
    files = sorted(PACKAGE_DIR.glob('*.py'))
    assert len(files) >= 8
    for path in files:
        for name in _imported_top_level_names(path):
            ok = name in sys.stdlib_module_names or name in ALLOWED_THIRD_PARTY or name == 'shared_spec'
            assert ok, f'{path.name} imports {name}'


def test_reexports_resolve_to_the_submodule_objects():
    from shared_spec import collection_filters, dict_paths, frozen_dict, tolerances

    assert shared_spec.FrozenDict is frozen_dict.FrozenDict
    assert shared_spec.flatten_dict is dict_paths.flatten_dict
    assert shared_spec.empty_node is dict_paths.empty_node
    assert shared_spec.DenyList is collection_filters.DenyList
    assert shared_spec.assert_close is tolerances.assert_close
    assert shared_spec.errors.NNError is shared_spec.NNError
    for name in shared_spec.__all__:
        assert hasattr(shared_spec, name), name
