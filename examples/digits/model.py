"""The digits CNN, written once for either backend.

``make_cnn(nn)`` takes the backend module (``nnjax`` or ``nnref``), so the
same class body trains on nnjax and is re-evaluated, from the trained
variables, by the NumPy reference.
"""


def make_cnn(nn, dropout_rate: float = 0.3):
    """A small CNN for 8x8 digits: two conv+BatchNorm blocks, a pool, two Dense layers."""

    class CNN(nn.Module):
        """Conv-BN-relu x2, 2x2 average pool, Dense-relu-Dropout, Dense to 10 logits."""

        @nn.compact
        def __call__(self, x, *, train: bool):
            x = nn.Conv(features=32, kernel_size=(3, 3))(x)
            x = nn.BatchNorm(use_running_average=not train)(x)
            x = nn.relu(x)
            x = nn.Conv(features=64, kernel_size=(3, 3))(x)
            x = nn.BatchNorm(use_running_average=not train)(x)
            x = nn.relu(x)
            x = nn.avg_pool(x, window_shape=(2, 2), strides=(2, 2))
            x = x.reshape((x.shape[0], -1))
            x = nn.Dense(features=128)(x)
            x = nn.relu(x)
            x = nn.Dropout(rate=dropout_rate, deterministic=not train)(x)
            return nn.Dense(features=10)(x)

    return CNN()
