"""nnjax's ``tabulate``: the seed's example, rich rendering options, FLOPs, eval_shape."""

import re

import jax
import jax.numpy as jnp
import pytest
import rich.box

import nnjax as nn
from nnjax.summary import summary_table, tabulate

PLAIN = {'force_terminal': False, 'width': 120}
ANSI = re.compile(r'\x1b\[[0-9;]*m')


class Foo(nn.Module):
    @nn.compact
    def __call__(self, x):
        h = nn.Dense(4)(x)
        return nn.Dense(2)(h)


def test_seed_foo_table_text():
    text = Foo().tabulate(jax.random.PRNGKey(0), jnp.ones((16, 9)), console_kwargs=PLAIN)
    assert text.startswith('\n') and text.endswith('\n')
    lines = [line.strip() for line in text.splitlines()]
    assert 'Foo Summary' in lines
    assert '│         │ Foo    │ float32[16,9] │ float32[16,2] │                      │' in text
    assert '│ Dense_0 │ Dense  │ float32[16,9] │ float32[16,4] │ bias: float32[4]     │' in text
    for expected in [
        'kernel: float32[9,4]',
        '40 (160 B)',
        'kernel: float32[4,2]',
        '10 (40 B)',
        'Total │ 50 (200 B)',
        'Total Parameters: 50 (200 B)',
    ]:
        assert expected in text


def test_module_method_and_function_agree():
    x = jnp.ones((16, 9))
    by_method = Foo().tabulate(jax.random.PRNGKey(0), x, console_kwargs=PLAIN)
    by_function = tabulate(Foo(), jax.random.PRNGKey(0), console_kwargs=PLAIN)(x)
    assert by_method == by_function


def test_default_console_is_a_terminal_with_styles():
    text = Foo().tabulate(jax.random.PRNGKey(0), jnp.ones((16, 9)))
    assert '\x1b[' in text  # force_terminal=True: dim dtypes, bold counts
    plain = ANSI.sub('', text)
    assert 'Total Parameters: 50 (200 B)' in ' '.join(plain.split())


def test_table_and_column_kwargs_reach_rich():
    text = Foo().tabulate(
        jax.random.PRNGKey(0),
        jnp.ones((16, 9)),
        console_kwargs=PLAIN,
        table_kwargs={'box': rich.box.ASCII},
        column_kwargs={'justify': 'right'},
    )
    assert '+---' in text and '|' in text and '━' not in text
    assert '|    path | module |' in text and '|    Foo |' in text  # right-justified columns


def test_forward_runs_under_eval_shape():
    seen = []

    class Probe(nn.Module):
        @nn.compact
        def __call__(self, x):
            y = nn.Dense(3)(x)
            seen.append(isinstance(y, jax.core.Tracer))
            return y

    Probe().tabulate(jax.random.PRNGKey(0), jnp.ones((2, 5)), console_kwargs=PLAIN)
    assert seen == [True]


def test_dense_flops_from_xla_cost_analysis():
    table = summary_table(
        nn.Dense(4), jax.random.PRNGKey(0), (jnp.ones((16, 9)),), compute_flops=True, compute_vjp_flops=True
    )
    assert table.columns == ('path', 'module', 'inputs', 'outputs', 'flops', 'vjp_flops', 'params')
    flops, vjp_flops = int(table.rows[0][4]), int(table.rows[0][5])
    assert flops >= 2 * 16 * 9 * 4  # the matmul alone
    assert vjp_flops >= flops


def test_flops_rows_for_each_call_and_text_columns():
    text = Foo().tabulate(jax.random.PRNGKey(0), jnp.ones((16, 9)), console_kwargs=PLAIN, compute_flops=True)
    header = next(line for line in text.splitlines() if 'path' in line)
    assert 'flops' in header and 'vjp_flops' not in header
    table = summary_table(Foo(), jax.random.PRNGKey(0), (jnp.ones((16, 9)),), compute_flops=True)
    root, dense0, dense1 = (int(row[4]) for row in table.rows)
    assert dense0 > 0 and dense1 > 0 and root >= dense0 + dense1


def test_two_collections_rngs_and_partitioning():
    class Net(nn.Module):
        @nn.compact
        def __call__(self, x, train: bool):
            init = nn.with_partitioning(nn.initializers.lecun_normal(), (None, 'model'))
            x = nn.Dense(6, kernel_init=init)(x)
            x = nn.BatchNorm(use_running_average=not train)(x)
            return nn.Dropout(0.5, deterministic=not train)(x)

    rngs = {'params': jax.random.PRNGKey(0), 'dropout': jax.random.PRNGKey(1)}
    table = summary_table(Net(), rngs, (jnp.ones((3, 5)),), {'train': True})
    assert table.columns[-2:] == ('batch_stats', 'params')
    rows = table.plain_rows()
    assert rows[0][2] == '- float32[3,5]\n- train: True'
    assert 'kernel: float32[5,6] P(None, model)' in rows[1][-1]
    assert rows[2][-2] == 'mean: float32[6]\nvar: float32[6]\n\n12 (48 B)'
    assert table.footer[-2:] == ('12 (48 B)', '48 (192 B)')


def test_mutable_and_method_go_to_init():
    class AE(nn.Module):
        def setup(self):
            self.encoder = nn.Dense(3)

        def encode(self, x):
            self.sow('intermediates', 'code', x)
            return self.encoder(x)

        def __call__(self, x):
            return self.encode(x)

    x = jnp.ones((2, 5))
    table = summary_table(AE(), jax.random.PRNGKey(0), (x,), {'method': 'encode'})
    assert table.columns[-1] == 'params' and 'intermediates' not in table.columns
    assert table.plain_rows()[0][1] == 'AE (encode)'
    text = tabulate(AE(), jax.random.PRNGKey(0), mutable=True, method='encode', console_kwargs=PLAIN)(x)
    assert 'intermediates' in text and 'AE (encode)' in text


@pytest.mark.parametrize('show_repeated,paths', [(False, ['', 'Dense_0']), (True, ['', 'Dense_0', 'Dense_0'])])
def test_show_repeated(show_repeated, paths):
    class Twice(nn.Module):
        @nn.compact
        def __call__(self, x):
            dense = nn.Dense(4)
            return dense(dense(x))

    table = summary_table(Twice(), jax.random.PRNGKey(0), (jnp.ones((2, 4)),), show_repeated=show_repeated)
    assert [row[0] for row in table.rows] == paths
    assert table.footer[-1] == '20 (80 B)'


def test_rows_inside_nn_jit_survive_its_trace_cache():
    # nn.jit reuses its traces; interceptors run at trace time, so a second
    # tabulate must not hit a trace made without its recorder.
    class Model(nn.Module):
        @nn.compact
        def __call__(self, x):
            return nn.jit(nn.Dense)(2)(nn.Dense(3)(x))

    x = jnp.ones((1, 4))
    Model().init(jax.random.PRNGKey(0), x)  # warms the cache without interceptors
    for _ in range(2):
        text = Model().tabulate(jax.random.PRNGKey(0), x, console_kwargs={'force_terminal': False})
        assert 'JitDense_0' in text
