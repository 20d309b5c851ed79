"""PReLU on nnref: a learned scalar negative slope."""

import numpy as np

import nnref as nn


def test_prelu_parameter_and_output():
    x = np.array([[-3.0, -0.5, 0.0, 2.0]], np.float32)
    variables = nn.PReLU().init(nn.random.PRNGKey(0), x)
    slope = variables["params"]["negative_slope"]
    assert slope.shape == () and slope.dtype == np.float32
    np.testing.assert_allclose(slope, 0.01)
    np.testing.assert_array_equal(nn.PReLU().apply(variables, x), np.where(x >= 0, x, slope * x))
    learned = {"params": {"negative_slope": np.float32(0.25)}}
    np.testing.assert_array_equal(nn.PReLU().apply(learned, x), np.array([[-0.75, -0.125, 0.0, 2.0]], np.float32))


def test_prelu_fields():
    variables = nn.PReLU(param_dtype=np.float64, negative_slope_init=0.2).init(nn.random.PRNGKey(0), np.ones(2))
    assert variables["params"]["negative_slope"].dtype == np.float64
    np.testing.assert_allclose(variables["params"]["negative_slope"], 0.2)
