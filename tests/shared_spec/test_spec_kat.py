"""The known-answer loader, against the real vectors and a synthetic directory."""

import json
import re

import numpy as np
import pytest

from shared_spec import kat
from shared_spec.dict_paths import flatten_dict

CASES_JSON = kat.kat_dir() / 'cases.json'


def _real_cases():
    if not CASES_JSON.is_file():
        pytest.skip(f'known-answer vectors not found at {kat.kat_dir()}')
    return json.loads(CASES_JSON.read_text())['cases']


def _leaves(tree):
    return list(flatten_dict(tree).values())


def test_case_names_follow_cases_json():
    expected = [c['name'] for c in _real_cases()]
    assert kat.case_names() == expected


@pytest.mark.parametrize('index', range(26))
def test_every_case_loads(index):
    cases = _real_cases()
    if index >= len(cases):
        pytest.skip('fewer cases')
    spec = cases[index]
    case = kat.load_case(spec['name'])
    assert case.name == spec['name'] and case.text == spec['text']
    arrays = (
        list(case.inputs)
        + list(case.outputs)
        + _leaves(case.variables)
        + _leaves(case.mutated)
        + list(case.extras.values())
    )
    assert arrays, 'case has no arrays'
    assert all(isinstance(a, np.ndarray) for a in arrays)
    # nested dict structure: collection -> ... -> name, string keys all the way
    for tree in (case.variables, case.mutated):
        for collection, sub in tree.items():
            assert isinstance(collection, str) and isinstance(sub, dict)
    # every output keeps the batch size of the first input
    if case.inputs:
        for out in case.outputs:
            assert out.shape[0] == case.inputs[0].shape[0]
    # shapes written in the case text are those of the inputs, in order
    written = re.findall(r'\((\d+(?:,\s*\d+)+)\)', case.text)
    if case.inputs and written:
        shapes = [tuple(int(x) for x in w.split(',')) for w in written]
        for i, array in enumerate(case.inputs):
            assert array.shape in shapes, (i, array.shape, shapes)


def test_counts_match_the_raw_archive():
    _real_cases()
    with np.load(kat.kat_dir() / 'linen_kat.npz') as raw:
        keys = list(raw.files)
    total = 0
    for name in kat.case_names():
        case = kat.load_case(name)
        total += (
            len(case.inputs)
            + len(case.outputs)
            + len(case.extras)
            + len(_leaves(case.variables))
            + len(_leaves(case.mutated))
        )
    assert total == len(keys)


def test_specific_parts():
    _real_cases()
    dense = kat.load_case('dense')
    x, kernel = dense.inputs[0], dense.variables['params']['kernel']
    assert kernel.shape == (x.shape[1], 3)
    assert dense.outputs[0].shape == (x.shape[0], 3)
    gru = kat.load_case('gru')
    assert [a.shape for a in gru.inputs] == [(2, 3), (2, 4)]
    nested = kat.load_case('nested_paths')
    assert set(nested.variables['params']) == {'inner', 'MLP_0'}
    assert 'kernel' in nested.variables['params']['inner']['Dense_0']
    bn = kat.load_case('batchnorm_train')
    assert set(bn.mutated) == {'batch_stats'} and set(bn.variables) == {'batch_stats', 'params'}
    prng = kat.load_case('prng')
    assert prng.extras['split_PRNGKey42_3'].dtype == np.uint32
    assert prng.extras['split_PRNGKey42_3'].shape == (3, 2)
    assert not prng.inputs and not prng.variables
    assert kat.load_case('init_lecun_normal').extras['value'].shape == (6, 4)


def test_arrays_are_read_only_and_shared_safely():
    _real_cases()
    case = kat.load_case('dense')
    with pytest.raises(ValueError):
        case.inputs[0][0, 0] = 1.0
    assert kat.load_case('dense').inputs[0] is not None


def test_serialization_files():
    _real_cases()
    data = kat.serialization_bytes()
    assert isinstance(data, bytes) and len(data) > 0
    contents = kat.serialization_contents()
    assert contents['step'].shape == () and contents['step'].dtype == np.int32
    assert contents['params/Dense_0/kernel'].shape == (3, 4)
    assert 'tuple_as_dict/0' in contents


def test_unknown_case_names_the_known_ones():
    _real_cases()
    with pytest.raises(KeyError, match='dense'):
        kat.load_case('no_such_case')


def test_missing_directory_is_a_clear_error(tmp_path, monkeypatch):
    missing = tmp_path / 'nowhere'
    monkeypatch.setenv('NN_KAT_DIR', str(missing))
    assert kat.kat_dir() == missing
    with pytest.raises(FileNotFoundError) as info:
        kat.case_names()
    assert str(missing) in str(info.value) and 'NN_KAT_DIR' in str(info.value)
    with pytest.raises(FileNotFoundError, match='serialization_state.msgpack'):
        kat.serialization_bytes()


def _write_synthetic(directory):
    directory.mkdir()
    (directory / 'cases.json').write_text(
        json.dumps({'cases': [{'name': 'm', 'text': 'a model'}, {'name': 'm2', 'text': 'prefix clash'}]})
    )
    arrays = {
        'm/input/1': np.full(2, 1.0),
        'm/input/0': np.full(2, 0.0),
        'm/output/0': np.full(1, 5.0),
        'm/variables/params/a/b/kernel': np.full(3, 2.0),
        'm/variables/state/count': np.array(4),
        'm/mutated/state/count': np.array(5),
        'm/extra_thing': np.array(6),
        'm/rng/split_3': np.array(7),
        'm2/input/0': np.array(8.0),
    }
    np.savez(directory / 'linen_kat.npz', **arrays)


def test_synthetic_directory_is_parsed_part_by_part(tmp_path, monkeypatch):
    directory = tmp_path / 'kat'
    _write_synthetic(directory)
    monkeypatch.setenv('NN_KAT_DIR', str(directory))
    assert kat.case_names() == ['m', 'm2']
    case = kat.load_case('m')
    assert [a.tolist() for a in case.inputs] == [[0.0, 0.0], [1.0, 1.0]]
    assert [a.tolist() for a in case.outputs] == [[5.0]]
    assert case.variables['params']['a']['b']['kernel'].tolist() == [2.0, 2.0, 2.0]
    assert case.variables['state']['count'] == 4
    assert case.mutated == {'state': {'count': 5}}
    assert set(case.extras) == {'extra_thing', 'rng/split_3'}
    assert kat.load_case('m2').inputs[0] == 8.0


def test_gap_in_indices_is_reported(tmp_path, monkeypatch):
    directory = tmp_path / 'kat'
    directory.mkdir()
    (directory / 'cases.json').write_text(json.dumps({'cases': [{'name': 'g', 'text': ''}]}))
    np.savez(directory / 'linen_kat.npz', **{'g/input/0': np.zeros(1), 'g/input/2': np.zeros(1)})
    monkeypatch.setenv('NN_KAT_DIR', str(directory))
    with pytest.raises(ValueError, match='0..n-1'):
        kat.load_case('g')
