"""Real misuses of the Module API, one or more per catalogue error, as backend-neutral code.

Each case is ``(error_name, description, fn)``; ``fn(nn)`` performs the
misuse with backend ``nn`` and must raise ``nn.errors.<error_name>``. The
variables a case passes to ``apply`` are returned by ``fn`` through
``CallerState`` so tests can check that a failed call left them untouched.
"""

from __future__ import annotations

import importlib
import os
import tempfile


def _dense_vars(nn, features=3, in_features=4):
    x = nn.numpy.ones((2, in_features))
    return nn.Dense(features).init(nn.random.PRNGKey(0), x), x


def apply_invalid_method(nn):
    variables, x = _dense_vars(nn)
    nn.Dense(3).apply(variables, x, method="no_such_method")


def apply_method_not_callable(nn):
    variables, x = _dense_vars(nn)
    nn.Dense(3).apply(variables, x, method=42)


def apply_params_nested_twice(nn):
    variables, x = _dense_vars(nn)
    nn.Dense(3).apply({"params": variables}, x)


def apply_variables_not_a_dict(nn):
    variables, x = _dense_vars(nn)
    nn.Dense(3).apply([variables["params"]], x)


def apply_collection_not_a_dict(nn):
    _, x = _dense_vars(nn)
    nn.Dense(3).apply({"params": 1.0}, x)


def submodule_outside_setup_or_compact(nn):
    class Foo(nn.Module):
        def setup(self):
            pass

        def __call__(self, x):
            return nn.Dense(3)(x)

    Foo().init(nn.random.PRNGKey(0), nn.numpy.ones((1, 2)))


def param_outside_setup_or_compact(nn):
    class Foo(nn.Module):
        def __call__(self, x):
            return x * self.param("w", nn.initializers.ones, x.shape)

    Foo().init(nn.random.PRNGKey(0), nn.numpy.ones((1, 2)))


def call_compact_unbound(nn):
    nn.Dense(10)(nn.numpy.ones((5, 5)))


def make_rng_unbound(nn):
    class Foo(nn.Module):
        def __call__(self):
            return self.make_rng("dropout")

    Foo()()


def call_setup_unbound(nn):
    class MyModule(nn.Module):
        def setup(self):
            self.submodule = nn.Dense(3)

    MyModule().setup()


def unbind_unbound(nn):
    nn.Dense(3).unbind()


def share_scope_unbound(nn):
    nn.share_scope(nn.Dense(3), nn.Dense(4))


def property_reads_missing_attribute(nn):
    class Foo(nn.Module):
        @property
        def prop(self):
            return self.non_existent_field

        def __call__(self, x):
            return self.prop

    Foo().init(nn.random.PRNGKey(0), nn.numpy.ones((1, 8)))


def post_init_without_super(nn):
    class A(nn.Module):
        x: float

        def __post_init__(self):
            self.x_square = self.x**2

        @nn.compact
        def __call__(self, inputs):
            return inputs + 3

    A(x=3).init(nn.random.PRNGKey(2), nn.numpy.ones(3))


def mutable_filter_invalid(nn):
    variables, x = _dense_vars(nn)
    nn.Dense(3).apply(variables, x, mutable=3.5)


def init_on_class(nn):
    nn.Dense.init(nn.random.PRNGKey(0), nn.numpy.ones((1, 2)))


def missing_rng_stream(nn):
    class Noisy(nn.Module):
        @nn.compact
        def __call__(self, x):
            return x + nn.random.normal(self.make_rng("noise"), x.shape)

    Noisy().apply({}, nn.numpy.ones((2,)))


def rngs_not_keys(nn):
    variables, x = _dense_vars(nn)
    nn.Dense(3).apply(variables, x, rngs={"dropout": 1.5})


def leaked_bound_module_used(nn):
    variables, x = _dense_vars(nn)
    leaked = nn.apply(lambda module: module, nn.Dense(3))(variables)
    leaked(x)


def lazy_init_depends_on_values(nn):
    class Foo(nn.Module):
        @nn.compact
        def __call__(self, x):
            k = self.param("kernel", lambda _: x)
            return x * k

    Foo().lazy_init(nn.random.PRNGKey(0), nn.ShapeDtypeStruct((8, 4), nn.numpy.float32))


def write_immutable_collection(nn):
    class Counter(nn.Module):
        @nn.compact
        def __call__(self):
            count = self.variable("counter", "count", lambda: 0)
            count.value += 1
            return count.value

    variables = Counter().init(nn.random.PRNGKey(0))
    Counter().apply(variables)


def two_compact_methods(nn):
    class Bad(nn.Module):
        @nn.compact
        def __call__(self, x):
            return x

        @nn.compact
        def other(self, x):
            return x


def duplicate_submodule_names(nn):
    class Foo(nn.Module):
        @nn.compact
        def __call__(self, x):
            y = nn.Dense(3, name="bar")(x)
            return nn.Dense(3, name="bar")(x + y)

    Foo().init(nn.random.PRNGKey(0), nn.numpy.ones((1, 3)))


def param_name_clashes_with_submodule(nn):
    class Foo(nn.Module):
        @nn.compact
        def __call__(self, x):
            self.param("bar", nn.initializers.zeros_init(), (1,))
            return nn.Dense(2, name="bar")(x)

    Foo().init(nn.random.PRNGKey(0), nn.numpy.ones((1, 3)))


def reserved_attribute(nn):
    class Foo(nn.Module):
        name: str = "x"


def collection_not_passed(nn):
    class Stats(nn.Module):
        @nn.compact
        def __call__(self, x):
            mean = self.variable("batch_stats", "mean", lambda: nn.numpy.zeros(x.shape[-1:]))
            return x - mean.value

    x = nn.numpy.ones((2, 3))
    Stats().apply({}, x)


def param_missing_at_apply(nn):
    class Embed(nn.Module):
        @nn.compact
        def __call__(self, inputs, embed_name="embedding"):
            table = self.param(embed_name, nn.initializers.lecun_normal(), (4, 8))
            return table[inputs]

    tokens = nn.numpy.zeros((5,), nn.numpy.int32)
    variables = Embed().init(nn.random.PRNGKey(0), tokens)
    Embed().apply(variables, tokens, "embed")


def param_shape_changed(nn):
    model = nn.Dense(8)
    variables = model.init(nn.random.PRNGKey(0), nn.numpy.ones((5, 1)))
    model.apply(variables, nn.numpy.ones((5, 5)))


def variable_missing_in_existing_collection(nn):
    class Foo(nn.Module):
        @nn.compact
        def __call__(self):
            return self.variable("stats", "missing").value

    Foo().apply({"stats": {"present": 1.0}})


def assign_attribute_in_compact(nn):
    class SomeModule(nn.Module):
        @nn.compact
        def __call__(self, x, num_features=10):
            self.num_features = num_features
            return nn.Dense(self.num_features)(x)

    SomeModule().init(nn.random.PRNGKey(0), nn.numpy.ones((5, 5)))


def assign_field_in_setup(nn):
    class Foo(nn.Module):
        features: int = 6

        def setup(self):
            self.features = 3

        def __call__(self, x):
            return x

    Foo().init(nn.random.PRNGKey(0), nn.numpy.ones((1,)))


def transform_an_instance(nn):
    nn.vmap(nn.Dense(3), variable_axes={"params": 0}, split_rngs={"params": True})


def transformed_method_returns_variable(nn):
    class Leaky(nn.Module):
        @nn.remat
        @nn.compact
        def __call__(self, x):
            return self.variable("state", "seen", lambda: x)

    Leaky().init(nn.random.PRNGKey(0), nn.numpy.ones((2,)))


def vmap_partitioned_without_axis_name(nn):
    meta = importlib.import_module(f"{nn.__name__}.meta")
    kernel_init = meta.with_partitioning(nn.initializers.lecun_normal(), (None, "model"))
    BatchDense = nn.vmap(nn.Dense, variable_axes={"params": 0}, split_rngs={"params": True})
    BatchDense(3, kernel_init=kernel_init).init(nn.random.PRNGKey(0), nn.numpy.ones((2, 1, 4)))


def jax_transform_around_bound_module(nn):
    """Only the JAX backend has raw JAX transforms to misuse (see ``JAX_ONLY_MISUSES``)."""
    import jax

    class Foo(nn.Module):
        @nn.compact
        def __call__(self, x):
            return jax.vmap(lambda row: nn.Dense(2)(row))(x)  # creates params inside jax.vmap

    Foo().init(nn.random.PRNGKey(0), nn.numpy.ones((3, 4)))


# --- checkpoints (nnjax.training only: nnref has no training stack) ----------------


def _checkpoints(nn):
    return importlib.import_module(f"{nn.__name__}.training.checkpoints")


def _dense_variables(nn, features=3):
    return nn.Dense(features).init(nn.random.PRNGKey(0), nn.numpy.ones((1, 4)))


def checkpoint_dir_is_a_file(nn):
    with tempfile.TemporaryDirectory() as tmp:
        not_a_dir = os.path.join(tmp, "model.msgpack")
        with open(not_a_dir, "wb") as f:
            f.write(b"someone else's file")
        _checkpoints(nn).save_checkpoint(not_a_dir, _dense_variables(nn), step=1)


def checkpoint_saved_at_an_earlier_step(nn):
    checkpoints = _checkpoints(nn)
    with tempfile.TemporaryDirectory() as tmp:
        checkpoints.save_checkpoint(tmp, _dense_variables(nn), step=5)
        checkpoints.save_checkpoint(tmp, _dense_variables(nn), step=3)


def checkpoint_restored_into_another_model(nn):
    checkpoints = _checkpoints(nn)
    without_bias = nn.Dense(3, use_bias=False).init(nn.random.PRNGKey(0), nn.numpy.ones((1, 4)))
    with tempfile.TemporaryDirectory() as tmp:
        checkpoints.save_checkpoint(tmp, without_bias, step=1)
        # The target has a 'bias' the file lacks. (The reverse, a target holding a
        # subset of the file, is the seed's partial restore and is accepted.)
        checkpoints.restore_checkpoint(tmp, target=_dense_variables(nn, features=3))


def checkpoint_file_truncated(nn):
    checkpoints = _checkpoints(nn)
    with tempfile.TemporaryDirectory() as tmp:
        path = checkpoints.save_checkpoint(tmp, _dense_variables(nn), step=1)
        with open(path, "rb") as f:
            data = f.read()
        with open(path, "wb") as f:
            f.write(data[: len(data) // 2])
        checkpoints.restore_checkpoint(tmp, target=_dense_variables(nn))


MISUSES = [
    ("ApplyModuleInvalidMethodError", "method= names no method", apply_invalid_method),
    ("ApplyModuleInvalidMethodError", "method= is not callable", apply_method_not_callable),
    ("ApplyScopeInvalidVariablesStructureError", "{'params': {'params': ...}}", apply_params_nested_twice),
    ("ApplyScopeInvalidVariablesTypeError", "variables is a list", apply_variables_not_a_dict),
    ("ApplyScopeInvalidVariablesTypeError", "a collection is not a dict", apply_collection_not_a_dict),
    ("AssignSubModuleError", "submodule in a plain method", submodule_outside_setup_or_compact),
    ("AssignSubModuleError", "param in a plain method", param_outside_setup_or_compact),
    ("CallCompactUnboundModuleError", "calling an unbound compact module", call_compact_unbound),
    ("CallCompactUnboundModuleError", "make_rng on an unbound module", make_rng_unbound),
    ("CallSetupUnboundModuleError", "calling setup() directly", call_setup_unbound),
    ("CallShareScopeOnUnboundModuleError", "share_scope() of unbound modules", share_scope_unbound),
    ("CallUnbindOnUnboundModuleError", "unbind() of an unbound module", unbind_unbound),
    ("DescriptorAttributeError", "a property reads a missing attribute", property_reads_missing_attribute),
    ("IncorrectPostInitOverrideError", "__post_init__ without super()", post_init_without_super),
    ("InvalidFilterError", "mutable=3.5", mutable_filter_invalid),
    ("InvalidInstanceModuleError", "init called on the class", init_on_class),
    ("InvalidRngError", "make_rng of a stream not given", missing_rng_stream),
    ("InvalidRngError", "rngs values are not keys", rngs_not_keys),
    ("InvalidScopeError", "a module leaked out of apply is used", leaked_bound_module_used),
    ("LazyInitError", "lazy_init variables depend on input values", lazy_init_depends_on_values),
    ("ModifyScopeVariableError", "writing an immutable collection", write_immutable_collection),
    ("MultipleMethodsCompactError", "two @compact methods", two_compact_methods),
    ("NameInUseError", "two submodules named 'bar'", duplicate_submodule_names),
    ("NameInUseError", "a param and a submodule named 'bar'", param_name_clashes_with_submodule),
    ("ReservedModuleAttributeError", "a field called 'name'", reserved_attribute),
    ("ScopeCollectionNotFound", "reading a collection not passed", collection_not_passed),
    ("ScopeParamNotFoundError", "apply asks for a param init did not make", param_missing_at_apply),
    ("ScopeParamShapeError", "apply on another input shape", param_shape_changed),
    (
        "ScopeVariableNotFoundError",
        "variable missing from a present collection",
        variable_missing_in_existing_collection,
    ),
    ("SetAttributeFrozenModuleError", "assigning self.x in a compact method", assign_attribute_in_compact),
    ("SetAttributeInModuleSetupError", "assigning a field in setup", assign_field_in_setup),
    ("TransformTargetError", "nn.vmap of a module instance", transform_an_instance),
    ("TransformedMethodReturnValueError", "a remat'd method returns a Variable", transformed_method_returns_variable),
    (
        "PartitioningUnspecifiedError",
        "vmap adds an axis to Partitioned params without a name",
        vmap_partitioned_without_axis_name,
    ),
]

# Misuses that exist only with JAX (nnref has no raw JAX transforms to apply).
JAX_ONLY_MISUSES = [
    ("JaxTransformError", "params created inside a raw jax.vmap", jax_transform_around_bound_module),
    ("AlreadyExistsError", "save_checkpoint into a path that is a file", checkpoint_dir_is_a_file),
    ("InvalidCheckpointError", "save_checkpoint behind a later step", checkpoint_saved_at_an_earlier_step),
    ("CheckpointMismatchError", "restore into a model with other parameters", checkpoint_restored_into_another_model),
    ("CorruptCheckpointError", "restore a truncated checkpoint file", checkpoint_file_truncated),
]

# Hostile input (issue 16): wrong values at every public entry point, one module per class of
# input, run on both backends by conformance/test_hostile_inputs.py (same class, a message that
# names the offending argument, module path, variable or file).
HOSTILE_AREAS = (
    "hostile_layer_fields",
    "hostile_call_inputs",
    "hostile_variables",
    "hostile_modules_and_keys",
    "hostile_transforms",
    "hostile_files",
)


def hostile_cases(kind: str = "CASES") -> list:
    """Every hostile-input case of ``kind`` (``'CASES'`` or ``'JAX_ONLY_CASES'``), area by area."""
    return [
        case for area in HOSTILE_AREAS for case in getattr(importlib.import_module(f"conformance.{area}"), kind, ())
    ]
