"""shared_spec.name_scope_rules: who moves under share_scope, and how children follow, tested once."""

import doctest

from shared_spec import name_scope_rules as nsr


class Scope:
    def __init__(self, path):
        self.path = tuple(path)

    def push(self, name):
        return Scope(self.path + (name,))

    def is_within(self, other):
        return self.path[: len(other.path)] == other.path


class Mod:
    def __init__(self, path, children=()):
        self.scope = None if path is None else Scope(path)
        self.children = list(children)


def test_docstring_examples():
    result = doctest.testmod(nsr)
    assert result.attempted > 0 and result.failed == 0


def test_moves_into():
    a, b = Mod(('a',)), Mod(('b',))
    assert nsr.moves_into(a, b) == (a, b.scope)
    same = Mod(('a',))
    moved, scope = nsr.moves_into(a, same)  # other is within module (same path): other moves up
    assert moved is same and scope is a.scope
    child = Mod(('a', 'c'))
    assert nsr.moves_into(a, child) == (child, a.scope)
    assert nsr.moves_into(child, a) == (child, a.scope)


def test_not_set_up_error():
    err = nsr.not_set_up_error('up')
    assert isinstance(err, ValueError) and "method='up'" in str(err)
