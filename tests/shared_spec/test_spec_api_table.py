"""The API table: well-formed rows, and complete against the seed reference."""

import re

import pytest

from shared_spec import api_table, errors
from shared_spec.api_table import API_TABLE, BACKENDS, KINDS, NAMESPACES, backend_module_name, entries, provided_by
from tests.shared_spec.spec_seed_text import api_reference_text, seed_error_signatures

STATUS = re.compile(r'(yes|planned:(\d+)|no:\S.*)')


def test_no_duplicate_rows():
    keys = [(e.namespace, e.name) for e in API_TABLE]
    assert len(keys) == len(set(keys))


def test_rows_are_well_formed():
    for e in API_TABLE:
        assert e.namespace in NAMESPACES, e
        assert e.name.isidentifier(), e
        assert e.kind in KINDS, e
        assert set(e.providers) == set(BACKENDS), e
        for status in e.providers.values():
            match = STATUS.fullmatch(status)
            assert match, (e, status)
            if match.group(2):
                assert int(match.group(2)) in {2, 3, 4, 5, 6}, (e, status)


def test_providers_cannot_be_mutated():
    with pytest.raises(TypeError):
        API_TABLE[0].providers['nnref'] = 'no:x'


def test_what_nnref_provides_nnjax_provides_too():
    # nnjax is the production backend: nothing the reference has may be missing there.
    for e in API_TABLE:
        if e.providers['nnref'] == 'yes':
            assert e.providers['nnjax'] == 'yes', e
        assert e.providers['nnjax'] != 'planned:2', e


def test_issue_2_core_names_are_yes_on_nnref():
    yes = {(e.namespace, e.name) for e in provided_by('nnref')}
    for key in [
        ('', 'Module'),
        ('', 'compact'),
        ('', 'nowrap'),
        ('', 'init'),
        ('', 'apply'),
        ('', 'init_with_output'),
        ('', 'intercept_methods'),
        ('', 'Variable'),
        ('', 'Dense'),
        ('', 'relu'),
        ('', 'random'),
        ('', 'numpy'),
        ('initializers', 'lecun_normal'),
        ('activation', 'gelu'),
        ('core', 'freeze'),
        ('traverse_util', 'flatten_dict'),
        ('errors', 'NameInUseError'),
    ]:
        assert key in yes, key
    # the lifted transforms and the recurrent wrappers built on them (issue 5)
    assert ('', 'scan') in yes and ('', 'RNN') in yes


def test_device_only_sharding_is_no_on_nnref_and_yes_on_nnjax():
    for name in ('get_sharding', 'logical_to_mesh_sharding'):
        row = api_table.lookup('', name)
        assert row.providers['nnref'].startswith('no:')
        assert row.providers['nnjax'] == 'yes'


def test_entries_provided_by_and_module_names():
    assert {e.namespace for e in entries()} <= set(NAMESPACES)
    assert all(e.namespace == 'initializers' for e in entries('initializers'))
    assert len(entries()) == len(API_TABLE)
    assert all(e.providers['nnjax'] == 'yes' for e in provided_by('nnjax'))
    assert backend_module_name('nnref', '') == 'nnref'
    assert backend_module_name('nnref', 'initializers') == 'nnref.initializers'
    assert backend_module_name('nnjax', 'training.checkpoints') == 'nnjax.training.checkpoints'
    with pytest.raises(ValueError):
        backend_module_name('torch', '')
    with pytest.raises(ValueError):
        backend_module_name('nnref', 'nope')
    with pytest.raises(ValueError):
        entries('nope')
    with pytest.raises(KeyError):
        api_table.lookup('', 'NoSuchThing')


def test_catalogue_errors_are_in_the_errors_namespace():
    in_table = {e.name for e in entries('errors')}
    seed = set(seed_error_signatures())
    catalogue = {cls.__name__ for cls, _ in errors.CATALOGUE}
    assert (seed & catalogue) == catalogue - {cls.__name__ for cls in errors.EXTENSIONS + errors.SEED_UNDOCUMENTED}
    assert catalogue <= in_table
    assert seed <= in_table  # the left-out MPA errors are rows too, marked 'no'
    for name in seed - catalogue:
        assert all(s.startswith('no:') for s in api_table.lookup('errors', name).providers.values())
    assert all(e.kind == 'exception' for e in entries('errors'))


# Seed prefixes -> our namespace. Order matters: longest prefix first.
PREFIXES = [
    ('flax.linen.activation.', 'activation'),
    ('flax.linen.initializers.', 'initializers'),
    ('flax.linen.', ''),
    ('flax.core.frozen_dict.', 'core'),
    ('flax.struct.', 'struct'),
    ('flax.serialization.', 'serialization'),
    ('flax.traverse_util.', 'traverse_util'),
    ('flax.training.train_state.', 'training.train_state'),
    ('flax.training.checkpoints.', 'training.checkpoints'),
    ('flax.training.common_utils.', 'training.common_utils'),
    ('flax.training.early_stopping.', 'training.early_stopping'),
    ('flax.training.lr_schedule.', 'training.lr_schedule'),
    ('flax.jax_utils.', 'jax_utils'),
    ('flax.errors.', 'errors'),
    ('flax.configurations.', 'config'),
    ('flax.config.', 'config'),
    ('flax.traceback_util.', 'traceback_util'),
]
# Mentions in the reference that are not public API names of that namespace:
# submodule names, a private sentinel, and a typo of 'spmd' in the source.
NOT_NAMES = {
    ('', 'activation'),
    ('', 'initializers'),
    ('', 'spmd'),
    ('', 'spmv'),
    ('', 'module'),
    ('', 'recurrent'),
    ('', 'transforms'),
}


def test_every_documented_name_has_a_row():
    text = api_reference_text()
    # "flax.traceback_util.**hide_flax_in_tracebacks**" style headings
    text = text.replace('**', '')
    documented = set()
    for match in re.finditer(r'flax(?:\.[A-Za-z_]\w*)+', text):
        dotted = match.group(0)
        for prefix, namespace in PREFIXES:
            if dotted.startswith(prefix):
                rest = dotted[len(prefix) :]
                if rest and '.' not in rest and not rest.startswith('_'):
                    documented.add((namespace, rest))
                break
    documented -= NOT_NAMES
    in_table = {(e.namespace, e.name) for e in API_TABLE}
    assert len(documented) > 150
    assert sorted(documented - in_table) == []


def test_every_table_listed_linen_name_has_a_row():
    # The reference's summary tables list names without the flax.linen prefix.
    text = api_reference_text()
    linen = text[text.index('5.8.5 flax.linen package') : text.index('5.8.6 flax.serialization')]
    in_table = {e.name for e in API_TABLE if e.namespace in ('', 'activation', 'initializers')}
    listed = set()
    for line in linen.splitlines():
        m = re.match(r'^<(?:code|i)>\s*([A-Za-z_]\w*)\s*(?:\(|</)', line)
        if m:
            listed.add(m.group(1))
    method_like = {
        'attend',
        'setup',
        'apply',
        'bind',
        'clone',
        'get_variable',
        'has_rng',
        'has_variable',
        'init',
        'init_with_output',
        'is_initializing',
        'is_mutable_collection',
        'lazy_init',
        'make_rng',
        'param',
        'perturb',
        'put_variable',
        'sow',
        'tabulate',
        'unbind',
        'variable',
        'name',
        'parent',
        'scope',
        'variables',
        'negative_slope_init',
        'add_axis',
        'get_partition_spec',
        'get_sharding',
        'remove_axis',
        'replace',
        'replace_boxed',
        'unbox',
        'mesh',
        'rules',
        'initialize_carry',
        '__init__',
    }
    assert len(listed) > 80
    assert sorted(listed - in_table - method_like) == []
