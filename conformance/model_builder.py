"""Turn an architecture description (:mod:`conformance.strategies`) into Modules.

:func:`build` creates fresh Module classes for one backend ``nn`` from a
:class:`~conformance.strategies.Node` tree. The code path is the same for
both backends and uses only what the shared API offers (``nn.Module``,
``nn.compact``, ``nn.nowrap``, ``nn.Dense``, activations, ``nn.initializers``,
``nn.numpy``, ``nn.random``): no NumPy-only or JAX-only call appears in model
code, and every output is a deterministic function of the inputs, the
variables and the keys.

What a node's ``__call__`` does, in order (each step only if the node says so):

1. ``extra_param``: ``x = x * (1 + 0.1 * w)`` with ``w = self.param('w', normal)``;
2. children in order: ``x = act(child(x))``; the ``shared`` child also runs on
   ``0.5 * x_in`` (same instance, same variables) and the results are added;
   with ``helper`` the activation goes through an ``@nn.nowrap`` method;
3. ``rng_stream``: ``x = x + 0.1 * normal(self.make_rng(stream), x.shape)``;
4. ``stats``: ``stats/count`` (int32) and ``stats/total`` (float32) counters,
   updated as the policy says, and ``x = x + 0.01 * total``;
5. ``sow``: ``intermediates/h`` (appended) or ``probes/acc`` (summed);
6. ``perturb``: ``x = self.perturb('pert', x)``;
7. ``x * scale`` (``scale`` is a dataclass field of the node class).

``encode`` is the extra method for ``apply(method=...)``: on a setup-style
node it runs the first child only (so ``init(method='encode')`` creates only
that child's variables); on a compact node it is ``2 * self(x)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict

from conformance.strategies import DenseSpec, Node

DICT_KEYS = 'abcdefgh'


def _activation(nn, name):
    if name == 'relu':
        return nn.relu
    if name == 'tanh':
        return nn.tanh
    return lambda x: x


@dataclass
class Built:
    """A built model for one backend."""

    module: Any  # the root instance (unbound)
    cls: type  # its class
    outside: Callable  # f(module, x): calls module.encode from outside
    capture_filters: Dict[str, Callable]

    def method(self, form):
        """The ``method=`` argument for one of ``strategies.METHOD_FORMS``."""
        if form == 'function':
            return self.cls.encode
        if form == 'name':
            return 'encode'
        return self.outside


def _node_class(nn, node: Node):
    children = node.children
    child_classes = [None if isinstance(c, DenseSpec) else _node_class(nn, c) for c in children]
    acts = [_activation(nn, a) for a in node.activations]

    def make_child(i):
        spec = children[i]
        kwargs = {} if spec.name is None else {'name': spec.name}
        if isinstance(spec, DenseSpec):
            return nn.Dense(spec.features, use_bias=spec.use_bias, **kwargs)
        return child_classes[i](scale=spec.scale, **kwargs)

    def stats_vars(self):
        count = self.variable('stats', 'count', lambda: nn.numpy.zeros((), nn.numpy.int32))
        total = self.variable('stats', 'total', lambda: nn.numpy.zeros((), nn.numpy.float32))
        return count, total

    def extra_param(self):
        return self.param('w', nn.initializers.normal(1.0), ())

    def body(self, x, subs, w, stat):
        if w is not None:
            x = x * (1.0 + 0.1 * w)
        for i, sub in enumerate(subs):
            y = sub(x)
            if i == node.shared:
                y = y + sub(0.5 * x)
            x = self.act(i, y) if node.helper else acts[i](y)
        if node.rng_stream is not None:
            key = self.make_rng(node.rng_stream)
            x = x + 0.1 * nn.random.normal(key, x.shape, x.dtype)
        if stat is not None:
            count, total = stat
            if node.stats == 'always':
                update = True
            elif node.stats == 'if_mutable':
                update = self.is_mutable_collection('stats')
            else:  # 'not_init'
                update = self.is_mutable_collection('stats') and not self.is_initializing()
            if update:
                count.value = count.value + 1
                total.value = total.value + x.sum()
            x = x + 0.01 * total.value
        if node.sow == 'append':
            self.sow('intermediates', 'h', x)
        elif node.sow == 'sum':
            self.sow(
                'probes',
                'acc',
                x.sum(),
                reduce_fn=lambda a, b: a + b,
                init_fn=lambda: nn.numpy.zeros((), nn.numpy.float32),
            )
        if node.perturb:
            x = self.perturb('pert', x)
        return x * self.scale

    def act(self, i, y):
        return acts[i](y)

    ns = {
        '__annotations__': {'scale': float},
        'scale': 1.0,
        '__module__': __name__,
        'act': nn.nowrap(act),
    }

    if node.style == 'compact':

        def __call__(self, x):
            subs = [make_child(i) for i in range(len(children))]
            w = extra_param(self) if node.extra_param else None
            stat = stats_vars(self) if node.stats else None
            return body(self, x, subs, w, stat)

        def encode(self, x):
            return 2.0 * self(x)

        ns['__call__'] = nn.compact(__call__)
    else:

        def setup(self):
            subs = [make_child(i) for i in range(len(children))]
            if node.container == 'attrs':
                for i, sub in enumerate(subs):
                    setattr(self, f'c{i}', sub)
            elif node.container == 'list':
                self.layers = subs
            else:
                self.heads = {DICT_KEYS[i]: sub for i, sub in enumerate(subs)}
            if node.extra_param:
                self.w = extra_param(self)
            if node.stats:
                self.count_var, self.total_var = stats_vars(self)

        def subs_of(self):
            if node.container == 'attrs':
                return [getattr(self, f'c{i}') for i in range(len(children))]
            if node.container == 'list':
                return list(self.layers)
            return [self.heads[DICT_KEYS[i]] for i in range(len(children))]

        def __call__(self, x):
            w = self.w if node.extra_param else None
            stat = (self.count_var, self.total_var) if node.stats else None
            return body(self, x, subs_of(self), w, stat)

        def encode(self, x):
            return acts[0](subs_of(self)[0](x))

        ns['setup'] = setup
        ns['__call__'] = __call__

    ns['encode'] = encode
    return type(node.class_name, (nn.Module,), ns)


def build(nn, arch: Node) -> Built:
    """Fresh Module classes for backend ``nn``; returns the root and its call spec."""
    cls = _node_class(nn, arch)

    def outside(module, x):
        return module.encode(x) + 1.0

    filters = {
        'dense': lambda mdl, method_name: isinstance(mdl, nn.Dense),
        'not_dense': lambda mdl, method_name: not isinstance(mdl, nn.Dense) and method_name == '__call__',
        'encode': lambda mdl, method_name: method_name == 'encode',
        'shallow': lambda mdl, method_name: len(mdl.path) <= 1,
    }
    return Built(module=cls(scale=arch.scale), cls=cls, outside=outside, capture_filters=filters)
