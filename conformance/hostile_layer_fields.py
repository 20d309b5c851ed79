"""Hostile input, layer fields: sizes, windows, dilations, paddings, epsilon/momentum and Sequential members.

Each case builds a layer with one bad field inside a parent module (so the
layer sits at the module path ``'/bad'``) and initializes it; the layer
refuses the field when it first uses it, naming the path, the field, the value
received and what it expects. Pooling functions have no module path: their
messages name the argument and the input shape instead.
"""

from __future__ import annotations

import numpy as np

PATH = "'/bad'"


def _init_child(make_layer, shape=(2, 5, 4), dtype=np.float32, call=None):
    """``fn(nn)`` that initializes ``make_layer(nn)`` (named ``'bad'``) inside a parent on a ``shape`` input."""

    def fn(nn):
        class Parent(nn.Module):
            @nn.compact
            def __call__(self, x):
                layer = make_layer(nn)
                return call(layer, x) if call is not None else layer(x)

        x = np.ones(shape, dtype)
        return Parent().init(nn.random.PRNGKey(0), x)

    return fn


def _cell(cls_name, features):
    def fn(nn):
        class Parent(nn.Module):
            @nn.compact
            def __call__(self, x):
                cell = getattr(nn, cls_name)(features=features, name="bad")
                carry = cell.initialize_carry(nn.random.PRNGKey(1), x.shape)
                return cell(carry, x)

        return Parent().init(nn.random.PRNGKey(0), np.ones((2, 3), np.float32))

    return fn


CASES = [
    # --- sizes: features, num_embeddings, num_heads, recurrent features -----------------------------
    (
        "ValueError",
        "Dense features=0",
        _init_child(lambda nn: nn.Dense(0, name="bad")),
        ("Dense", PATH, "features=0", "positive int"),
    ),
    (
        "ValueError",
        "Dense features=-3",
        _init_child(lambda nn: nn.Dense(-3, name="bad")),
        ("Dense", PATH, "features=-3", "positive int"),
    ),
    (
        "TypeError",
        "Dense features=2.5 (float)",
        _init_child(lambda nn: nn.Dense(2.5, name="bad")),
        ("Dense", PATH, "features=2.5", "positive int"),
    ),
    (
        "TypeError",
        "Dense features='3' (string)",
        _init_child(lambda nn: nn.Dense("3", name="bad")),
        ("Dense", PATH, "features='3'", "positive int"),
    ),
    (
        "ValueError",
        "DenseGeneral features=(4, 0)",
        _init_child(lambda nn: nn.DenseGeneral((4, 0), name="bad")),
        ("DenseGeneral", PATH, "features=(4, 0)", "positive int"),
    ),
    (
        "ValueError",
        "Embed num_embeddings=0",
        _init_child(lambda nn: nn.Embed(0, 4, name="bad"), shape=(2, 3), dtype=np.int32),
        ("Embed", PATH, "num_embeddings=0", "positive int"),
    ),
    (
        "ValueError",
        "Embed features=-1",
        _init_child(lambda nn: nn.Embed(10, -1, name="bad"), shape=(2, 3), dtype=np.int32),
        ("Embed", PATH, "features=-1", "positive int"),
    ),
    (
        "TypeError",
        "Embed num_embeddings=10.0 (float)",
        _init_child(lambda nn: nn.Embed(10.0, 4, name="bad"), shape=(2, 3), dtype=np.int32),
        ("Embed", PATH, "num_embeddings=10.0", "positive int"),
    ),
    (
        "ValueError",
        "MultiHeadDotProductAttention num_heads=0",
        _init_child(lambda nn: nn.MultiHeadDotProductAttention(num_heads=0, name="bad")),
        ("MultiHeadDotProductAttention", PATH, "num_heads=0", "positive int"),
    ),
    (
        "TypeError",
        "MultiHeadDotProductAttention num_heads=2.0 (float)",
        _init_child(lambda nn: nn.MultiHeadDotProductAttention(num_heads=2.0, name="bad")),
        ("MultiHeadDotProductAttention", PATH, "num_heads=2.0", "positive int"),
    ),
    (
        "ValueError",
        "MultiHeadDotProductAttention qkv_features=0",
        _init_child(lambda nn: nn.MultiHeadDotProductAttention(num_heads=2, qkv_features=0, name="bad")),
        ("MultiHeadDotProductAttention", PATH, "qkv_features=0"),
    ),
    (
        "ValueError",
        "MultiHeadDotProductAttention qkv_features=6 not divisible by num_heads=4",
        _init_child(lambda nn: nn.MultiHeadDotProductAttention(num_heads=4, qkv_features=6, name="bad")),
        ("MultiHeadDotProductAttention", PATH, "qkv_features", "6", "num_heads", "4"),
    ),
    (
        "ValueError",
        "SelfAttention out_features=-2",
        _init_child(lambda nn: nn.SelfAttention(num_heads=2, out_features=-2, name="bad")),
        ("SelfAttention", PATH, "out_features=-2"),
    ),
    ("ValueError", "LSTMCell features=0", _cell("LSTMCell", 0), ("LSTMCell", PATH, "features=0", "positive int")),
    (
        "ValueError",
        "OptimizedLSTMCell features=-4",
        _cell("OptimizedLSTMCell", -4),
        ("OptimizedLSTMCell", PATH, "features=-4", "positive int"),
    ),
    (
        "TypeError",
        "GRUCell features='8' (string)",
        _cell("GRUCell", "8"),
        ("GRUCell", PATH, "features='8'", "positive int"),
    ),
    (
        "TypeError",
        "SimpleCell features=1.5 (float)",
        _cell("SimpleCell", 1.5),
        ("SimpleCell", PATH, "features=1.5", "positive int"),
    ),
    ("ValueError", "MGUCell features=0", _cell("MGUCell", 0), ("MGUCell", PATH, "features=0", "positive int")),
    # --- convolution windows ---------------------------------------------------------------------------
    (
        "ValueError",
        "Conv features=0",
        _init_child(lambda nn: nn.Conv(0, (3,), name="bad")),
        ("Conv", PATH, "features=0", "positive int"),
    ),
    (
        "ValueError",
        "Conv kernel_size=() (empty)",
        _init_child(lambda nn: nn.Conv(3, (), name="bad")),
        ("Conv", PATH, "kernel_size=()", "non-empty"),
    ),
    (
        "ValueError",
        "Conv kernel_size=(0,)",
        _init_child(lambda nn: nn.Conv(3, (0,), name="bad")),
        ("Conv", PATH, "kernel_size=(0,)", "positive"),
    ),
    (
        "ValueError",
        "Conv kernel_size=0 (int)",
        _init_child(lambda nn: nn.Conv(3, 0, name="bad")),
        ("Conv", PATH, "kernel_size=0", "positive"),
    ),
    (
        "TypeError",
        "Conv kernel_size=(2.5,) (float)",
        _init_child(lambda nn: nn.Conv(3, (2.5,), name="bad")),
        ("Conv", PATH, "kernel_size=(2.5,)", "positive"),
    ),
    (
        "ValueError",
        "Conv strides=0",
        _init_child(lambda nn: nn.Conv(3, (3,), strides=0, name="bad")),
        ("Conv", PATH, "strides=0", "positive"),
    ),
    (
        "ValueError",
        "Conv strides=(-1,)",
        _init_child(lambda nn: nn.Conv(3, (3,), strides=(-1,), name="bad")),
        ("Conv", PATH, "strides=(-1,)", "positive"),
    ),
    (
        "ValueError",
        "Conv input_dilation=0",
        _init_child(lambda nn: nn.Conv(3, (3,), padding=((1, 1),), input_dilation=0, name="bad")),
        ("Conv", PATH, "input_dilation=0", "positive"),
    ),
    (
        "ValueError",
        "Conv kernel_dilation=(-2,)",
        _init_child(lambda nn: nn.Conv(3, (3,), kernel_dilation=(-2,), name="bad")),
        ("Conv", PATH, "kernel_dilation=(-2,)", "positive"),
    ),
    (
        "ValueError",
        "Conv 2D kernel_dilation=(1, 0)",
        _init_child(lambda nn: nn.Conv(3, (2, 2), kernel_dilation=(1, 0), name="bad"), shape=(1, 4, 4, 2)),
        ("Conv", PATH, "kernel_dilation=(1, 0)", "positive"),
    ),
    (
        "ValueError",
        "Conv explicit padding ((-3, -3),) gives an empty output",
        _init_child(lambda nn: nn.Conv(3, (3,), padding=((-3, -3),), name="bad")),
        ("Conv", PATH, "padding", "non-empty", "(5,)"),
    ),
    (
        "ValueError",
        "Conv VALID padding with a kernel longer than the input",
        _init_child(lambda nn: nn.Conv(3, (7,), padding="VALID", name="bad")),
        ("Conv", PATH, "kernel_size", "non-empty", "(5,)"),
    ),
    (
        "ValueError",
        "ConvLocal strides=0",
        _init_child(lambda nn: nn.ConvLocal(3, (3,), strides=0, name="bad")),
        ("ConvLocal", PATH, "strides=0", "positive"),
    ),
    (
        "ValueError",
        "ConvTranspose kernel_size=()",
        _init_child(lambda nn: nn.ConvTranspose(3, (), name="bad")),
        ("ConvTranspose", PATH, "kernel_size=()", "non-empty"),
    ),
    (
        "ValueError",
        "ConvTranspose strides=(0,)",
        _init_child(lambda nn: nn.ConvTranspose(3, (3,), strides=(0,), name="bad")),
        ("ConvTranspose", PATH, "strides=(0,)", "positive"),
    ),
    (
        "ValueError",
        "ConvTranspose features=-1",
        _init_child(lambda nn: nn.ConvTranspose(-1, (3,), name="bad")),
        ("ConvTranspose", PATH, "features=-1", "positive int"),
    ),
    # --- pooling windows ---------------------------------------------------------------------------------
    (
        "ValueError",
        "max_pool window (7,) longer than the input (5,) with VALID padding",
        lambda nn: nn.max_pool(nn.numpy.ones((2, 5, 4)), (7,)),
        ("max_pool", "window_shape=(7,)", "non-empty", "(5,)"),
    ),
    (
        "ValueError",
        "avg_pool window (3, 9) longer than the padded input",
        lambda nn: nn.avg_pool(nn.numpy.ones((1, 4, 4, 2)), (3, 9), padding=((0, 0), (1, 1))),
        ("avg_pool", "window_shape=(3, 9)", "non-empty", "(4, 4)"),
    ),
    (
        "ValueError",
        "max_pool window_shape=(0,)",
        lambda nn: nn.max_pool(nn.numpy.ones((2, 5, 4)), (0,)),
        ("max_pool", "window_shape=(0,)", "positive"),
    ),
    (
        "ValueError",
        "avg_pool strides=(0,)",
        lambda nn: nn.avg_pool(nn.numpy.ones((2, 5, 4)), (2,), strides=(0,)),
        ("avg_pool", "strides=(0,)", "positive"),
    ),
    (
        "ValueError",
        "min_pool strides=(-1, 1)",
        lambda nn: nn.min_pool(nn.numpy.ones((1, 4, 4, 2)), (2, 2), strides=(-1, 1)),
        ("min_pool", "strides=(-1, 1)", "positive"),
    ),
    # --- epsilon and momentum ---------------------------------------------------------------------------
    (
        "ValueError",
        "BatchNorm epsilon=-1e-5",
        _init_child(lambda nn: nn.BatchNorm(use_running_average=False, epsilon=-1e-5, name="bad")),
        ("BatchNorm", PATH, "epsilon=-1e-05", ">= 0"),
    ),
    (
        "ValueError",
        "BatchNorm momentum=1.5",
        _init_child(lambda nn: nn.BatchNorm(use_running_average=False, momentum=1.5, name="bad")),
        ("BatchNorm", PATH, "momentum=1.5", "[0, 1]"),
    ),
    (
        "ValueError",
        "BatchNorm momentum=-0.1",
        _init_child(lambda nn: nn.BatchNorm(use_running_average=False, momentum=-0.1, name="bad")),
        ("BatchNorm", PATH, "momentum=-0.1", "[0, 1]"),
    ),
    (
        "TypeError",
        "BatchNorm momentum='0.9' (string)",
        _init_child(lambda nn: nn.BatchNorm(use_running_average=False, momentum="0.9", name="bad")),
        ("BatchNorm", PATH, "momentum='0.9'", "[0, 1]"),
    ),
    (
        "ValueError",
        "LayerNorm epsilon=-1e-6",
        _init_child(lambda nn: nn.LayerNorm(epsilon=-1e-6, name="bad")),
        ("LayerNorm", PATH, "epsilon=-1e-06", ">= 0"),
    ),
    (
        "ValueError",
        "RMSNorm epsilon=-1.0",
        _init_child(lambda nn: nn.RMSNorm(epsilon=-1.0, name="bad")),
        ("RMSNorm", PATH, "epsilon=-1.0", ">= 0"),
    ),
    (
        "ValueError",
        "GroupNorm epsilon=nan",
        _init_child(lambda nn: nn.GroupNorm(num_groups=2, epsilon=float("nan"), name="bad")),
        ("GroupNorm", PATH, "epsilon=nan", ">= 0"),
    ),
    (
        "ValueError",
        "InstanceNorm epsilon=-0.5",
        _init_child(lambda nn: nn.InstanceNorm(epsilon=-0.5, name="bad")),
        ("InstanceNorm", PATH, "epsilon=-0.5", ">= 0"),
    ),
    # --- Sequential members -----------------------------------------------------------------------------
    (
        "TypeError",
        "Sequential with an int member",
        _init_child(lambda nn: nn.Sequential([nn.Dense(3), 3], name="bad")),
        ("Sequential", PATH, "layers[1]=3", "callable"),
    ),
    (
        "TypeError",
        "Sequential with a string member",
        _init_child(lambda nn: nn.Sequential(["relu", nn.Dense(3)], name="bad")),
        ("Sequential", PATH, "layers[0]='relu'", "callable"),
    ),
    (
        "TypeError",
        "Sequential with None between layers",
        _init_child(lambda nn: nn.Sequential([nn.Dense(3), None, nn.relu], name="bad")),
        ("Sequential", PATH, "layers[1]=None", "callable"),
    ),
]

JAX_ONLY_CASES = []
