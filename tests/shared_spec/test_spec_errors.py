"""The error catalogue: signatures, messages, attributes, CATALOGUE."""

import inspect
import pickle

import pytest

from shared_spec import errors
from shared_spec.errors import CATALOGUE, NNError, format_path

from tests.shared_spec.spec_seed_text import seed_error_signatures

# The constructor signatures the project settled on (seed arguments first,
# keyword-only context after), written out independently of the code.
SIGNATURES = {
    'AlreadyExistsError': '(path)',
    'ApplyModuleInvalidMethodError': '(method)',
    'ApplyScopeInvalidVariablesStructureError': '(variables)',
    'ApplyScopeInvalidVariablesTypeError': '(*, got_type=None)',
    'AssignSubModuleError': '(cls, *, parent_path=None)',
    'CallCompactUnboundModuleError': '(*, module_cls=None, method=None)',
    'CallSetupUnboundModuleError': '(*, module_cls=None)',
    'CallUnbindOnUnboundModuleError': '(*, module_cls=None)',
    'CheckpointMismatchError': '(path, key_path, what, expected, found)',
    'CorruptCheckpointError': '(path, reason)',
    'DescriptorAttributeError': '(*, module_cls=None, attr_name=None)',
    'IncorrectPostInitOverrideError': '(*, module_cls=None)',
    'InvalidCheckpointError': '(path, step)',
    'InvalidFilterError': '(filter_like)',
    'InvalidInstanceModuleError': '(*, module_cls=None, method=None)',
    'InvalidRngError': '(msg)',
    'InvalidScopeError': '(scope_name)',
    'JaxTransformError': '()',
    'LazyInitError': '(partial_val)',
    'ModifyScopeVariableError': '(col, variable_name, scope_path)',
    'MultipleMethodsCompactError': '(*, module_cls=None, methods=None)',
    'NameInUseError': '(key_type, value, module_name)',
    'PartitioningUnspecifiedError': '(target)',
    'ReservedModuleAttributeError': '(annotations)',
    'ScopeCollectionNotFound': '(col_name, var_name, scope_path)',
    'ScopeParamNotFoundError': '(param_name, scope_path)',
    'ScopeParamShapeError': '(param_name, scope_path, value_shape, init_shape)',
    'ScopeVariableNotFoundError': '(name, col, scope_path)',
    'SetAttributeFrozenModuleError': '(module_cls, attr_name, attr_val)',
    'SetAttributeInModuleSetupError': '(*, module_cls=None, attr_name=None)',
    'TransformTargetError': '(target)',
    'TransformedMethodReturnValueError': '(name)',
}


class _Target:
    def __repr__(self):
        return '_Target()'


# A sample value per argument name, and the text each must leave in the message.
SAMPLES = {
    'path': ('/tmp/ckpt/checkpoint_7', '/tmp/ckpt/checkpoint_7'),
    'method': ('encode', 'encode'),
    'variables': ({'params': {'params': {}}, 'state': {}}, "'state'"),
    'got_type': (list, 'list'),
    'cls': ('Conv', 'Conv'),
    'parent_path': (('encoder', 'block'), '/encoder/block'),
    'module_cls': ('MyModule', 'MyModule'),
    'attr_name': ('features', 'features'),
    'step': (1234, '1234'),
    'filter_like': (3.5, '3.5'),
    'msg': ("No RNG stream 'dropout' at '/Dropout_0'.", "No RNG stream 'dropout'"),
    'scope_name': ('tmp_scope', 'tmp_scope'),
    'partial_val': ('ShapeDtypeStruct(shape=(8, 4))', 'ShapeDtypeStruct'),
    'col': ('batch_stats', 'batch_stats'),
    'variable_name': ('mean', 'mean'),
    'scope_path': (('encoder', 'BatchNorm_0'), '/encoder/BatchNorm_0'),
    'methods': (['__call__', 'encode'], 'encode'),
    'key_type': ('param', 'param'),
    'value': ('bar', 'bar'),
    'module_name': ('Foo', 'Foo'),
    'target': (_Target(), '_Target'),
    'annotations': ({'parent': int, 'width': int}, 'parent'),
    'col_name': ('cache', 'cache'),
    'var_name': ('cached_key', 'cached_key'),
    'param_name': ('kernel', 'kernel'),
    'value_shape': ((5, 8), '(5, 8)'),
    'init_shape': ((1, 8), '(1, 8)'),
    'name': ('decode', 'decode'),
    'attr_val': (20, '20'),
    'key_path': ('/params/Dense_0/kernel', '/params/Dense_0/kernel'),
    'what': ('dtype', 'dtype'),
    'expected': ('float32', 'float32'),
    'found': ('bfloat16', 'bfloat16'),
    'reason': ('the data ends early', 'the data ends early'),
}

CLASSES = [getattr(errors, name) for name in SIGNATURES]


def _build(cls):
    args, kwargs = [], {}
    for p in inspect.signature(cls).parameters.values():
        value = SAMPLES[p.name][0]
        if p.kind is p.KEYWORD_ONLY:
            kwargs[p.name] = value
        else:
            args.append(value)
    return cls(*args, **kwargs)


@pytest.mark.parametrize('name', sorted(SIGNATURES))
def test_signature(name):
    cls = getattr(errors, name)
    assert str(inspect.signature(cls)) == SIGNATURES[name]


def test_positional_arguments_follow_the_seed():
    seed = seed_error_signatures()
    for name, cls in zip(SIGNATURES, CLASSES):
        if cls in errors.EXTENSIONS:
            continue
        positional = [p.name for p in inspect.signature(cls).parameters.values()
                      if p.kind is p.POSITIONAL_OR_KEYWORD]
        assert positional == seed[name], name


@pytest.mark.parametrize('cls', CLASSES, ids=lambda c: c.__name__)
def test_message_names_every_given_argument_and_a_fix(cls):
    err = _build(cls)
    message = str(err)
    assert isinstance(err, NNError) and isinstance(err, Exception)
    assert 'Fix:' in message, message
    for p in inspect.signature(cls).parameters.values():
        assert SAMPLES[p.name][1] in message, (p.name, message)


@pytest.mark.parametrize('cls', CLASSES, ids=lambda c: c.__name__)
def test_arguments_are_kept_as_attributes(cls):
    err = _build(cls)
    for p in inspect.signature(cls).parameters.values():
        assert getattr(err, p.name) is SAMPLES[p.name][0]


@pytest.mark.parametrize('cls', CLASSES, ids=lambda c: c.__name__)
def test_pickles_with_its_message(cls):
    err = _build(cls)
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is cls and str(back) == str(err)


@pytest.mark.parametrize('cls', [c for c in CLASSES
                                 if not inspect.signature(c).parameters
                                 or all(p.default is None for p in
                                        inspect.signature(c).parameters.values())],
                         ids=lambda c: c.__name__)
def test_context_is_optional(cls):
    assert 'Fix:' in str(cls())


def test_root_and_string_paths():
    assert format_path(()) == '/'
    assert format_path('') == '/'
    assert format_path('/') == '/'
    assert format_path('a/b') == '/a/b' == format_path('/a/b') == format_path(('a', 'b'))
    assert "'/'" in str(errors.ModifyScopeVariableError('params', 'w', ()))
    assert '/enc/Dense_0' in str(errors.ScopeParamNotFoundError('kernel', 'enc/Dense_0'))


def test_catalogue_covers_every_class_once_with_a_known_area():
    classes = [entry.error for entry in CATALOGUE]
    assert len(classes) == len(set(classes))
    assert set(classes) == set(CLASSES)
    for cls, area in CATALOGUE:
        assert issubclass(cls, NNError)
        assert area in errors.AREAS
    defined = {obj for obj in vars(errors).values()
               if isinstance(obj, type) and issubclass(obj, NNError) and obj is not NNError}
    assert defined == set(classes)


def test_catalogue_is_the_seed_catalogue_minus_multiprocess_arrays():
    seed_names = set(seed_error_signatures())
    ours = {cls.__name__ for cls, _ in CATALOGUE}
    extensions = {cls.__name__ for cls in errors.EXTENSIONS}
    assert not (extensions & seed_names)
    assert all(issubclass(cls, ValueError) for cls in errors.EXTENSIONS)  # seed handlers catch ValueError
    ours -= extensions
    assert ours <= seed_names
    assert {n for n in seed_names - ours} == {n for n in seed_names if n.startswith('MPA')}
