"""Guide 5.2.5 "Model inspection": model surgery, and extracting intermediates and their gradients.

One notebook: the surgery cells edit a CNN's parameters and Adam state through
``traverse_util``; the intermediates cells use ``sow``,
``capture_intermediates`` (with and without a filter), a ``Sequential`` and
``perturb``.
"""

from tests.guides.reasons import OUTPUT, OUTPUT_REPR, PAGE_INDENT, SHELL, indented

NOT_RUN = {
    0: ('!pip install --upgrade -q pip jax jaxlib flax', SHELL),
    3: ('FrozenDict({', OUTPUT_REPR),
    4: ('})', OUTPUT + ' (a stray closing line of cell 3)'),
    6: ("{'Conv_0/bias': (32,),", OUTPUT_REPR),
    8: ('FrozenDict({', OUTPUT_REPR),
    10: ('(ScaleByAdamState(count=(), mu=FrozenDict({', OUTPUT),
    12: ("{'Conv_0/bias': (32,),", OUTPUT_REPR),
    14: ("(ScaleByAdamState(count=(), mu={'Conv_0'", OUTPUT_REPR),
}

_CNN_CALL = """\
def __call__(self, x):
    x = nn.Conv(features=32, kernel_size=(3, 3))(x)
    x = nn.relu(x)
    x = nn.avg_pool(x, window_shape=(2, 2), strides=(2, 2))
    x = nn.Conv(features=64, kernel_size=(3, 3))(x)
    x = nn.relu(x)
    x = nn.avg_pool(x, window_shape=(2, 2), strides=(2, 2))
    x = x.reshape((x.shape[0], -1)) # flatten
    x = nn.Dense(features=256)(x)
    x = nn.relu(x)
    x = nn.Dense(features=10)(x)
    x = nn.log_softmax(x)
    return x
"""

REPAIRS = [
    (15, _CNN_CALL, indented(_CNN_CALL, 4), PAGE_INDENT),
    (
        25,
        'flattened_dict = flax.traverse_util.flatten_dict(',
        'import flax\nflattened_dict = flax.traverse_util.flatten_dict(',
        'the cell calls `flax.traverse_util` but the guide only ever imports '
        '`from flax import traverse_util` (cell 1); the repair adds the missing import line '
        '(rewritten like every import), nothing else',
    ),
]
