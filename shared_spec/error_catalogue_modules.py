"""Catalogue errors of the Module system: defining, constructing, binding and applying modules.

The classes of the areas ``'module'`` and ``'apply'`` of
``shared_spec.errors.CATALOGUE`` (import them from ``shared_spec.errors``).

>>> str(MultipleMethodsCompactError()).startswith('Only one method per class can be @compact.')
True
"""

from shared_spec.error_base import NNError, _at, _name_of, _short_repr, format_path


class ApplyModuleInvalidMethodError(NNError):
    """``apply(..., method=m)`` got something that is not a method of the module."""

    SEED = 'Cannot call apply(): {method} is not a valid function for apply().'

    def __init__(self, method):
        self.method = method
        self._init(
            (method,),
            {},
            f'apply() got method={_short_repr(method)}, which is neither a '
            'method of the module nor a function taking the module as its '
            'first argument. Fix: pass a method (Model.encode), its name as '
            "a string ('encode'), or a function f(module, *args).",
        )


class ApplyScopeInvalidVariablesStructureError(NNError):
    """The variables given to ``apply`` nest ``'params'`` inside ``'params'``."""

    SEED = (
        'Expect the `variables` (first argument) passed to apply() '
        'to be a dict with the structure {{"params": ...}}, but got a dict '
        'with an extra params layer, i.e.  {{"params": {{"params": ... }} }}. '
        'You should instead pass in your dict\'s ["params"].'
    )

    def __init__(self, variables):
        self.variables = variables
        keys = list(variables) if hasattr(variables, 'keys') else None
        self._init(
            (variables,),
            {},
            "The variables passed to apply() have an extra 'params' level: "
            "{'params': {'params': ...}} (top-level collections: "
            f'{keys}). Fix: pass the dict that init() returned, or '
            "{'params': params} where params = variables['params'].",
        )


class ApplyScopeInvalidVariablesTypeError(NNError):
    """The first argument of ``apply`` is not a dict of collections."""

    SEED = (
        'The first argument passed to an apply function should be a '
        'dictionary of collections. Each collection should be a dictionary '
        'with string keys.'
    )

    def __init__(self, *, got_type=None):
        self.got_type = got_type
        got = f', got {_name_of(got_type, "?")}' if got_type is not None else ''
        self._init(
            (),
            {'got_type': got_type},
            'The first argument of apply() must be a dict of variable '
            f"collections such as {{'params': ...}}{got}. Fix: pass the "
            'variables returned by init(), not a Module, array or list.',
        )


class AssignSubModuleError(NNError):
    """A submodule was created outside ``setup`` and outside a ``@compact`` method."""

    SEED = 'Submodule {cls} must be defined in `setup()` or in a method wrapped in `@compact`'

    def __init__(self, cls, *, parent_path=None):
        self.cls = cls
        self.parent_path = parent_path
        where = _at(parent_path) if parent_path is not None else ''
        self._init(
            (cls,),
            {'parent_path': parent_path},
            f'Submodule {_name_of(cls)} was created in a method that is '
            f'neither setup() nor marked @compact{where}. Fix: create '
            'submodules in setup() (assign them to self) or decorate the '
            'method that creates them with @compact.',
        )


class CallCompactUnboundModuleError(NNError):
    """A module method was called directly, without ``init``/``apply``/``bind``."""

    SEED = "Can't call compact methods on unbound modules"

    def __init__(self, *, module_cls=None, method=None):
        self.module_cls = module_cls
        self.method = method
        meth = _name_of(method, '__call__')
        cls = _name_of(module_cls)
        self._init(
            (),
            {'module_cls': module_cls, 'method': method},
            f'{cls}.{meth}() was called on an unbound module, which has no '
            'variables. Fix: go through init()/apply(): variables = '
            'model.init(key, x); y = model.apply(variables, x); or use '
            'model.bind(variables) for interactive work.',
        )


class CallSetupUnboundModuleError(NNError):
    """``setup()`` was called by hand on an unbound module."""

    SEED = "Can't call compact methods on unbound modules"

    def __init__(self, *, module_cls=None):
        self.module_cls = module_cls
        self._init(
            (),
            {'module_cls': module_cls},
            f'{_name_of(module_cls)}.setup() was called directly on an '
            'unbound module. Fix: never call setup() yourself; it runs '
            'lazily once the module is bound. To reach a setup-defined '
            'attribute use nn.apply(lambda m: m.sub.clone(), model)(variables).',
        )


class CallShareScopeOnUnboundModuleError(NNError):
    """``nn.share_scope(module, other)`` was called where ``module`` is not bound."""

    SEED = "Can't call `share_scope` on unbound modules"

    def __init__(self):
        self._init(
            (),
            {},
            'Fix: call nn.share_scope where both modules are bound, e.g. in '
            'setup() or a @compact method of a module run by init()/apply().',
        )


class CallUnbindOnUnboundModuleError(NNError):
    """``unbind()`` was called on a module that is not bound."""

    SEED = "Can't call `unbind()` on unbound modules"

    def __init__(self, *, module_cls=None):
        self.module_cls = module_cls
        self._init(
            (),
            {'module_cls': module_cls},
            f'unbind() was called on {_name_of(module_cls)}, which is not '
            'bound to any variables. Fix: unbind only a module returned by '
            'bind(): bound = model.bind(variables); model, variables = '
            'bound.unbind().',
        )


class DescriptorAttributeError(NNError):
    """A property of a module read an attribute that does not exist.

    Raised instead of ``AttributeError`` so that the missing attribute is not
    mistaken for the property itself being absent.
    """

    SEED = 'Trying to access a property that is accessing a non-existent attribute.'

    def __init__(self, *, module_cls=None, attr_name=None):
        self.module_cls = module_cls
        self.attr_name = attr_name
        what = f"'{attr_name}'" if attr_name is not None else 'an attribute'
        self._init(
            (),
            {'module_cls': module_cls, 'attr_name': attr_name},
            f'A property or other descriptor of {_name_of(module_cls)} '
            f'raised AttributeError while reading {what}. Fix: check the '
            "property's body for a misspelt or missing attribute (fields "
            'and setup() attributes are the only ones that exist).',
        )


class IncorrectPostInitOverrideError(NNError):
    """``__post_init__`` was overridden without calling ``super().__post_init__()``."""

    SEED = 'Overrode `.__post_init__()` without calling `super().__post_init__()`'

    def __init__(self, *, module_cls=None):
        self.module_cls = module_cls
        self._init(
            (),
            {'module_cls': module_cls},
            f'{_name_of(module_cls)}.__post_init__ does not call '
            'super().__post_init__(), so the module was never registered '
            'with its parent. Fix: call super().__post_init__() in the '
            'override.',
        )


class InvalidInstanceModuleError(NNError):
    """``init``/``apply``/``bind`` was called on the Module class, not an instance."""

    SEED = (
        'Can only call init, init_with_output or apply methods on an '
        'instance of the Module class, not the Module class itself'
    )

    def __init__(self, *, module_cls=None, method=None):
        self.module_cls = module_cls
        self.method = method
        cls = _name_of(module_cls)
        meth = _name_of(method, 'init/apply')
        self._init(
            (),
            {'module_cls': module_cls, 'method': method},
            f'{meth}() was called on the class {cls}, not on an instance. '
            f'Fix: construct the module first: {cls}(...).{meth.split("/")[0]}(...).',
        )


class MultipleMethodsCompactError(NNError):
    """More than one method of a module is marked ``@compact``."""

    SEED = 'Only one method per class can be @compact'

    def __init__(self, *, module_cls=None, methods=None):
        self.module_cls = module_cls
        self.methods = methods
        listed = f' ({", ".join(map(str, methods))})' if methods else ''
        self._init(
            (),
            {'module_cls': module_cls, 'methods': methods},
            f'{_name_of(module_cls)} marks more than one method with '
            f'@compact{listed}. Fix: keep @compact on one method and define '
            'shared submodules in setup(), or split the module in two.',
        )


class NameInUseError(NNError):
    """A param, variable or submodule name is already taken in this module."""

    SEED = 'Could not create {key_type} "{value}" in Module {module_name}: Name in use.'

    def __init__(self, key_type, value, module_name):
        self.key_type = key_type
        self.value = value
        self.module_name = module_name
        where = format_path(module_name) if isinstance(module_name, tuple) else module_name
        self._init(
            (key_type, value, module_name),
            {},
            f"Cannot create {key_type} '{value}' in module {where}: the name "
            'is in use (params, variables and submodules share one '
            'namespace). Fix: choose another name, or reuse the existing '
            'submodule instance to share it.',
        )


class ReservedModuleAttributeError(NNError):
    """A Module subclass declares the reserved fields ``parent`` or ``name``."""

    SEED = 'properties `parent` and `name` are reserved: {annotations}'

    RESERVED = ('parent', 'name')

    def __init__(self, annotations):
        self.annotations = annotations
        names = [n for n in annotations if n in self.RESERVED] or list(annotations)
        self._init(
            (annotations,),
            {},
            f'A Module declares reserved attribute(s) {names}: '
            "'parent' and 'name' are set by the module system. Fix: rename "
            'these fields.',
        )


class SetAttributeFrozenModuleError(NNError):
    """An attribute was assigned on a module outside ``setup``."""

    SEED = (
        "Can't set {attr_name}={attr_val} for Module of type {module_cls}: "
        'Module instance is frozen outside of setup method.'
    )

    def __init__(self, module_cls, attr_name, attr_val):
        self.module_cls = module_cls
        self.attr_name = attr_name
        self.attr_val = attr_val
        cls = _name_of(module_cls)
        self._init(
            (module_cls, attr_name, attr_val),
            {},
            f"Cannot set {cls}.{attr_name} = {_short_repr(attr_val)}: modules "
            'are frozen outside setup(). Fix: pass it when constructing '
            f'({cls}({attr_name}=...)), or assign it in setup().',
        )


class SetAttributeInModuleSetupError(NNError):
    """``setup`` assigned to one of the module's dataclass fields."""

    SEED = 'Module construction attributes are frozen.'

    def __init__(self, *, module_cls=None, attr_name=None):
        self.module_cls = module_cls
        self.attr_name = attr_name
        cls = _name_of(module_cls)
        field = f"'{attr_name}'" if attr_name is not None else 'a field'
        self._init(
            (),
            {'module_cls': module_cls, 'attr_name': attr_name},
            f'{cls}.setup() assigns to dataclass field {field}; fields are '
            'fixed when the module is constructed. Fix: pass the value to '
            f'the constructor ({cls}({attr_name or "field"}=...)), or store '
            'derived values under another attribute name.',
        )
