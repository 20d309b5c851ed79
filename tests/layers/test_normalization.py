"""Normalization layers on both backends: trees, the documented formulas, running stats, axes, masks, wrappers, misuse."""

import importlib

import numpy as np
import pytest

from shared_spec import errors
from shared_spec.rng_rules import suffix_hash
from shared_spec.tolerances import assert_close, assert_trees_close


def L(nn):
    """The backend's normalization module (``L(nn).LayerNorm`` etc.)."""
    return importlib.import_module(f"{nn.__name__}.layers.normalization")


def _np(tree):
    if isinstance(tree, dict):
        return {k: _np(v) for k, v in tree.items()}
    return np.asarray(tree)


def _shapes(tree):
    if isinstance(tree, dict):
        return {k: _shapes(v) for k, v in tree.items()}
    return tuple(np.shape(tree))


def _data(shape, seed=0, offset=0.5, scale=2.0):
    return (offset + scale * np.random.default_rng(seed).standard_normal(shape)).astype(np.float32)


def _x(nn, shape, seed=0, **kw):
    return nn.numpy.asarray(_data(shape, seed, **kw))


def _expected_norm(x, reduction_axes, epsilon, mask=None, center=True):
    """``(x - mean) / sqrt(var + eps)`` in float64 (the documented formula, two-pass)."""
    x = np.asarray(x, np.float64)
    where = True if mask is None else np.broadcast_to(mask, x.shape)
    mean = np.mean(x, axis=reduction_axes, where=where, keepdims=True) if center else 0.0
    var = np.mean(np.square(x - mean), axis=reduction_axes, where=where, keepdims=True)
    return (x - mean) / np.sqrt(var + epsilon)


# -- variable trees --------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, shape, expected",
    [
        (lambda m: m.LayerNorm(), (2, 3, 5), {"params": {"scale": (5,), "bias": (5,)}}),
        (
            lambda m: m.LayerNorm(reduction_axes=(1, 2), feature_axes=(1, 2)),
            (2, 3, 5),
            {"params": {"scale": (3, 5), "bias": (3, 5)}},
        ),
        (lambda m: m.LayerNorm(use_bias=False, use_scale=False), (2, 3), {}),
        (lambda m: m.RMSNorm(), (2, 3, 5), {"params": {"scale": (5,)}}),
        (lambda m: m.GroupNorm(num_groups=2), (2, 3, 4), {"params": {"scale": (4,), "bias": (4,)}}),
        (lambda m: m.InstanceNorm(feature_axes=(1, 2)), (2, 3, 4), {"params": {"scale": (3, 4), "bias": (3, 4)}}),
        (
            lambda m: m.BatchNorm(use_running_average=False),
            (4, 3),
            {"params": {"scale": (3,), "bias": (3,)}, "batch_stats": {"mean": (3,), "var": (3,)}},
        ),
        (
            lambda m: m.BatchNorm(use_running_average=True, axis=(1, 2), use_scale=False),
            (4, 3, 2),
            {"params": {"bias": (3, 2)}, "batch_stats": {"mean": (3, 2), "var": (3, 2)}},
        ),
    ],
)
def test_variable_names_shapes_and_initial_values(nn, make, shape, expected):
    layer = make(L(nn))
    variables = _np(layer.init(nn.random.PRNGKey(0), _x(nn, shape)))
    assert _shapes(variables) == expected
    ones = {"scale", "var"}
    for col in variables.values():
        for name, value in col.items():
            assert value.dtype == np.float32
            assert_close(value, np.full(value.shape, 1.0 if name in ones else 0.0, np.float32), family="exact")


# -- the formulas ----------------------------------------------------------------------


@pytest.mark.parametrize("fast, reduction_axes", [(True, -1), (False, (1, 2)), (True, (0, 2)), (False, -1)])
def test_layernorm_is_the_documented_formula(nn, fast, reduction_axes):
    x = _x(nn, (3, 4, 5))
    layer = L(nn).LayerNorm(reduction_axes=reduction_axes, feature_axes=-1, epsilon=1e-3, use_fast_variance=fast)
    variables = layer.init(nn.random.PRNGKey(0), x)
    scale = np.linspace(0.5, 1.5, 5).astype(np.float32)
    bias = np.linspace(-1, 1, 5).astype(np.float32)
    y = layer.apply({"params": {"scale": scale, "bias": bias}}, x)
    assert y.dtype == np.float32 and sorted(variables["params"]) == ["bias", "scale"]
    axes = (reduction_axes,) if isinstance(reduction_axes, int) else reduction_axes
    expected = _expected_norm(x, axes, 1e-3) * scale + bias
    assert_close(y, expected, family="normalization", dtype="float32")


def test_rmsnorm_does_not_center(nn):
    x = _x(nn, (3, 6), offset=3.0)
    y = L(nn).RMSNorm(epsilon=1e-4).apply({"params": {"scale": np.full(6, 2.0, np.float32)}}, x)
    x64 = np.asarray(x, np.float64)
    expected = 2.0 * x64 / np.sqrt(np.mean(x64**2, axis=-1, keepdims=True) + 1e-4)
    assert_close(y, expected, family="normalization", dtype="float32")


def test_fast_variance_cancels_where_the_two_pass_formula_does_not(nn):
    # A large mean next to a small spread: E[x^2] - E[x]^2 loses the spread in
    # float32, the two-pass formula keeps it. This is the seed's documented trade.
    x = nn.numpy.asarray((30.0 + 0.5 * np.random.default_rng(1).standard_normal((2, 64))).astype(np.float32))
    expected = _expected_norm(x, (-1,), 1e-6)
    plain = dict(use_bias=False, use_scale=False, epsilon=1e-6)
    two_pass = L(nn).LayerNorm(use_fast_variance=False, **plain).apply({}, x)
    fast = L(nn).LayerNorm(use_fast_variance=True, **plain).apply({}, x)
    assert_close(two_pass, expected, family="normalization", dtype="float32")
    with pytest.raises(AssertionError):
        assert_close(fast, expected, family="normalization", dtype="float32")


def test_fast_variance_is_clipped_at_zero(nn):
    # Constant rows whose float32 E[x^2] rounds below E[x]^2: without the clip
    # at zero, rsqrt(var + 1e-12) of a negative var would be NaN.
    value = np.float32(0.1)
    row = np.full(7, value, np.float32)
    assert np.mean(row * row) - np.square(np.mean(row)) < 0  # the case the clip exists for
    x = nn.numpy.asarray(np.tile(row, (3, 1)))
    y = np.asarray(L(nn).LayerNorm(use_bias=False, use_scale=False, epsilon=1e-12).apply({}, x))
    assert_close(np.isfinite(y), np.ones(y.shape, bool), family="exact")


def test_groupnorm_statistics_are_per_example_per_group(nn):
    x = _x(nn, (2, 3, 6))
    y = L(nn).GroupNorm(num_groups=3, epsilon=1e-5, use_bias=False, use_scale=False).apply({}, x)
    grouped = np.asarray(x, np.float64).reshape(2, 3, 3, 2)
    expected = _expected_norm(grouped, (1, 3), 1e-5).reshape(2, 3, 6)
    assert_close(y, expected, family="normalization", dtype="float32")


def test_groupnorm_num_groups_and_group_size_agree(nn):
    x = _x(nn, (2, 3, 6))
    variables = L(nn).GroupNorm(num_groups=3).init(nn.random.PRNGKey(0), x)
    a = L(nn).GroupNorm(num_groups=3).apply(variables, x)
    b = L(nn).GroupNorm(num_groups=None, group_size=2).apply(variables, x)
    assert_close(a, b, family="exact")


def test_groupnorm_special_cases_are_layernorm_and_instancenorm(nn):
    x = _x(nn, (2, 3, 4, 6))
    m = L(nn)
    variables = m.LayerNorm().init(nn.random.PRNGKey(0), x)
    one_group = m.GroupNorm(num_groups=1).apply(variables, x)
    layer = m.LayerNorm(reduction_axes=(1, 2, 3)).apply(variables, x)
    assert_close(one_group, layer, family="normalization")
    per_channel = m.GroupNorm(num_groups=None, group_size=1).apply(variables, x)
    instance = m.InstanceNorm().apply(variables, x)
    assert_close(per_channel, instance, family="normalization")


def test_instancenorm_reduces_all_but_batch_and_features(nn):
    x = _x(nn, (2, 3, 4, 5))
    y = L(nn).InstanceNorm(feature_axes=(1, 3), use_bias=False, use_scale=False, epsilon=1e-5).apply({}, x)
    assert_close(y, _expected_norm(x, (2,), 1e-5), family="normalization", dtype="float32")


# -- masks ------------------------------------------------------------------------------


def test_mask_selects_the_entries_that_count(nn):
    x = _x(nn, (3, 8))
    mask = np.zeros((3, 8), bool)
    mask[:, :5] = True
    layer = L(nn).LayerNorm(use_bias=False, use_scale=False, epsilon=1e-5)
    y = np.asarray(layer.apply({}, x, mask=nn.numpy.asarray(mask)))
    on_subset = np.asarray(layer.apply({}, x[:, :5]))
    assert_close(y[:, :5], on_subset, family="normalization")
    assert_close(y, _expected_norm(x, (-1,), 1e-5, mask=mask), family="normalization", dtype="float32")


def test_groupnorm_and_batchnorm_take_masks(nn):
    x = _x(nn, (4, 6))
    mask = np.random.default_rng(3).random((4, 6)) > 0.3
    mask[0] = True
    y = (
        L(nn)
        .GroupNorm(num_groups=2, use_bias=False, use_scale=False, epsilon=1e-5)
        .apply({}, x, mask=nn.numpy.asarray(mask))
    )
    grouped = np.asarray(x).reshape(4, 2, 3)
    expected = _expected_norm(grouped, (2,), 1e-5, mask=mask.reshape(4, 2, 3)).reshape(4, 6)
    assert_close(y, expected, family="normalization", dtype="float32")
    bn = L(nn).BatchNorm(use_running_average=False, use_bias=False, use_scale=False)
    variables = bn.init(nn.random.PRNGKey(0), x)
    y, updates = bn.apply(variables, x, mask=nn.numpy.asarray(mask), mutable=["batch_stats"])
    assert_close(y, _expected_norm(x, (0,), 1e-5, mask=mask), family="normalization", dtype="float32")
    masked_mean = np.mean(np.asarray(x, np.float64), axis=0, where=mask)
    assert_close(updates["batch_stats"]["mean"], 0.01 * masked_mean, family="normalization", dtype="float32")


# -- BatchNorm state -------------------------------------------------------------------


def test_batchnorm_init_does_not_move_the_running_stats(nn):
    x = _x(nn, (8, 3))
    variables = _np(L(nn).BatchNorm(use_running_average=False).init(nn.random.PRNGKey(0), x))
    assert_close(variables["batch_stats"]["mean"], np.zeros(3, np.float32), family="exact")
    assert_close(variables["batch_stats"]["var"], np.ones(3, np.float32), family="exact")


@pytest.mark.parametrize("fast", [True, False])
def test_batchnorm_training_uses_batch_stats_and_moves_the_averages(nn, fast):
    x = _x(nn, (8, 2, 3))
    bn = L(nn).BatchNorm(use_running_average=False, momentum=0.8, use_fast_variance=fast)
    variables = bn.init(nn.random.PRNGKey(0), x)
    old_mean = np.float32([0.5, -0.5, 1.0])
    old_var = np.float32([2.0, 1.0, 0.5])
    variables = {"params": variables["params"], "batch_stats": {"mean": old_mean, "var": old_var}}
    y, updates = bn.apply(variables, x, mutable=["batch_stats"])
    assert set(updates) == {"batch_stats"}
    x64 = np.asarray(x, np.float64)
    assert_close(y, _expected_norm(x, (0, 1), 1e-5), family="normalization", dtype="float32")
    assert_close(
        updates["batch_stats"]["mean"], 0.8 * old_mean + 0.2 * x64.mean((0, 1)), family="normalization", dtype="float32"
    )
    assert_close(
        updates["batch_stats"]["var"], 0.8 * old_var + 0.2 * x64.var((0, 1)), family="normalization", dtype="float32"
    )


def test_batchnorm_evaluation_uses_the_stored_stats(nn):
    x = _x(nn, (5, 3))
    stats = {"mean": np.float32([1.0, 0.0, -1.0]), "var": np.float32([4.0, 1.0, 0.25])}
    params = {"scale": np.float32([1.0, 2.0, 3.0]), "bias": np.float32([0.0, 1.0, 0.0])}
    y = L(nn).BatchNorm(use_running_average=True, epsilon=0.0).apply({"params": params, "batch_stats": stats}, x)
    expected = (np.asarray(x, np.float64) - stats["mean"]) / np.sqrt(stats["var"]) * params["scale"] + params["bias"]
    assert_close(y, expected, family="normalization", dtype="float32")
    # Read-only batch_stats are fine in evaluation: nothing is written.
    y2, updates = (
        L(nn)
        .BatchNorm()
        .apply({"params": params, "batch_stats": stats}, x, use_running_average=True, mutable=["batch_stats"])
    )
    assert_trees_close(_np(updates), {"batch_stats": stats}, family="exact")


def test_batchnorm_training_needs_mutable_batch_stats(nn):
    x = _x(nn, (4, 3))
    bn = L(nn).BatchNorm(use_running_average=False)
    variables = bn.init(nn.random.PRNGKey(0), x)
    with pytest.raises(errors.ModifyScopeVariableError):
        bn.apply(variables, x)


def test_batchnorm_use_running_average_exactly_once(nn):
    x = _x(nn, (4, 3))
    with pytest.raises(ValueError, match="use_running_average"):
        L(nn).BatchNorm().init(nn.random.PRNGKey(0), x)
    with pytest.raises(ValueError, match="use_running_average"):
        L(nn).BatchNorm(use_running_average=True).init(nn.random.PRNGKey(0), x, use_running_average=False)


def test_batchnorm_half_precision_inputs_keep_float32_stats(nn):
    x = nn.numpy.asarray(_data((6, 4)).astype(nn.numpy.bfloat16))
    bn = L(nn).BatchNorm(use_running_average=False)
    variables = bn.init(nn.random.PRNGKey(0), x)
    y, updates = bn.apply(variables, x, mutable=["batch_stats"])
    # The result dtype is promoted from the input and the float32 params...
    assert np.asarray(y).dtype == np.float32
    assert np.asarray(updates["batch_stats"]["var"]).dtype == np.float32
    expected = _expected_norm(np.asarray(x, np.float32), (0,), 1e-5)
    assert_close(y, expected, family="normalization", dtype="float32")
    # ... unless dtype asks for another one.
    y16 = (
        L(nn)
        .BatchNorm(use_running_average=True, dtype=nn.numpy.bfloat16)
        .apply(updates | {"params": variables["params"]}, x)
    )
    assert np.asarray(y16).dtype == np.dtype(nn.numpy.bfloat16)


def test_batchnorm_ignores_axis_name_during_init(nn):
    x = _x(nn, (4, 3))
    variables = L(nn).BatchNorm(use_running_average=False, axis_name="batch").init(nn.random.PRNGKey(0), x)
    assert _shapes(variables)["batch_stats"] == {"mean": (3,), "var": (3,)}


def test_nnref_has_no_named_axes_and_says_so():
    import nnref as nn

    x = _x(nn, (4, 3))
    bn = L(nn).BatchNorm(use_running_average=False, axis_name="batch")
    variables = bn.init(nn.random.PRNGKey(0), x)
    with pytest.raises(ValueError, match="BatchNorm: axis_name='batch'.*Fix"):
        bn.apply(variables, x, mutable=["batch_stats"])
    with pytest.raises(ValueError, match="LayerNorm: axis_name='batch'"):
        L(nn).LayerNorm(axis_name="batch").init(nn.random.PRNGKey(0), x)


def test_nnjax_axis_name_averages_over_the_mapped_axis():
    jax = pytest.importorskip("jax")
    import nnjax
    import nnref

    x = _data((4, 6, 3))  # 4 shards of 6 examples
    bn_j = L(nnjax).BatchNorm(use_running_average=False, axis_name="shards", momentum=0.5)
    variables = bn_j.init(jax.random.PRNGKey(0), x[0])

    def step(shard):
        return bn_j.apply(variables, shard, mutable=["batch_stats"])

    y, updates = jax.vmap(step, axis_name="shards")(x)
    # The reference normalizes the whole batch at once: the same statistics.
    bn_r = L(nnref).BatchNorm(use_running_average=False, momentum=0.5)
    y_ref, updates_ref = bn_r.apply(_np(variables), x.reshape(24, 3), mutable=["batch_stats"])
    assert_close(np.asarray(y).reshape(24, 3), y_ref, family="normalization")
    for shard in range(4):
        assert_trees_close(
            jax.tree_util.tree_map(lambda a, shard=shard: np.asarray(a)[shard], updates),
            updates_ref,
            family="normalization",
        )
    # pmap over the one CPU device: a named axis of size 1 is the plain batch.
    y1, _ = jax.pmap(step, axis_name="shards")(x[:1])
    y1_ref, _ = bn_r.apply(_np(variables), x[0], mutable=["batch_stats"])
    assert_close(np.asarray(y1)[0], y1_ref, family="normalization")
    # axis_index_groups go to lax.pmean (pmap supports them; vmap does not).
    ln = L(nnjax).LayerNorm(axis_name="shards", axis_index_groups=[[0]])
    y2 = jax.pmap(
        lambda s: ln.apply({"params": {"scale": np.ones(3, np.float32), "bias": np.zeros(3, np.float32)}}, s),
        axis_name="shards",
    )(x[:1])
    assert_close(np.asarray(y2)[0], _expected_norm(x[0], (-1,), 1e-6), family="normalization", dtype="float32")


def test_nnjax_layers_compose_with_jit_and_grad():
    jax = pytest.importorskip("jax")
    import nnjax

    x = _data((4, 5))
    layer = L(nnjax).LayerNorm()
    variables = layer.init(jax.random.PRNGKey(0), x)
    y = jax.jit(layer.apply)(variables, x)
    assert_close(y, layer.apply(variables, x), family="normalization")
    grads = jax.grad(lambda v: (layer.apply(v, x) ** 2).sum())(variables)
    assert _shapes(grads) == _shapes(variables)


# -- misuse ------------------------------------------------------------------------------


def test_groupnorm_misuse_names_the_field_and_the_fix(nn):
    x = _x(nn, (2, 6))
    G = L(nn).GroupNorm
    with pytest.raises(ValueError, match="GroupNorm: give exactly one of num_groups and group_size.*num_groups=None"):
        G(group_size=2).init(nn.random.PRNGKey(0), x)
    with pytest.raises(ValueError, match="GroupNorm: give exactly one"):
        G(num_groups=None).init(nn.random.PRNGKey(0), x)
    with pytest.raises(ValueError, match="GroupNorm: num_groups=4 does not divide the 6 channels"):
        G(num_groups=4).init(nn.random.PRNGKey(0), x)
    with pytest.raises(ValueError, match="GroupNorm: num_groups=32"):
        G().init(nn.random.PRNGKey(0), x)
    with pytest.raises(ValueError, match="GroupNorm: group_size=4 does not divide"):
        G(num_groups=None, group_size=4).init(nn.random.PRNGKey(0), x)
    with pytest.raises(ValueError, match="GroupNorm: reduction_axes=.*must include the last axis"):
        G(num_groups=2, reduction_axes=(0,)).init(nn.random.PRNGKey(0), x)


def test_instancenorm_rejects_the_batch_axis_as_a_feature_axis(nn):
    with pytest.raises(ValueError, match="InstanceNorm: feature_axes=.*batch axis"):
        L(nn).InstanceNorm(feature_axes=(0, -1)).init(nn.random.PRNGKey(0), _x(nn, (2, 3)))


def test_wrong_parameter_shape_is_the_catalogue_error(nn):
    x = _x(nn, (2, 3))
    variables = L(nn).LayerNorm().init(nn.random.PRNGKey(0), _x(nn, (2, 4)))
    with pytest.raises(errors.ScopeParamShapeError):
        L(nn).LayerNorm().apply(variables, x)


# -- SpectralNorm -------------------------------------------------------------------------


def _raw_dense(nn, key, x, features):
    """The kernel a Dense child named 'layer_instance' of the root draws: what the wrappers wrap."""

    class Holder(nn.Module):
        @nn.compact
        def __call__(self, x):
            return nn.Dense(features, name="layer_instance")(x)

    return _np(Holder().init(key, x))["params"]["layer_instance"]


def test_spectralnorm_variables_follow_the_seed(nn):
    x = _x(nn, (2, 3))
    key = nn.random.PRNGKey(7)
    layer = L(nn).SpectralNorm(nn.Dense(4))
    variables = _np(layer.init(key, x, update_stats=False))
    assert _shapes(variables) == {
        "params": {"layer_instance": {"kernel": (3, 4), "bias": (4,)}},
        "batch_stats": {"layer_instance/kernel/u": (1, 4), "layer_instance/kernel/sigma": ()},
    }
    # u: a standard normal draw from the wrapper's own first 'params' key.
    u = nn.random.normal(nn.random.fold_in(key, suffix_hash((1,))), (1, 4))
    assert_close(variables["batch_stats"]["layer_instance/kernel/u"], u, family="exact")
    assert_close(variables["batch_stats"]["layer_instance/kernel/sigma"], np.float32(1), family="exact")
    # As in the seed, init stores the wrapped kernel divided by the sigma estimate.
    raw = _raw_dense(nn, key, x, 4)
    u0 = np.asarray(u, np.float64)
    v0 = u0 @ raw["kernel"].T
    v0 /= np.linalg.norm(v0)
    u1 = v0 @ raw["kernel"]
    u1 /= np.linalg.norm(u1)
    sigma = (v0 @ raw["kernel"] @ u1.T)[0, 0]
    assert_close(
        variables["params"]["layer_instance"]["kernel"], raw["kernel"] / sigma, family="normalization", dtype="float32"
    )
    assert_close(variables["params"]["layer_instance"]["bias"], raw["bias"], family="exact")


def test_spectralnorm_update_stats_and_power_iteration_converge(nn):
    x = _x(nn, (2, 3))
    layer = L(nn).SpectralNorm(nn.Dense(4), n_steps=1)
    variables = layer.init(nn.random.PRNGKey(0), x, update_stats=False)
    kernel = np.asarray(variables["params"]["layer_instance"]["kernel"], np.float64)
    # update_stats=False leaves u and sigma alone (even when mutable).
    _, same = layer.apply(variables, x, update_stats=False, mutable=["batch_stats"])
    assert_trees_close(_np(same["batch_stats"]), _np(variables["batch_stats"]), family="exact")
    # Repeated updating steps: sigma approaches the largest singular value.
    for _ in range(40):
        y, updates = layer.apply(variables, x, update_stats=True, mutable=["batch_stats"])
        variables = {"params": variables["params"], "batch_stats": updates["batch_stats"]}
    top = np.linalg.svd(kernel, compute_uv=False)[0]
    assert_close(updates["batch_stats"]["layer_instance/kernel/sigma"], np.float32(top), family="normalization")
    bias = np.asarray(variables["params"]["layer_instance"]["bias"], np.float64)
    assert_close(y, np.asarray(x, np.float64) @ (kernel / top) + bias, family="normalization", dtype="float32")


def test_spectralnorm_update_needs_a_mutable_collection(nn):
    x = _x(nn, (2, 3))
    layer = L(nn).SpectralNorm(nn.Dense(4))
    variables = layer.init(nn.random.PRNGKey(0), x, update_stats=True)
    with pytest.raises(errors.ModifyScopeVariableError):
        layer.apply(variables, x, update_stats=True)
    layer.apply(variables, x, update_stats=False)  # evaluation needs nothing mutable


def test_spectralnorm_higher_rank_weights(nn):
    class Tensor(nn.Module):
        @nn.compact
        def __call__(self, x):
            w = self.param("w", nn.initializers.lecun_normal(), (2, x.shape[-1], 3))
            return nn.numpy.einsum("bi,kio->bko", x, w)

    x = _x(nn, (2, 4))
    variables = L(nn).SpectralNorm(Tensor()).init(nn.random.PRNGKey(0), x, update_stats=True)
    assert _shapes(variables["batch_stats"]) == {"layer_instance/w/u": (1, 3), "layer_instance/w/sigma": ()}
    with pytest.raises(ValueError, match="SpectralNorm: weight 'layer_instance/w' is 3-D but error_on_non_matrix"):
        L(nn).SpectralNorm(Tensor(), error_on_non_matrix=True).init(nn.random.PRNGKey(0), x, update_stats=True)


def test_wrappers_inside_a_compact_parent_keep_the_layer_where_it_was_made(nn):
    SN, WN = L(nn).SpectralNorm, L(nn).WeightNorm

    class Foo(nn.Module):
        @nn.compact
        def __call__(self, x, train):
            x = nn.Dense(3)(x)
            x = SN(nn.Dense(4))(x, update_stats=train)
            x = nn.Dense(5)(x)
            return WN(nn.Dense(2))(x)

    variables = Foo().init(nn.random.PRNGKey(0), _x(nn, (1, 2)), train=False)
    assert _shapes(variables) == {
        "params": {
            "Dense_0": {"kernel": (2, 3), "bias": (3,)},
            "Dense_1": {"kernel": (3, 4), "bias": (4,)},
            "Dense_2": {"kernel": (4, 5), "bias": (5,)},
            "Dense_3": {"kernel": (5, 2), "bias": (2,)},
            "WeightNorm_0": {"Dense_3/kernel/scale": (2,)},
        },
        "batch_stats": {"SpectralNorm_0": {"Dense_1/kernel/u": (1, 4), "Dense_1/kernel/sigma": ()}},
    }


# -- WeightNorm ---------------------------------------------------------------------------


def test_weightnorm_normalizes_kernel_columns_and_scales_them(nn):
    x = _x(nn, (2, 3))
    key = nn.random.PRNGKey(4)
    layer = L(nn).WeightNorm(nn.Dense(4))
    variables = _np(layer.init(key, x))
    assert _shapes(variables) == {
        "params": {"layer_instance": {"kernel": (3, 4), "bias": (4,)}, "layer_instance/kernel/scale": (4,)}
    }
    raw = _raw_dense(nn, key, x, 4)
    unit = raw["kernel"] / np.linalg.norm(raw["kernel"].astype(np.float64), axis=0, keepdims=True)
    # As in the seed, init stores the normalized kernel.
    assert_close(variables["params"]["layer_instance"]["kernel"], unit, family="normalization", dtype="float32")
    scale = np.float32([1.0, 2.0, 0.5, 3.0])
    params = {"layer_instance": {"kernel": raw["kernel"], "bias": raw["bias"]}, "layer_instance/kernel/scale": scale}
    y = layer.apply({"params": params}, x)
    assert_close(y, np.asarray(x, np.float64) @ (unit * scale) + raw["bias"], family="normalization", dtype="float32")


def test_weightnorm_filter_and_feature_axes(nn):
    x = _x(nn, (2, 3))
    key = nn.random.PRNGKey(4)
    everything = L(nn).WeightNorm(nn.Dense(4), variable_filter=None, feature_axes=None)
    variables = _np(everything.init(key, x))
    assert _shapes(variables["params"]) == {
        "layer_instance": {"kernel": (3, 4), "bias": (4,)},
        "layer_instance/bias/scale": (),
        "layer_instance/kernel/scale": (),
    }
    raw = _raw_dense(nn, key, x, 4)
    frob = raw["kernel"] / np.linalg.norm(raw["kernel"].astype(np.float64))
    assert_close(variables["params"]["layer_instance"]["kernel"], frob, family="normalization", dtype="float32")
    # A filter is a substring test on '<layer>/<path>': 'layer' selects every weight here.
    by_name = _np(L(nn).WeightNorm(nn.Dense(4), variable_filter={"layer"}, use_scale=False).init(key, x))
    assert _shapes(by_name["params"]) == {"layer_instance": {"kernel": (3, 4), "bias": (4,)}}
    unit_bias = raw["bias"] / np.sqrt(raw["bias"].astype(np.float64) ** 2 + 1e-12)
    assert_close(by_name["params"]["layer_instance"]["bias"], unit_bias, family="normalization", dtype="float32")
    untouched = _np(L(nn).WeightNorm(nn.Dense(4), variable_filter={"nothing"}).init(key, x))
    assert_trees_close(untouched["params"], {"layer_instance": raw}, family="exact")
