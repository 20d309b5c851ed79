"""``shared_spec.module_fields``: which fields a module class may declare, gets and uses, in both backends."""

import dataclasses
import doctest

import pytest

from shared_spec import errors
from shared_spec import module_fields as mf


def test_doctests():
    result = doctest.testmod(mf, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


class _Base:
    parent = name = None

    def apply(self): ...

    def param(self): ...

    def _hidden(self): ...


def test_api_names_are_public_attributes_and_scope():
    assert mf.module_api_names(_Base) == frozenset({'apply', 'param', 'scope'})


@pytest.mark.parametrize('field', ['parent', 'name'])
def test_reserved_fields_are_refused(field):
    with pytest.raises(errors.ReservedModuleAttributeError):
        mf.check_declared_fields('Foo', {field: int}, frozenset())


def test_a_field_shadowing_the_api_is_refused_with_the_first_name():
    with pytest.raises(TypeError, match=r"declares field\(s\) \['scope', 'apply'\] .* \(Module\.scope is used"):
        mf.check_declared_fields('Foo', {'features': int, 'scope': int, 'apply': int}, frozenset({'scope', 'apply'}))


def test_parent_and_name_are_added_once_keyword_only_after_the_own_fields():
    class A:
        x: int = 0

    mf.add_parent_and_name_fields(A, 'UNSPEC')
    A = dataclasses.dataclass(A)

    class B(A):
        y: int = 1

    mf.add_parent_and_name_fields(B, 'UNSPEC')
    B = dataclasses.dataclass(B)
    assert [f.name for f in dataclasses.fields(B)] == ['x', 'parent', 'name', 'y']
    assert B(1, 2).parent == 'UNSPEC' and B(name='n').name == 'n'
    assert 'parent=' not in repr(B())


def test_field_tables():
    @dataclasses.dataclass
    class M:
        a: int
        b: int = dataclasses.field(default=0, repr=False)
        c: int = dataclasses.field(default=0, init=False)
        parent: object = None
        name: str = None

    t = mf.field_tables(dataclasses.fields(M))
    assert t.field_names == frozenset({'a', 'b', 'c', 'parent', 'name'})
    assert t.init_field_names == ('a', 'b')
    assert t.compare_field_names == ('a', 'b', 'parent', 'name')
    assert t.repr_field_names == ('a', 'c')


def test_methods_to_wrap():
    def nowrap(f):
        f.nowrap = True
        return f

    def wrapped():
        pass

    wrapped.method_handler_wrapped = True

    class Foo(_Base):
        def __call__(self): ...
        def __repr__(self): ...
        def setup(self): ...
        def apply(self): ...
        def _helper(self): ...
        @nowrap
        def quick(self): ...

        already = wrapped

        @staticmethod
        def static(): ...

    assert [n for n, _ in mf.methods_to_wrap(Foo, _Base)] == ['__call__', 'setup', '_helper']


def test_at_most_one_compact_method():
    class One:
        def f(self): ...

        f.compact = True

    mf.check_single_compact(One)

    class Two(One):
        def g(self): ...

        g.compact = True

    with pytest.raises(errors.MultipleMethodsCompactError, match='f.*g'):
        mf.check_single_compact(Two)


def test_adopted_names_class_attribute_wins_over_the_flag():
    class Flags:
        flax_preserve_adopted_names = True

    class Keep:
        preserve_adopted_names = True

    assert mf.preserves_adopted_names(Keep, object()) is True
    assert mf.preserves_adopted_names(object, Flags()) is True
    assert mf.preserves_adopted_names(object, object()) is False


def test_messages():
    assert str(mf.bad_parent_error('x')) == 'parent must be None, a Module or a Scope, got str'
    assert str(mf.missing_attribute_error('M', 'w', False)) == '"M" object has no attribute "w".'
    assert 'exist only on a bound module' in str(mf.missing_attribute_error('M', 'w', True))


def test_backends_use_the_shared_rules():
    import nnjax
    import nnref

    for nn in (nnref, nnjax):
        with pytest.raises(errors.ReservedModuleAttributeError):
            type('Bad', (nn.Module,), {'__annotations__': {'name': str}})
        with pytest.raises(AttributeError, match=r'"Dense" object has no attribute "nope"'):
            _ = nn.Dense(2).nope
