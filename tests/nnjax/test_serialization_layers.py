"""to_bytes/from_bytes round-trips the variables of every layer nnjax exports.

Each case initializes one layer with small shapes (abstractly, with
``jax.eval_shape``, so no per-layer compilation), fills every variable of
every collection with random bit patterns of its dtype, serializes, restores
into a zero template of the same tree, and demands bit-identical arrays with
identical dtypes and shapes. One more case round-trips a real initialized
model. A coverage test fails when a Module class exported at the top level of
nnjax is neither covered here nor listed as creating no variables.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import nnjax as nn
from nnjax import serialization

KEY = jax.random.PRNGKey(0)

# SelfAttention is covered although deprecated (it is still exported).
pytestmark = pytest.mark.filterwarnings('ignore:SelfAttention is deprecated')


def _x(*shape, dtype=jnp.float32):
    return jnp.linspace(-1.0, 1.0, int(np.prod(shape)), dtype=dtype).reshape(shape)


# Each case is a function key -> variables. The round-trip test runs it
# under jax.eval_shape (tracing only: compiling a real init per layer would
# cost about a second each) and fills the resulting tree with random bit
# patterns; one further test round-trips a real, eagerly initialized model.


def _init_plain(layer, *inputs, **kwargs):
    def init(key):
        return layer.init(key, *inputs, **kwargs)

    return init


def _init_cell(cell, input_shape):
    def init(key):
        carry = cell.initialize_carry(key, input_shape)
        return cell.init(key, carry, _x(*input_shape))

    return init


def _init_rngs(layer, *inputs, **kwargs):
    def init(key):
        return layer.init({'params': key, 'dropout': key}, *inputs, **kwargs)

    return init


# (case id, the exported class it covers, a function key -> variables)
CASES = [
    ('Dense', nn.Dense, _init_plain(nn.Dense(3), _x(2, 4))),
    ('Dense-bf16', nn.Dense, _init_plain(nn.Dense(3, param_dtype=jnp.bfloat16), _x(2, 4))),
    ('DenseGeneral', nn.DenseGeneral, _init_plain(nn.DenseGeneral((2, 3), axis=(-2, -1)), _x(2, 2, 4))),
    ('Einsum', nn.Einsum, _init_plain(nn.Einsum((4, 3), 'ab,bc->ac'), _x(2, 4))),
    ('Conv', nn.Conv, _init_plain(nn.Conv(3, (2, 2)), _x(1, 4, 4, 2))),
    ('Conv-bf16', nn.Conv, _init_plain(nn.Conv(3, (2,), param_dtype=jnp.bfloat16), _x(1, 5, 2))),
    ('ConvTranspose', nn.ConvTranspose, _init_plain(nn.ConvTranspose(3, (2, 2)), _x(1, 4, 4, 2))),
    ('ConvLocal', nn.ConvLocal, _init_plain(nn.ConvLocal(2, (3,), padding='VALID'), _x(1, 6, 2))),
    ('Embed', nn.Embed, _init_plain(nn.Embed(5, 3), jnp.array([0, 4, 2]))),
    # The fp8 modules, each as the dot_general_cls of a Dense (their scales and
    # amax histories in the '_overwrite_with_gradient' collection).
    *[
        (f'Dense-{cls.__name__}', cls, _init_plain(nn.Dense(3, dot_general_cls=cls), _x(2, 4)))
        for cls in (nn.Fp8DotGeneralOp, nn.Fp8DirectDotGeneralOp, nn.NANOOFp8DotGeneralOp)
    ],
    ('Fp8Einsum', nn.Fp8Einsum, _init_plain(nn.Fp8Einsum(), 'bi,io->bo', _x(2, 4), _x(4, 3))),
    ('Embed-bf16', nn.Embed, _init_plain(nn.Embed(5, 3, param_dtype=jnp.bfloat16), jnp.array([1]))),
    ('BatchNorm', nn.BatchNorm, _init_plain(nn.BatchNorm(use_running_average=False), _x(4, 3))),
    ('LayerNorm', nn.LayerNorm, _init_plain(nn.LayerNorm(), _x(2, 3))),
    ('LayerNorm-bf16', nn.LayerNorm, _init_plain(nn.LayerNorm(param_dtype=jnp.bfloat16), _x(2, 3))),
    ('GroupNorm', nn.GroupNorm, _init_plain(nn.GroupNorm(num_groups=2), _x(2, 4))),
    ('RMSNorm', nn.RMSNorm, _init_plain(nn.RMSNorm(), _x(2, 3))),
    ('InstanceNorm', nn.InstanceNorm, _init_plain(nn.InstanceNorm(), _x(1, 3, 3, 2))),
    ('SpectralNorm', nn.SpectralNorm, _init_plain(nn.SpectralNorm(nn.Dense(3)), _x(2, 4), update_stats=True)),
    ('WeightNorm', nn.WeightNorm, _init_plain(nn.WeightNorm(nn.Dense(3)), _x(2, 4))),
    (
        'MultiHeadDotProductAttention',
        nn.MultiHeadDotProductAttention,
        _init_plain(nn.MultiHeadDotProductAttention(num_heads=2, qkv_features=4), _x(1, 3, 4)),
    ),
    (
        'MultiHeadAttention',
        nn.MultiHeadAttention,
        _init_plain(nn.MultiHeadAttention(num_heads=2, qkv_features=4), _x(1, 3, 4)),
    ),
    ('SelfAttention', nn.SelfAttention, _init_plain(nn.SelfAttention(num_heads=1, qkv_features=2), _x(1, 2, 2))),
    ('LSTMCell', nn.LSTMCell, _init_cell(nn.LSTMCell(3), (2, 4))),
    (
        'GRUCell-bf16',
        nn.GRUCell,
        _init_cell(
            nn.GRUCell(3, param_dtype=jnp.bfloat16, recurrent_kernel_init=nn.initializers.lecun_normal()), (2, 4)
        ),
    ),
    ('OptimizedLSTMCell', nn.OptimizedLSTMCell, _init_cell(nn.OptimizedLSTMCell(3), (2, 4))),
    ('GRUCell', nn.GRUCell, _init_cell(nn.GRUCell(3), (2, 4))),
    ('MGUCell', nn.MGUCell, _init_cell(nn.MGUCell(3), (2, 4))),
    ('SimpleCell', nn.SimpleCell, _init_cell(nn.SimpleCell(3), (2, 4))),
    ('ConvLSTMCell', nn.ConvLSTMCell, _init_cell(nn.ConvLSTMCell(2, (3, 3)), (1, 4, 4, 2))),
    ('RNN', nn.RNN, _init_plain(nn.RNN(nn.GRUCell(3)), _x(2, 3, 4))),
    (
        'Bidirectional',
        nn.Bidirectional,
        _init_plain(nn.Bidirectional(nn.RNN(nn.SimpleCell(2)), nn.RNN(nn.LSTMCell(2))), _x(1, 3, 2)),
    ),
    (
        'Sequential',
        nn.Sequential,
        _init_plain(nn.Sequential([nn.Dense(4), nn.relu, nn.BatchNorm(True), nn.Dense(2)]), _x(2, 3)),
    ),
    ('PReLU', nn.PReLU, _init_plain(nn.PReLU(), _x(2, 3))),
    ('PReLU-bf16', nn.PReLU, _init_plain(nn.PReLU(param_dtype=jnp.bfloat16), _x(2, 3))),
]

#: Exported Module classes that hold no variables of their own (checked below).
NO_VARIABLES = {
    nn.Module: None,  # the base class
    nn.RNNCellBase: None,  # abstract: its subclasses are covered
    nn.Dropout: _init_rngs(nn.Dropout(0.5, deterministic=False), _x(2, 3)),
}


def _exported_module_classes():
    return {value for value in vars(nn).values() if isinstance(value, type) and issubclass(value, nn.Module)}


def _random_bits(shape, dtype, rng):
    """An array of ``shape``/``dtype`` with random bit patterns (NaNs included)."""
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return rng.integers(0, 2, size=shape).astype(np.bool_)
    size = int(np.prod(shape, dtype=np.int64))
    return np.frombuffer(rng.bytes(size * dtype.itemsize), dtype=dtype).reshape(shape)


def _assert_bit_identical(restored, original, what):
    assert jax.tree_util.tree_structure(restored) == jax.tree_util.tree_structure(original), what
    flat_original = jax.tree_util.tree_leaves_with_path(original)
    flat_restored = jax.tree_util.tree_leaves(restored)
    for (path, want), got in zip(flat_original, flat_restored):
        name = f'{what}{jax.tree_util.keystr(path)}'
        got, want = np.asarray(got), np.asarray(want)
        assert got.dtype == want.dtype, f'{name}: dtype {got.dtype} != {want.dtype}'
        assert got.shape == want.shape, f'{name}: shape {got.shape} != {want.shape}'
        assert got.tobytes() == want.tobytes(), f'{name}: the bits differ'


def test_every_exported_layer_with_variables_is_covered():
    covered = {cls for _, cls, _ in CASES}
    unclassified = sorted(cls.__name__ for cls in _exported_module_classes() - covered - set(NO_VARIABLES))
    assert not unclassified, (
        f'Module classes exported by nnjax but not in this round-trip test: '
        f'{unclassified}. Add a case to CASES (or to NO_VARIABLES if the class '
        'creates no variables).'
    )


def test_layers_listed_without_variables_create_none():
    for cls, init in NO_VARIABLES.items():
        if init is not None:
            assert jax.tree_util.tree_leaves(jax.eval_shape(init, KEY)) == [], cls.__name__


@pytest.mark.parametrize('case_id, cls, init', CASES, ids=[c[0] for c in CASES])
def test_variables_round_trip_bit_exactly(case_id, cls, init):
    shapes = jax.eval_shape(init, KEY)
    assert jax.tree_util.tree_leaves(shapes), f'{case_id} made no variables'
    rng = np.random.default_rng(abs(hash(case_id)) % 2**32)
    variables = jax.tree_util.tree_map(lambda s: _random_bits(s.shape, s.dtype, rng), shapes)
    template = jax.tree_util.tree_map(lambda s: np.zeros(s.shape, s.dtype), shapes)
    data = serialization.to_bytes(variables)
    restored = serialization.from_bytes(template, data)
    _assert_bit_identical(restored, variables, case_id)
    if case_id.endswith('-bf16'):
        assert np.dtype(jnp.bfloat16) in {np.dtype(s.dtype) for s in jax.tree_util.tree_leaves(shapes)}
    # Serializing the restored tree gives the same bytes again.
    assert serialization.to_bytes(restored) == data


def test_a_real_initialized_model_round_trips_bit_exactly():
    model = nn.Sequential([nn.Dense(3), nn.BatchNorm(use_running_average=False), nn.Dense(2, param_dtype=jnp.bfloat16)])
    variables = jax.jit(model.init)(KEY, _x(2, 4))  # one compile, not one per op
    assert sorted(variables) == ['batch_stats', 'params']
    template = jax.tree_util.tree_map(jnp.zeros_like, variables)
    restored = serialization.from_bytes(template, serialization.to_bytes(variables))
    _assert_bit_identical(restored, variables, 'Sequential')
    assert restored['params']['layers_2']['kernel'].dtype == jnp.bfloat16


def test_every_collection_is_in_the_bytes():
    init = {case_id: init for case_id, _, init in CASES}['SpectralNorm']
    shapes = jax.eval_shape(init, KEY)
    variables = jax.tree_util.tree_map(lambda s: np.ones(s.shape, s.dtype), shapes)
    state = serialization.msgpack_restore(serialization.to_bytes(variables))
    assert sorted(state) == ['batch_stats', 'params']
    assert sorted(state['batch_stats']) == ['layer_instance/kernel/sigma', 'layer_instance/kernel/u']
