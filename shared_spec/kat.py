"""Known-answer vectors: numbers the seed system produced, for both backends.

The vectors live outside the repository, in ``../shared/kat`` next to the
repository root (or wherever ``NN_KAT_DIR`` points). ``linen_kat.npz`` keys
are ``<case>/<part>/<path...>``; :func:`load_case` regroups one case into
inputs, variables, outputs, mutated collections and extras. Arrays are
returned read-only, because they are cached and shared between tests: a test
that modified one in place would silently change the answer for the next.

>>> 'dense' in case_names()
True
>>> case = load_case('dense')
>>> case.inputs[0].shape, sorted(case.variables['params'])
((2, 4), ['bias', 'kernel'])
"""

import dataclasses
import json
import os
from pathlib import Path

import numpy as np

__all__ = [
    'KatCase',
    'kat_dir',
    'case_names',
    'case_text',
    'load_case',
    'serialization_bytes',
    'serialization_contents',
]

ENV_VAR = 'NN_KAT_DIR'
CASES_FILE = 'cases.json'
ARRAYS_FILE = 'linen_kat.npz'
SERIALIZED_FILE = 'serialization_state.msgpack'
SERIALIZED_CONTENTS_FILE = 'serialization_state_contents.npz'

_cache = {}


def kat_dir():
    """The directory holding the vectors: ``$NN_KAT_DIR`` or ``<repo>/../shared/kat``.

    Read on every call, so a test may point ``NN_KAT_DIR`` elsewhere.
    """
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env)
    repo_root = Path(__file__).resolve().parent.parent
    return repo_root.parent / 'shared' / 'kat'


def _file(name):
    path = kat_dir() / name
    if not path.is_file():
        raise FileNotFoundError(
            f'Known-answer file {name!r} not found in {str(kat_dir())!r}. The '
            f'vectors are looked up in ${ENV_VAR} if set, else in '
            "'../shared/kat' beside the repository root; check that directory "
            'exists or set the variable.'
        )
    return path


def _read_only(array):
    array = np.array(array)
    array.setflags(write=False)
    return array


def _load_npz(name):
    """All arrays of an npz file, cached per path and modification time."""
    path = _file(name)
    key = (str(path.resolve()), path.stat().st_mtime_ns)
    if key not in _cache:
        with np.load(path, allow_pickle=False) as data:
            _cache[key] = {k: _read_only(data[k]) for k in data.files}
    return _cache[key]


def _cases():
    with open(_file(CASES_FILE), encoding='utf-8') as f:
        return json.load(f)['cases']


def case_names():
    """The case names of ``cases.json``, in file order.

    >>> case_names()[0]
    'dense'
    """
    return [case['name'] for case in _cases()]


def case_text(name):
    """The description in words of case ``name`` (how the seed produced it).

    >>> case_text('init_he_normal')
    'nn.initializers.he_normal()(PRNGKey(3), (6,4), float32)'
    """
    for case in _cases():
        if case['name'] == name:
            return case['text']
    raise KeyError(f'No known-answer case {name!r}; known: {case_names()}.')


@dataclasses.dataclass(frozen=True, eq=False)
class KatCase:
    """One known-answer case, regrouped from the flat npz keys.

    Attributes:
      name: the case name.
      text: how the seed system produced it, in words.
      inputs: positional inputs, ``input/<i>`` in index order.
      variables: what ``init`` returned, ``{collection: {path...: {name: array}}}``.
      outputs: leaves of what ``apply`` returned, ``output/<i>`` in order.
      mutated: collections updated by ``apply(..., mutable=...)``, nested likewise.
      extras: every other part, flat, keyed by the rest of the key after the
        case name (``'value'`` for initializer cases, ``'split_PRNGKey42_3'``
        and the like for ``'prng'``).
    """

    name: str
    text: str
    inputs: list
    variables: dict
    outputs: list
    mutated: dict
    extras: dict


def _nest(flat):
    """``{('a', 'b'): x}`` -> ``{'a': {'b': x}}``."""
    nested = {}
    for path, value in flat.items():
        cursor = nested
        for key in path[:-1]:
            cursor = cursor.setdefault(key, {})
        cursor[path[-1]] = value
    return nested


def _ordered(indexed, name, part):
    """Values of ``{index: array}`` as a list, checking indices are 0..n-1."""
    if sorted(indexed) != list(range(len(indexed))):
        raise ValueError(f'Known-answer case {name!r}: {part} indices {sorted(indexed)} are not 0..n-1.')
    return [indexed[i] for i in range(len(indexed))]


def load_case(name):
    """Load case ``name`` as a :class:`KatCase`.

    >>> load_case('init_lecun_normal').extras['value'].shape
    (6, 4)
    """
    text = case_text(name)
    inputs, outputs, variables, mutated, extras = {}, {}, {}, {}, {}
    for key, array in _load_npz(ARRAYS_FILE).items():
        case, _, rest = key.partition('/')
        if case != name:
            continue
        part, _, path = rest.partition('/')
        if part == 'input':
            inputs[int(path)] = array
        elif part == 'output':
            outputs[int(path)] = array
        elif part == 'variables':
            variables[tuple(path.split('/'))] = array
        elif part == 'mutated':
            mutated[tuple(path.split('/'))] = array
        else:
            extras[rest] = array
    return KatCase(
        name=name,
        text=text,
        inputs=_ordered(inputs, name, 'input'),
        variables=_nest(variables),
        outputs=_ordered(outputs, name, 'output'),
        mutated=_nest(mutated),
        extras=extras,
    )


def serialization_bytes():
    """The bytes the seed system's ``to_bytes`` wrote for the serialization state."""
    return _file(SERIALIZED_FILE).read_bytes()


def serialization_contents():
    """The leaves of that state, flat: ``{'params/Dense_0/kernel': array, ...}``.

    bfloat16 leaves are stored as float32 here.

    >>> serialization_contents()['step'].shape
    ()
    """
    return dict(_load_npz(SERIALIZED_CONTENTS_FILE))
