"""Hostile input to the lifted transforms: wrong axes, methods, rng and variable filters, argnums, control flow.

Each case is ``(exception_name, description, fn, must_mention)`` (see
``conformance/test_hostile_inputs.py``): ``fn(nn)`` misuses a transform with
backend ``nn``; both backends must raise the same class, with a message that
names the transform, the argument and what was expected.
"""

import numpy as np


def _x(*shape):
    return np.ones(shape, np.float32)


def _key(nn):
    return nn.random.PRNGKey(0)


# -- in_axes / out_axes / variable_axes ----------------------------------------------------


def _vmap_dense(nn, **options):
    options.setdefault("variable_axes", {"params": 0})
    options.setdefault("split_rngs", {"params": True})
    return nn.vmap(nn.Dense, **options)(2)


def vmap_in_axes_out_of_range(nn):
    _vmap_dense(nn, in_axes=3).init(_key(nn), _x(4, 3))


def vmap_in_axes_negative_out_of_range(nn):
    _vmap_dense(nn, in_axes=-3).init(_key(nn), _x(4, 3))


def vmap_in_axes_string(nn):
    _vmap_dense(nn, in_axes="0")


def vmap_in_axes_float(nn):
    _vmap_dense(nn, in_axes=(0.5,))


def vmap_in_axes_too_many(nn):
    _vmap_dense(nn, in_axes=(0, 0)).init(_key(nn), _x(4, 3))


def vmap_in_axes_on_a_scalar(nn):
    class Scale(nn.Module):
        @nn.compact
        def __call__(self, x, s):
            return x * s

    nn.vmap(Scale, in_axes=(0, 0))().init(_key(nn), _x(4, 3), 2.0)


def vmap_out_axes_out_of_range(nn):
    _vmap_dense(nn, out_axes=5).init(_key(nn), _x(4, 3))


def vmap_variable_axes_not_a_dict(nn):
    _vmap_dense(nn, variable_axes=["params"])


def vmap_variable_axes_string_axis(nn):
    _vmap_dense(nn, variable_axes={"params": "batch"})


def vmap_variable_axes_out_of_range(nn):
    model = _vmap_dense(nn)
    variables = model.init(_key(nn), _x(4, 3))
    nn.vmap(nn.Dense, variable_axes={"params": 4}, split_rngs={"params": True})(2).apply(variables, _x(4, 3))


def vmap_split_rngs_not_a_dict(nn):
    _vmap_dense(nn, split_rngs="params")


def vmap_axis_size_zero(nn):
    _vmap_dense(nn, axis_size=0)


def scan_in_axes_out_of_range(nn):
    class Step(nn.Module):
        @nn.compact
        def __call__(self, c, x):
            return c, x

    nn.scan(Step, in_axes=2)().init(_key(nn), None, _x(4, 3))


def scan_out_axes_out_of_range(nn):
    class Step(nn.Module):
        @nn.compact
        def __call__(self, c, x):
            return c, x

    nn.scan(Step, out_axes=4)().init(_key(nn), None, _x(4, 3))


def scan_variable_axes_out_of_range(nn):
    class Step(nn.Module):
        @nn.compact
        def __call__(self, c, x):
            return c, nn.Dense(2)(x)

    good = nn.scan(Step, variable_axes={"params": 0}, split_rngs={"params": True})()
    variables = good.init(_key(nn), None, _x(4, 3))
    nn.scan(Step, variable_axes={"params": 5}, split_rngs={"params": True})().apply(variables, None, _x(4, 3))


def scan_in_axes_too_many(nn):
    class Step(nn.Module):
        @nn.compact
        def __call__(self, c, x):
            return c, x

    nn.scan(Step, in_axes=(0, 1))().init(_key(nn), None, _x(4, 3))


def scan_in_axes_string(nn):
    class Step(nn.Module):
        @nn.compact
        def __call__(self, c, x):
            return c, x

    nn.scan(Step, in_axes="time")


def scan_variable_axes_string_axis(nn):
    class Step(nn.Module):
        @nn.compact
        def __call__(self, c, x):
            return c, x

    nn.scan(Step, variable_axes={"params": "layers"}, split_rngs={"params": True})


def scan_length_negative(nn):
    class Step(nn.Module):
        @nn.compact
        def __call__(self, c, x):
            return c, x

    nn.scan(Step, length=-1)


def scan_length_float(nn):
    class Step(nn.Module):
        @nn.compact
        def __call__(self, c, x):
            return c, x

    nn.scan(Step, length=2.0)


# -- methods= -------------------------------------------------------------------------------


def vmap_methods_missing(nn):
    nn.vmap(nn.Dense, variable_axes={"params": 0}, split_rngs={"params": True}, methods=["encode"])


def jit_methods_missing(nn):
    nn.jit(nn.Dense, methods=["__cal__"])


def remat_methods_dict_missing(nn):
    nn.remat(nn.Dense, methods={"decode": {}})


def vmap_methods_not_callable(nn):
    nn.vmap(nn.Dense, variable_axes={"params": 0}, split_rngs={"params": True}, methods=["use_bias"])


def jit_methods_string(nn):
    nn.jit(nn.Dense, methods=7)


# -- split_rngs / rngs stream typos ---------------------------------------------------------


def _noisy(nn):
    class Noisy(nn.Module):
        @nn.compact
        def __call__(self, x):
            return x + nn.random.uniform(self.make_rng("dropout"), x.shape)

    return Noisy


def vmap_split_rngs_typo(nn):
    model = nn.vmap(_noisy(nn), in_axes=0, split_rngs={"dropuot": True})()
    model.apply({}, _x(4, 3), rngs={"dropout": _key(nn)})


def scan_split_rngs_typo(nn):
    class Step(nn.Module):
        @nn.compact
        def __call__(self, c, x):
            return c, x + nn.random.uniform(self.make_rng("dropout"), x.shape)

    nn.scan(Step, split_rngs={"dropuot": True})().apply({}, None, _x(4, 3), rngs={"dropout": _key(nn)})


def jit_rngs_filter_misses_stream(nn):
    nn.jit(_noisy(nn), rngs=["dropuot"])().apply({}, _x(4, 3), rngs={"dropout": _key(nn)})


def remat_rngs_filter_misses_stream(nn):
    nn.remat(_noisy(nn), rngs=["params"])().apply({}, _x(4, 3), rngs={"dropout": _key(nn)})


def cond_rngs_filter_misses_stream(nn):
    class Pick(nn.Module):
        @nn.compact
        def __call__(self, x):
            def draw(m, x):
                return x + nn.random.uniform(m.make_rng("dropout"), x.shape)

            return nn.cond(True, draw, draw, self, x, rngs=["dropuot"])

    Pick().apply({}, _x(3), rngs={"dropout": _key(nn)})


# -- collections passed through neither variable_axes nor variable_broadcast -----------------
# The class stays the scope's own (ScopeCollectionNotFound, as before and in the seed system);
# the message now names the transform and its variable filters as the cause.


def _stats_body(nn, scanned):
    class Body(nn.Module):
        @nn.compact
        def __call__(self, *args):
            x = args[-1]
            count = self.variable("stats", "count", lambda: np.zeros(x.shape, np.float32))
            count.value = count.value + x
            y = nn.Dense(2)(x)
            return (args[0], y) if scanned else y

    return Body


def vmap_collection_not_mapped(nn):
    model = nn.vmap(_stats_body(nn, False), variable_axes={"params": 0}, split_rngs={"params": True})()
    model.init(_key(nn), _x(4, 3))


def scan_collection_not_passed(nn):
    model = nn.scan(_stats_body(nn, True), variable_broadcast="params", split_rngs={"params": False})()
    model.init(_key(nn), None, _x(4, 3))


def vmap_params_not_mapped_at_apply(nn):
    variables = _vmap_dense(nn).init(_key(nn), _x(4, 3))
    nn.vmap(nn.Dense, variable_axes={"stats": 0}, split_rngs={})(2).apply(variables, _x(4, 3))


def jit_variables_filter_misses_collection(nn):
    nn.jit(_stats_body(nn, False), variables=["params"])().init(_key(nn), _x(4, 3))


# -- static_argnums ---------------------------------------------------------------------------


class _Scaled:
    @staticmethod
    def build(nn, transform, **options):
        class Scaled(nn.Module):
            def __call__(self, x, factor):
                return x * factor

        Scaled.__call__ = transform(Scaled.__call__, **options)
        return Scaled()


def jit_static_argnums_out_of_range(nn):
    _Scaled.build(nn, nn.jit, static_argnums=3).init(_key(nn), _x(2), 2.0)


def jit_static_argnums_string(nn):
    nn.jit(nn.Dense, static_argnums="1")


def jit_static_argnums_negative(nn):
    nn.jit(nn.Dense, static_argnums=(-1,))


def remat_static_argnums_out_of_range(nn):
    _Scaled.build(nn, nn.remat, static_argnums=(2, 5)).init(_key(nn), _x(2), 2.0)


def jit_donate_argnums_out_of_range(nn):
    _Scaled.build(nn, nn.jit, donate_argnums=4).init(_key(nn), _x(2), 2.0)


# -- zero-size mapped axes ---------------------------------------------------------------------


def vmap_zero_size_axis(nn):
    _vmap_dense(nn).init(_key(nn), _x(0, 3))


def vmap_zero_size_axis_at_apply(nn):
    variables = _vmap_dense(nn).init(_key(nn), _x(1, 3))
    nn.vmap(nn.Dense, variable_axes={"params": None}, split_rngs={})(2).apply(
        {"params": {k: v[0] for k, v in variables["params"].items()}}, _x(0, 3)
    )


def scan_zero_length(nn):
    class Step(nn.Module):
        @nn.compact
        def __call__(self, c, x):
            return c, nn.Dense(2)(x)

    nn.scan(Step, variable_axes={"params": 0}, split_rngs={"params": True})().init(_key(nn), None, _x(0, 3))


# -- control flow -------------------------------------------------------------------------------


def _looper(nn, cond_fn):
    class Loop(nn.Module):
        @nn.compact
        def __call__(self, x):
            return nn.while_loop(cond_fn, lambda m, c: c + 1, self, x)

    return Loop()


def while_condition_not_scalar(nn):
    _looper(nn, lambda m, c: c < 3).apply({}, np.zeros(2, np.float32))


def while_condition_int(nn):
    _looper(nn, lambda m, c: 0).apply({}, np.zeros((), np.float32))


def _brancher(nn, true_fun, false_fun, pred=True):
    class Branch(nn.Module):
        @nn.compact
        def __call__(self, x):
            return nn.cond(pred, true_fun, false_fun, self, x)

    return Branch()


def cond_branches_different_shapes(nn):
    _brancher(nn, lambda m, x: x, lambda m, x: x[:1]).apply({}, _x(3))


def cond_branches_different_shapes_unselected(nn):
    _brancher(nn, lambda m, x: x, lambda m, x: x.sum(), pred=False).apply({}, _x(3))


def cond_branches_different_structures(nn):
    _brancher(nn, lambda m, x: (x, x), lambda m, x: x).apply({}, _x(3))


def cond_branches_create_different_params(nn):
    _brancher(nn, lambda m, x: nn.Dense(3, name="d")(x), lambda m, x: nn.Dense(4, name="d")(x)[:3]).init(
        _key(nn), _x(3)
    )


def switch_branches_different_shapes(nn):
    class Switch(nn.Module):
        @nn.compact
        def __call__(self, x):
            return nn.switch(1, [lambda m, x: x, lambda m, x: x[:2], lambda m, x: x], self, x)

    Switch().apply({}, _x(3))


def cond_pred_not_scalar(nn):
    _brancher(nn, lambda m, x: x, lambda m, x: -x, pred=np.array([True, False])).apply({}, _x(3))


CASES = [
    # in_axes / out_axes / variable_axes / split_rngs / length: range, type, length
    (
        "ValueError",
        "vmap in_axes=3 on a 2-d input",
        vmap_in_axes_out_of_range,
        ("nn.vmap", "in_axes", "3", "(4, 3)", "/"),
    ),
    ("ValueError", "vmap in_axes=-3 on a 2-d input", vmap_in_axes_negative_out_of_range, ("nn.vmap", "in_axes", "-3")),
    ("TypeError", "vmap in_axes='0'", vmap_in_axes_string, ("nn.vmap", "in_axes", "'0'", "expected an int")),
    ("TypeError", "vmap in_axes=(0.5,)", vmap_in_axes_float, ("nn.vmap", "in_axes", "0.5")),
    (
        "ValueError",
        "vmap in_axes with two entries for one argument",
        vmap_in_axes_too_many,
        ("nn.vmap", "in_axes", "(0, 0)", "2 axes"),
    ),
    ("ValueError", "vmap maps axis 0 of a Python scalar", vmap_in_axes_on_a_scalar, ("nn.vmap", "in_axes", "shape ()")),
    ("ValueError", "vmap out_axes=5 on a 2-d output", vmap_out_axes_out_of_range, ("nn.vmap", "out_axes=5", "/")),
    ("TypeError", "vmap variable_axes as a list", vmap_variable_axes_not_a_dict, ("nn.vmap", "variable_axes", "list")),
    (
        "TypeError",
        "vmap variable_axes={'params': 'batch'}",
        vmap_variable_axes_string_axis,
        ("nn.vmap", "variable_axes", "'batch'", "an int axis or None"),
    ),
    (
        "ValueError",
        "vmap variable_axes=4 on 2-d params",
        vmap_variable_axes_out_of_range,
        ("nn.vmap", "variable_axes", "4"),
    ),
    ("TypeError", "vmap split_rngs='params'", vmap_split_rngs_not_a_dict, ("nn.vmap", "split_rngs", "str")),
    ("ValueError", "vmap axis_size=0", vmap_axis_size_zero, ("nn.vmap", "axis_size=0", "positive")),
    ("ValueError", "scan in_axes=2 on a 2-d input", scan_in_axes_out_of_range, ("nn.scan", "in_axes", "(4, 3)")),
    ("ValueError", "scan out_axes=4 on 1-d outputs", scan_out_axes_out_of_range, ("nn.scan", "out_axes=4", "/")),
    (
        "ValueError",
        "scan variable_axes=5 on params",
        scan_variable_axes_out_of_range,
        ("nn.scan", "variable_axes={'params': 5}", "/"),
    ),
    (
        "ValueError",
        "scan in_axes with two entries for one input",
        scan_in_axes_too_many,
        ("nn.scan", "in_axes", "(0, 1)", "2 axes"),
    ),
    ("TypeError", "scan in_axes='time'", scan_in_axes_string, ("nn.scan", "in_axes", "'time'", "nn.broadcast")),
    (
        "TypeError",
        "scan variable_axes={'params': 'layers'}",
        scan_variable_axes_string_axis,
        ("nn.scan", "variable_axes", "'layers'"),
    ),
    ("ValueError", "scan length=-1", scan_length_negative, ("nn.scan", "length=-1", "positive")),
    ("TypeError", "scan length=2.0", scan_length_float, ("nn.scan", "length=2.0", "int")),
    # methods=
    (
        "ValueError",
        "vmap methods=['encode'] on Dense",
        vmap_methods_missing,
        ("nn.vmap", "methods", "'encode'", "Dense"),
    ),
    ("ValueError", "jit methods=['__cal__']", jit_methods_missing, ("nn.jit", "methods", "'__cal__'", "Dense")),
    ("ValueError", "remat methods={'decode': {}}", remat_methods_dict_missing, ("nn.checkpoint", "'decode'", "Dense")),
    (
        "TypeError",
        "vmap methods=['use_bias'] (a field)",
        vmap_methods_not_callable,
        ("nn.vmap", "'use_bias'", "not a method"),
    ),
    ("TypeError", "jit methods=7", jit_methods_string, ("nn.jit", "methods=7", "list/tuple")),
    # a stream not passed through the transform
    (
        "InvalidRngError",
        "vmap split_rngs={'dropuot': True}, make_rng('dropout') inside",
        vmap_split_rngs_typo,
        ("'dropout'", "not passed through", "nn.vmap", "split_rngs={'dropuot': True}", "Module /"),
    ),
    (
        "InvalidRngError",
        "scan split_rngs={'dropuot': True}, make_rng('dropout') inside",
        scan_split_rngs_typo,
        ("'dropout'", "not passed through", "nn.scan", "dropuot"),
    ),
    (
        "InvalidRngError",
        "jit rngs=['dropuot'], make_rng('dropout') inside",
        jit_rngs_filter_misses_stream,
        ("'dropout'", "not passed through", "nn.jit", "rngs=['dropuot']"),
    ),
    (
        "InvalidRngError",
        "remat rngs=['params'], make_rng('dropout') inside",
        remat_rngs_filter_misses_stream,
        ("'dropout'", "not passed through", "nn.checkpoint", "rngs=['params']"),
    ),
    (
        "InvalidRngError",
        "cond rngs=['dropuot'], make_rng('dropout') in a branch",
        cond_rngs_filter_misses_stream,
        ("'dropout'", "not passed through", "nn.cond"),
    ),
    # collections in none of the transform's variable filters
    (
        "ScopeCollectionNotFound",
        "vmap body writes 'stats', not in variable_axes",
        vmap_collection_not_mapped,
        ("'stats'", "nn.vmap", "does not pass it through", "variable_axes", "Module /"),
    ),
    (
        "ScopeCollectionNotFound",
        "scan body writes 'stats', in neither variable_axes nor variable_broadcast",
        scan_collection_not_passed,
        ("'stats'", "nn.scan", "variable_broadcast='params'"),
    ),
    (
        "ScopeCollectionNotFound",
        "vmap at apply without 'params' in variable_axes",
        vmap_params_not_mapped_at_apply,
        ("'params'", "nn.vmap", "does not pass it through"),
    ),
    (
        "ScopeCollectionNotFound",
        "jit variables=['params'] but the body writes 'stats'",
        jit_variables_filter_misses_collection,
        ("'stats'", "nn.jit", "variables=['params']"),
    ),
    # static_argnums / donate_argnums
    (
        "ValueError",
        "jit static_argnums=3 with two arguments",
        jit_static_argnums_out_of_range,
        ("nn.jit", "static_argnums", "position 3", "1..2", "/"),
    ),
    ("TypeError", "jit static_argnums='1'", jit_static_argnums_string, ("nn.jit", "static_argnums", "'1'")),
    ("ValueError", "jit static_argnums=(-1,)", jit_static_argnums_negative, ("nn.jit", "static_argnums", "negative")),
    (
        "ValueError",
        "remat static_argnums=(2, 5) with two arguments",
        remat_static_argnums_out_of_range,
        ("nn.checkpoint", "static_argnums", "position 5"),
    ),
    (
        "ValueError",
        "jit donate_argnums=4 with two arguments",
        jit_donate_argnums_out_of_range,
        ("nn.jit", "donate_argnums", "position 4"),
    ),
    # zero-size mapped axes
    ("ValueError", "vmap over an axis of size 0 at init", vmap_zero_size_axis, ("nn.vmap", "size 0", "at module /")),
    ("ValueError", "vmap over an axis of size 0 at apply", vmap_zero_size_axis_at_apply, ("nn.vmap", "size 0")),
    ("ValueError", "scan over a sequence of length 0", scan_zero_length, ("nn.scan", "size 0")),
    # control flow
    (
        "TypeError",
        "while_loop condition of shape (2,)",
        while_condition_not_scalar,
        ("nn.while_loop", "cond_fn", "boolean scalar", "(2,)"),
    ),
    ("TypeError", "while_loop condition is an int", while_condition_int, ("nn.while_loop", "cond_fn", "int")),
    (
        "TypeError",
        "cond branches return shapes (3,) and (1,)",
        cond_branches_different_shapes,
        ("nn.cond", "different", "(3,)", "(1,)"),
    ),
    (
        "TypeError",
        "cond branches differ, the false one selected",
        cond_branches_different_shapes_unselected,
        ("nn.cond", "different", "branch 1"),
    ),
    (
        "TypeError",
        "cond branches return a tuple and an array",
        cond_branches_different_structures,
        ("nn.cond", "different"),
    ),
    (
        "TypeError",
        "cond branches create params of different shapes",
        cond_branches_create_different_params,
        ("nn.cond", "different", "variables"),
    ),
    (
        "TypeError",
        "switch branches return different shapes",
        switch_branches_different_shapes,
        ("nn.switch", "different", "(2,)"),
    ),
    ("TypeError", "cond pred of shape (2,)", cond_pred_not_scalar, ("nn.cond", "pred", "scalar", "(2,)")),
]

JAX_ONLY_CASES = []
