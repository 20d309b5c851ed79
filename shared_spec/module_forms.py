"""The contract of a lifted transform's user forms, which each backend implements on its own.

A transform's *core* (``core(fn, **options)`` returning ``lifted(scopes,
*args)``, which runs ``fn(inner_scopes, *args)`` on lifted copies of the
scopes) works on scopes; users hold modules. Each backend's
``transforms/module_forms.py`` bridges the two, in the seed system's three
forms:

* **class**: ``nn.vmap(nn.Dense, ...)`` is a subclass ``VmapDense`` (the
  transform's name capitalised, then the class name) whose methods
  (``methods=``, see :func:`method_options`) lift the instance's scopes and,
  inside, run the original method on a clone of the instance, of the
  original class, bound there;
* **method or function**: ``@nn.remat`` on a method, ``nn.scan(body_fn,
  ...)``; the first argument is the module to lift;
* **direct**: ``nn.cond(pred, f, g, module, x)`` runs the core once, now.

Which objects cross, and in which order (both backends must agree, since
the order decides which scope each filter and axis applies to):

1. bound modules and ``Variable`` objects found in the arguments (nested
   lists, tuples, namedtuples and dicts), in argument order; each is
   replaced by a placeholder while it crosses;
2. bound modules held in the module's fields, depth first (a field module's
   own field modules before it), each once; a child the module adopted
   (``sub.parent is module``) does not cross on its own, it is cloned
   unbound and adopted again inside;
3. the module itself, last.

Inside, the same objects are rebuilt over the inner scopes in the same
order. Naming state: the module's ``in_compact_method`` flag and
``autoname_cursor`` are read once per transformed call, before any body
runs, and every body starts from that snapshot (``cond`` runs every
branch, so auto-names such as ``Dense_0`` must not count on across
branches); after the body, ``in_compact_method``, ``in_setup`` and
``autoname_cursor`` are copied back out. Errors: lifting an unbound module
is ``CallCompactUnboundModuleError``; a body returning a module or a
variable is ``TransformedMethodReturnValueError``; a target that is neither
a Module class nor a function of a module is ``TransformTargetError``.

>>> method_options('vmap', None, {'in_axes': 0})
{'__call__': {'in_axes': 0}}
"""

from shared_spec.transform_args import _short, _what

__all__ = ['method_options', 'single_scope']


def method_options(transform, methods, options):
    """Per method name, the options a transformed class applies to it (``methods=`` of the class form).

    >>> method_options('jit', ['encode', 'decode'], {'static_argnums': 1})['decode']
    {'static_argnums': 1}
    >>> method_options('jit', {'encode': {'static_argnums': 2}}, {})
    {'encode': {'static_argnums': 2}}
    """
    if methods is None:
        return {'__call__': options}
    if isinstance(methods, (list, tuple)):
        return {name: options for name in methods}
    if isinstance(methods, dict):
        return {name: dict(per_method) for name, per_method in methods.items()}
    raise TypeError(
        f'{_what(transform)}(methods={_short(methods)}): expected None, a list/tuple of method names '
        f'or a dict of per-method options; got {type(methods).__name__}.'
    )


def single_scope(scopes):
    """The scopes of a transform that supports one lifted module only (its options follow that one's structure).

    >>> single_scope(['scope'])
    ['scope']
    """
    if len(scopes) != 1:
        raise NotImplementedError(
            'This lifted transform supports one module only; modules passed as arguments or held in '
            'fields cannot be lifted with it.'
        )
    return scopes
