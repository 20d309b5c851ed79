"""nnjax.serialization: state dicts, the seed's msgpack layout, the KAT bytes."""

import collections
import doctest

import jax.numpy as jnp
import msgpack
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import nnjax.serialization
from nnjax import serialization
from nnjax.core import FrozenDict, freeze
from shared_spec import kat
from shared_spec.tolerances import assert_close

requires_kat = pytest.mark.skipif(
    not (kat.kat_dir() / kat.SERIALIZED_FILE).is_file(), reason='known-answer vectors not found'
)


def test_docstring_examples():
    result = doctest.testmod(nnjax.serialization)
    assert result.attempted > 0 and result.failed == 0


# --- the known-answer bytes ---------------------------------------------------


def _kat_state(array=np.asarray):
    """The state the seed serialized, rebuilt from the flat contents file."""
    c = kat.serialization_contents()
    return {
        'params': {
            'Dense_0': {'kernel': array(c['params/Dense_0/kernel']), 'bias': array(c['params/Dense_0/bias'])},
            'Embed_0': {'embedding': array(c['params/Embed_0/embedding'])},
        },
        'step': array(c['step']),
        'bf16': array(c['bf16'].astype(jnp.bfloat16)),
        # float64 stays NumPy: JAX would store it as float32 without x64.
        'f64like': np.asarray(c['f64like']),
        'c64': array(c['c64']),
        'scalar_float': float(c['scalar_float']),
        'empty': {},
        'tuple_as_dict': (array(c['tuple_as_dict/0']), array(c['tuple_as_dict/1'])),
    }


def _raw_ext(code, data):
    return ('ext', code, msgpack.unpackb(data) if code in (1, 3) else data)


@requires_kat
def test_to_bytes_reproduces_the_kat_bytes_exactly():
    assert serialization.to_bytes(_kat_state()) == kat.serialization_bytes()


@requires_kat
def test_to_bytes_of_jax_arrays_gives_the_same_bytes():
    assert serialization.to_bytes(_kat_state(jnp.asarray)) == kat.serialization_bytes()


@requires_kat
def test_kat_decodes_to_the_seed_layout():
    raw = msgpack.unpackb(kat.serialization_bytes(), ext_hook=_raw_ext)
    ours = msgpack.unpackb(serialization.to_bytes(_kat_state()), ext_hook=_raw_ext)
    assert raw == ours
    assert raw['params']['Dense_0']['kernel'][:2] == ('ext', 1)
    assert raw['params']['Dense_0']['kernel'][2][:2] == [[3, 4], 'float32']
    assert raw['bf16'][2][:2] == [[5], 'bfloat16']
    assert raw['step'][2][:2] == [[], 'int32']
    assert raw['tuple_as_dict']['1'][2][:2] == [[1], 'uint8']
    assert raw['empty'] == {} and raw['scalar_float'] == 0.5


@requires_kat
def test_from_bytes_reads_the_kat_file():
    restored = serialization.from_bytes(_kat_state(), kat.serialization_bytes())
    contents = kat.serialization_contents()
    assert isinstance(restored['tuple_as_dict'], tuple)
    assert restored['empty'] == {}
    assert restored['scalar_float'] == 0.5
    assert restored['bf16'].dtype == jnp.bfloat16
    leaves = {
        'params/Dense_0/kernel': restored['params']['Dense_0']['kernel'],
        'params/Dense_0/bias': restored['params']['Dense_0']['bias'],
        'params/Embed_0/embedding': restored['params']['Embed_0']['embedding'],
        'step': restored['step'],
        'bf16': restored['bf16'].astype(np.float32),
        'f64like': restored['f64like'],
        'c64': restored['c64'],
        'scalar_float': np.float64(restored['scalar_float']),
        'tuple_as_dict/0': restored['tuple_as_dict'][0],
        'tuple_as_dict/1': restored['tuple_as_dict'][1],
    }
    assert set(leaves) == set(contents)
    for name, expected in contents.items():
        assert np.asarray(leaves[name]).dtype == expected.dtype, name
        assert_close(leaves[name], expected, family='exact', err_msg=name)


@requires_kat
def test_kat_restores_into_a_frozendict_target():
    target = freeze({k: v for k, v in _kat_state().items() if k != 'tuple_as_dict'})
    restored = serialization.from_bytes(target, kat.serialization_bytes())
    assert isinstance(restored, FrozenDict) and isinstance(restored['params'], FrozenDict)
    assert restored['step'] == 7


# --- state dicts ----------------------------------------------------------------

Point = collections.namedtuple('Point', 'x y')


def test_state_dict_forms():
    tree = {'t': (1, [2, 3]), 1: 'int key', 'p': Point(4, 5), 'f': freeze({'a': None}), 'n': None}
    assert serialization.to_state_dict(tree) == {
        't': {'0': 1, '1': {'0': 2, '1': 3}},
        '1': 'int key',
        'p': {'x': 4, 'y': 5},
        'f': {'a': None},
        'n': None,
    }


def test_state_dict_round_trip_keeps_target_types_and_keys():
    target = {'t': (0, [0, 0]), 1: 'x', 'p': Point(0, 0), 'f': freeze({'a': 0})}
    state = {'t': {'0': 1, '1': {'0': 2, '1': 3}}, '1': 'y', 'p': {'x': 4, 'y': 5}, 'f': {'a': 6}}
    restored = serialization.from_state_dict(target, state)
    assert restored == {'t': (1, [2, 3]), 1: 'y', 'p': Point(4, 5), 'f': freeze({'a': 6})}
    assert isinstance(restored['p'], Point) and isinstance(restored['f'], FrozenDict)


def test_keys_without_unique_string_forms_are_refused():
    with pytest.raises(ValueError, match='unique string'):
        serialization.to_state_dict({1: 'a', '1': 'b'})


def test_missing_key_error_names_the_path():
    target = {'params': {'Dense_0': {'kernel': 0, 'bias': 0}}}
    with pytest.raises(ValueError, match=r"'/params/Dense_0' lacks key\(s\) \['bias'\]"):
        serialization.from_state_dict(target, {'params': {'Dense_0': {'kernel': 1}}})


def test_extra_dict_keys_are_ignored_as_in_the_seed():
    restored = serialization.from_state_dict({'a': 0}, {'a': 1, 'opt_state': 2})
    assert restored == {'a': 1}


def test_list_length_mismatch_names_the_path():
    with pytest.raises(ValueError, match=r"tuple at '/layers' has 2 entries.*has 3"):
        serialization.from_state_dict({'layers': (0, 0)}, {'layers': {'0': 1, '1': 2, '2': 3}})


def test_shape_mismatch_names_the_path():
    target = {'params': {'kernel': np.zeros((3, 4))}}
    with pytest.raises(ValueError, match=r"shape mismatch at '/params/kernel'.*\(3, 4\).*\(4, 3\)"):
        serialization.from_state_dict(target, {'params': {'kernel': np.zeros((4, 3))}})


def test_non_dict_state_for_a_container_names_the_path():
    with pytest.raises(ValueError, match=r"at '/a' the target is a dict"):
        serialization.from_state_dict({'a': {'b': 0}}, {'a': np.zeros(2)})


def test_namedtuple_field_mismatch_and_custom_root_name():
    with pytest.raises(ValueError, match=r"at 'root/p'.*fields \['x', 'y'\]"):
        serialization.from_state_dict({'p': Point(0, 0)}, {'p': {'x': 1}}, name='root')


def test_path_is_reset_after_an_error():
    with pytest.raises(ValueError):
        serialization.from_state_dict({'a': {'b': 0}}, {'a': {}})
    assert serialization.current_path() == '/'


def test_register_serialization_state_refuses_duplicates_unless_override():
    class Box:
        def __init__(self, v):
            self.v = v

    serialization.register_serialization_state(Box, lambda b: {'v': b.v}, lambda b, s: Box(s['v']))
    with pytest.raises(ValueError, match='already registered'):
        serialization.register_serialization_state(Box, lambda b: {'v': b.v}, lambda b, s: Box(s['v']))
    serialization.register_serialization_state(
        Box, lambda b: {'value': b.v}, lambda b, s: Box(s['value']), override=True
    )
    assert serialization.to_state_dict(Box(3)) == {'value': 3}
    assert serialization.from_bytes(Box(0), serialization.to_bytes(Box(5))).v == 5


def test_state_dict_handlers_must_return_string_keyed_dicts():
    class Bad:
        pass

    serialization.register_serialization_state(Bad, lambda b: {1: 2}, lambda b, s: b)
    with pytest.raises(TypeError, match='non-string keys'):
        serialization.to_state_dict(Bad())


# --- msgpack layer ---------------------------------------------------------------


def test_ext_types_for_complex_and_numpy_scalars():
    encoded = serialization.msgpack_serialize({'c': 1 + 2j, 's': np.float32(1.5), 'f': 0.25, 'b': True, 'n': None})
    raw = msgpack.unpackb(encoded, ext_hook=lambda code, data: code)
    assert raw == {'c': 2, 's': 3, 'f': 0.25, 'b': True, 'n': None}
    restored = serialization.msgpack_restore(encoded)
    assert restored['c'] == 1 + 2j and type(restored['c']) is complex
    assert type(restored['s']) is np.float32 and restored['s'] == 1.5


def test_tuples_lists_and_frozendicts_in_raw_trees():
    restored = serialization.msgpack_restore(
        serialization.msgpack_serialize({'t': (1, 2), 'l': [3], 'f': freeze({'a': 4}), 7: 'int key'})
    )
    assert restored == {'t': [1, 2], 'l': [3], 'f': {'a': 4}, 7: 'int key'}


def test_in_place_flag():
    tree = {'a': jnp.ones(2), 'b': [jnp.zeros(1)]}
    serialization.msgpack_serialize(tree)
    assert all(not isinstance(x, np.ndarray) for x in (tree['a'], tree['b'][0]))
    encoded = serialization.msgpack_serialize(tree, in_place=True)
    assert isinstance(tree['a'], np.ndarray) and isinstance(tree['b'][0], np.ndarray)
    assert_close(serialization.msgpack_restore(encoded)['a'], np.ones(2), family='exact')


def test_large_arrays_are_chunked_in_the_seed_form(monkeypatch):
    monkeypatch.setattr(serialization, 'MAX_CHUNK_SIZE', 32)
    big = np.arange(30, dtype=np.float32).reshape(5, 6)  # 120 bytes: 4 chunks of 8
    small = np.arange(8, dtype=np.float32)  # exactly 32 bytes: not chunked
    encoded = serialization.msgpack_serialize({'big': big, 'small': small})
    raw = msgpack.unpackb(encoded, ext_hook=lambda code, data: ('ext', code))
    assert raw['small'] == ('ext', 1)
    assert list(raw['big']) == ['__msgpack_chunked_array__', 'shape', 'chunks']
    assert raw['big']['__msgpack_chunked_array__'] is True
    assert raw['big']['shape'] == {'0': 5, '1': 6}
    assert list(raw['big']['chunks']) == ['0', '1', '2', '3']
    restored = serialization.msgpack_restore(encoded)
    assert_close(restored['big'], big, family='exact')
    root = serialization.msgpack_restore(serialization.msgpack_serialize(big))
    assert_close(root, big, family='exact')


def test_object_arrays_are_refused_both_ways():
    with pytest.raises(TypeError, match='object'):
        serialization.msgpack_serialize({'x': np.array([{}], dtype=object)})
    record = msgpack.packb(((1,), 'object', b'\0' * 8), use_bin_type=True)
    forged = msgpack.packb({'x': msgpack.ExtType(1, record)})
    with pytest.raises(ValueError, match='object'):
        serialization.msgpack_restore(forged)


def test_unknown_ext_types_are_refused():
    # The seed returns them undecoded; a value nobody can read is corrupt data here (issue 16).
    encoded = msgpack.packb({'x': msgpack.ExtType(42, b'abc')})
    with pytest.raises(ValueError, match='extension type 42'):
        serialization.msgpack_restore(encoded)


def test_unserializable_leaf_says_what_to_do():
    with pytest.raises(TypeError, match='register_serialization_state'):
        serialization.msgpack_serialize({'x': object()})


def test_big_endian_arrays_keep_their_values():
    be = np.arange(4, dtype='>i4')
    restored = serialization.msgpack_restore(serialization.msgpack_serialize(be))
    assert restored.dtype == np.int32 and restored.tolist() == [0, 1, 2, 3]


# --- property: random nested trees of many dtypes --------------------------------

DTYPES = [
    'float32',
    'float64',
    'float16',
    'bfloat16',
    'complex64',
    'complex128',
    'int8',
    'int16',
    'int32',
    'int64',
    'uint8',
    'uint16',
    'uint32',
    'uint64',
    'bool',
    'float8_e4m3fn',
]


@st.composite
def arrays(draw):
    dtype = jnp.dtype(draw(st.sampled_from(DTYPES)))
    shape = tuple(draw(st.lists(st.integers(0, 3), max_size=3)))
    size = int(np.prod(shape))
    # Random bytes cover every bit pattern, NaNs and infinities included.
    raw = draw(st.binary(min_size=size * dtype.itemsize, max_size=size * dtype.itemsize))
    array = np.frombuffer(raw, dtype=np.uint8).view(dtype).reshape(shape)
    return array.astype(bool) if dtype == np.bool_ else array


leaves = st.one_of(
    arrays(),
    st.floats(allow_nan=False),
    st.integers(-(2**63), 2**63 - 1),
    st.booleans(),
    st.none(),
    st.text(max_size=5),
    st.complex_numbers(allow_nan=False),
)
trees = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.dictionaries(st.text(max_size=4), children, max_size=3),
        st.lists(children, max_size=3),
        st.lists(children, max_size=3).map(tuple),
        st.dictionaries(st.text(max_size=4), children, max_size=3).map(FrozenDict),
    ),
    max_leaves=8,
)


def _assert_same(actual, expected, path='/'):
    if isinstance(expected, np.ndarray):
        assert isinstance(actual, np.ndarray), path
        assert (actual.dtype, actual.shape) == (expected.dtype, expected.shape), path
        assert actual.tobytes() == expected.tobytes(), path
    elif isinstance(expected, (dict, FrozenDict)):
        assert type(actual) is type(expected) and list(actual) == list(expected), path
        for key in expected:
            _assert_same(actual[key], expected[key], f'{path}{key}/')
    elif isinstance(expected, (list, tuple)):
        assert type(actual) is type(expected) and len(actual) == len(expected), path
        for i, (a, e) in enumerate(zip(actual, expected)):
            _assert_same(a, e, f'{path}{i}/')
    else:
        assert type(actual) is type(expected) and actual == expected, path


@given(trees)
def test_bytes_round_trip_of_random_trees(tree):
    restored = serialization.from_bytes(tree, serialization.to_bytes(tree))
    _assert_same(restored, tree)


@given(trees)
def test_bytes_are_deterministic_and_restore_is_stable(tree):
    encoded = serialization.to_bytes(tree)
    assert serialization.to_bytes(serialization.from_bytes(tree, encoded)) == encoded
