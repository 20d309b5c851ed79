"""Python nested lists are accepted wherever a layer takes an array, as in the seed system.

A list gives the same parameters and the same output as the backend's own
array built from it (``nn.numpy.asarray``), on both backends.
"""

import numpy as np
import pytest

from shared_spec.tolerances import assert_close, assert_trees_close

FLOATS_2x3 = [[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]]
FLOATS_1x4x2 = [[[0.5, -1.0], [2.0, 1.5], [0.25, -0.75], [1.0, 3.0]]]
IDS = [[1, 0, 3], [2, 2, 4]]

CASES = [
    ("Dense", lambda nn: nn.Dense(4), FLOATS_2x3, None),
    ("DenseGeneral", lambda nn: nn.DenseGeneral((2, 2)), FLOATS_2x3, None),
    ("Conv", lambda nn: nn.Conv(3, (2,)), FLOATS_1x4x2, None),
    ("ConvTranspose", lambda nn: nn.ConvTranspose(3, (2,)), FLOATS_1x4x2, None),
    ("LayerNorm", lambda nn: nn.LayerNorm(), FLOATS_2x3, None),
    ("RMSNorm", lambda nn: nn.RMSNorm(), FLOATS_2x3, None),
    ("GroupNorm", lambda nn: nn.GroupNorm(num_groups=1), FLOATS_2x3, None),
    ("BatchNorm", lambda nn: nn.BatchNorm(use_running_average=False), FLOATS_2x3, ["batch_stats"]),
    ("Embed", lambda nn: nn.Embed(5, 3), IDS, None),
]


@pytest.mark.parametrize("name, make, values, mutable", CASES, ids=[c[0] for c in CASES])
def test_a_nested_list_gives_the_same_result_as_an_array(nn, name, make, values, mutable):
    layer = make(nn)
    array = nn.numpy.asarray(values)
    key = nn.random.PRNGKey(0)
    from_list = layer.init(key, values)
    from_array = layer.init(key, array)
    assert_trees_close(from_list, from_array, family="exact")
    kwargs = {"mutable": mutable} if mutable else {}
    out_list = layer.apply(from_array, values, **kwargs)
    out_array = layer.apply(from_array, array, **kwargs)
    if mutable:
        assert_trees_close(out_list[1], out_array[1], family="exact")
        out_list, out_array = out_list[0], out_array[0]
    assert np.asarray(out_list).dtype == np.asarray(out_array).dtype
    assert_close(np.asarray(out_list), np.asarray(out_array), family="exact")


@pytest.mark.parametrize("pool", ["max_pool", "avg_pool", "min_pool"])
def test_pooling_accepts_a_nested_list(nn, pool):
    fn = getattr(nn, pool)
    out_list = fn(FLOATS_1x4x2, (2,))
    out_array = fn(nn.numpy.asarray(FLOATS_1x4x2), (2,))
    assert np.asarray(out_list).shape == (1, 3, 2)
    assert_close(np.asarray(out_list), np.asarray(out_array), family="exact")


def test_a_list_of_lists_of_numbers_feeds_a_model(nn):
    class MLP(nn.Module):
        @nn.compact
        def __call__(self, x):
            return nn.Dense(2)(nn.relu(nn.Dense(4)(x)))

    variables = MLP().init(nn.random.PRNGKey(1), FLOATS_2x3)
    out = MLP().apply(variables, FLOATS_2x3)
    assert np.asarray(out).shape == (2, 2)
    assert_close(np.asarray(out), np.asarray(MLP().apply(variables, nn.numpy.asarray(FLOATS_2x3))), family="exact")
