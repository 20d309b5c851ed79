"""nnref's ``tabulate``: eager recording, the plain-text renderer, and no FLOPs."""

import subprocess
import sys

import pytest

import nnref as nn
from nnref.summary import summary_table, tabulate
from nnref.summary_render import render_table
from shared_spec.summary_values import strip_markup


class Foo(nn.Module):
    @nn.compact
    def __call__(self, x):
        h = nn.Dense(4)(x)
        return nn.Dense(2)(h)


class Block(nn.Module):
    @nn.compact
    def __call__(self, x, *, train=False):
        x = nn.Dense(3)(x)
        return nn.BatchNorm(use_running_average=not train)(x)


class Net(nn.Module):
    @nn.compact
    def __call__(self, x):
        return nn.Dense(2)(Block()(x, train=True))


def key():
    return nn.random.PRNGKey(0)


def test_seed_foo_table_text():
    text = Foo().tabulate(key(), nn.numpy.ones((16, 9)))
    assert text.startswith('\n') and text.endswith('\n')
    assert '│         │ Foo    │ float32[16,9] │ float32[16,2] │                      │' in text
    assert '│ Dense_0 │ Dense  │ float32[16,9] │ float32[16,4] │ bias: float32[4]     │' in text
    assert '│         │        │               │         Total │ 50 (200 B)           │' in text
    assert 'Foo Summary' in text and 'Total Parameters: 50 (200 B)' in text


def test_module_method_and_function_agree():
    x = nn.numpy.ones((16, 9))
    assert Foo().tabulate(key(), x) == tabulate(Foo(), key())(x)


def test_renderer_output_contains_every_cell():
    table = summary_table(Net(), key(), (nn.numpy.ones((4, 5)),), depth=None)
    text = render_table(table, width=200)
    lines = text.splitlines()
    assert table.title in lines[1]
    for cell in [*table.columns, *(c for row in table.rows for c in row), *table.footer, table.caption]:
        for part in strip_markup(cell).split('\n'):
            assert part in text, part
    # boxes: heavy header, a rule between rows and before the footer
    assert sum(line.startswith('├') for line in lines) == len(table.rows)


def test_narrow_width_wraps_cells_inside_the_budget():
    table = summary_table(Net(), key(), (nn.numpy.ones((4, 5)),))
    wide = render_table(table, width=200)
    narrow = render_table(table, width=70)
    assert max(len(line) for line in narrow.splitlines()) <= 70
    assert len(narrow.splitlines()) > len(wide.splitlines())
    assert 'Total Parameters' in narrow


def test_console_width_is_read_and_other_rich_options_are_accepted():
    x = nn.numpy.ones((4, 5))
    text = Net().tabulate(
        key(),
        x,
        console_kwargs={'width': 60, 'force_terminal': True},
        table_kwargs={'show_edge': False},
        column_kwargs={'justify': 'right'},
    )
    assert max(len(line) for line in text.splitlines()) <= 60
    assert '\x1b[' not in text  # plain text, whatever the console options


def test_depth_and_repeated_on_eager_init():
    table = summary_table(Net(), key(), (nn.numpy.ones((4, 5)),), depth=1)
    assert [row[0] for row in table.plain_rows()] == ['', 'Block_0', 'Dense_0']
    assert table.plain_rows()[1][2] == '- float32[4,5]\n- train: True'
    assert table.footer[-2:] == ('6 (24 B)', '32 (128 B)')  # stats mean/var 3+3; 15+6 + 6+2+3


@pytest.mark.parametrize('option', ['compute_flops', 'compute_vjp_flops'])
def test_flops_are_refused_with_a_pointer_to_nnjax(option):
    with pytest.raises(ValueError, match='nnjax.tabulate'):
        tabulate(Foo(), key(), **{option: True})
    with pytest.raises(ValueError, match='cannot compute FLOPs'):
        Foo().tabulate(key(), nn.numpy.ones((1, 9)), **{option: True})


def test_summary_modules_import_neither_jax_nor_rich():
    code = (
        'import sys, nnref.summary, nnref.summary_render; '
        'bad = [m for m in ("jax", "rich") if m in sys.modules]; '
        'assert not bad, bad'
    )
    subprocess.run([sys.executable, '-c', code], check=True, cwd=str(__import__('pathlib').Path(__file__).parents[2]))
