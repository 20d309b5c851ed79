"""The backend-neutral summary table: formatting helpers and the table rules."""

import doctest

import numpy as np
import pytest

from shared_spec import summary_table as st
from shared_spec import summary_values as sv
from shared_spec.summary_table import CallRecord, build_summary_table
from shared_spec.summary_values import (
    ArraySpec,
    BoxedArraySpec,
    bytes_repr,
    describe_value,
    escape_markup,
    size_and_bytes,
    size_and_bytes_repr,
    strip_markup,
    yaml_block,
)


def f32(*shape):
    return np.zeros(shape, np.float32)


def call(path, module_type='Dense', method='__call__', args=(), kwargs=None, out=None, **flops):
    record = CallRecord.of(path, module_type, method, args, kwargs or {}, out)
    return CallRecord(record.path, record.module_type, record.method, record.inputs, record.outputs, **flops)


# -- the seed's Foo example, numbers derived by hand -------------------------------


def seed_foo_table(**options):
    calls = [
        call((), 'Foo', args=(f32(16, 9),), out=f32(16, 2)),
        call(('Dense_0',), args=(f32(16, 9),), out=f32(16, 4)),
        call(('Dense_1',), args=(f32(16, 4),), out=f32(16, 2)),
    ]
    # Insertion order deliberately unsorted: the table sorts keys as JAX does.
    variables = {
        'params': {'Dense_1': {'kernel': f32(4, 2), 'bias': f32(2)}, 'Dense_0': {'kernel': f32(9, 4), 'bias': f32(4)}}
    }
    return build_summary_table('Foo', calls, variables, **options)


def test_seed_foo_table_matches_the_hand_derived_numbers():
    table = seed_foo_table()
    assert table.title == 'Foo Summary'
    assert table.columns == ('path', 'module', 'inputs', 'outputs', 'params')
    # Dense(4) on 9 features: 9*4 + 4 = 40 floats = 160 bytes; Dense(2) on 4: 4*2 + 2 = 10 = 40 B.
    assert table.rows == (
        ('', 'Foo', '[dim]float32[/dim][16,9]', '[dim]float32[/dim][16,2]', ''),
        (
            'Dense_0',
            'Dense',
            '[dim]float32[/dim][16,9]',
            '[dim]float32[/dim][16,4]',
            'bias: [dim]float32[/dim][4]\nkernel: [dim]float32[/dim][9,4]\n\n[bold]40 (160 B)[/bold]',
        ),
        (
            'Dense_1',
            'Dense',
            '[dim]float32[/dim][16,4]',
            '[dim]float32[/dim][16,2]',
            'bias: [dim]float32[/dim][2]\nkernel: [dim]float32[/dim][4,2]\n\n[bold]10 (40 B)[/bold]',
        ),
    )
    assert table.footer == ('', '', '', 'Total', '50 (200 B)')
    assert table.total_column == 3
    assert table.caption == '\nTotal Parameters: 50 (200 B)'


def test_flops_columns_come_only_when_asked_and_before_the_collections():
    calls = [call((), 'Foo', args=(f32(2),), out=f32(2), flops=7, vjp_flops=21)]
    variables = {'params': {'w': f32(2)}, 'batch_stats': {'m': f32(2)}}
    plain = build_summary_table('Foo', calls, variables)
    assert plain.columns == ('path', 'module', 'inputs', 'outputs', 'batch_stats', 'params')
    both = build_summary_table('Foo', calls, variables, show_flops=True, show_vjp_flops=True)
    assert both.columns == ('path', 'module', 'inputs', 'outputs', 'flops', 'vjp_flops', 'batch_stats', 'params')
    assert both.rows[0][4:6] == ('7', '21')
    assert both.total_column == 5 and both.footer[5] == 'Total'
    only_vjp = build_summary_table('Foo', calls, variables, show_vjp_flops=True)
    assert only_vjp.columns[4] == 'vjp_flops' and only_vjp.rows[0][4] == '21'


def test_method_other_than_call_is_named_dimmed():
    table = build_summary_table('AE', [call((), 'AE', method='encode', args=(f32(1),), out=f32(1))], {})
    assert table.rows[0][1] == 'AE [dim](encode)[/dim]'
    assert table.plain_rows()[0][1] == 'AE (encode)'
    lam = build_summary_table('AE', [call((), 'AE', method='<lambda>')], {})
    assert lam.rows[0][1] == 'AE'


def test_no_variables_gives_an_empty_total():
    table = build_summary_table('Act', [call((), 'Act', args=(f32(3),), out=f32(3))], {})
    assert table.columns == ('path', 'module', 'inputs', 'outputs')
    assert table.footer == ('', '', '', 'Total')
    assert table.caption == '\nTotal Parameters: '


# -- depth and repeated calls -------------------------------------------------------


def nested_calls():
    return [
        call((), 'Net', args=(f32(2, 3),), out=f32(2, 2)),
        call(('block',), 'Block', args=(f32(2, 3),), out=f32(2, 4)),
        call(('block', 'Dense_0'), args=(f32(2, 3),), out=f32(2, 4)),
        call(('block', 'Dense_0'), args=(f32(2, 4),), out=f32(2, 4)),  # called again
        call(('head',), args=(f32(2, 4),), out=f32(2, 2)),
    ]


def nested_variables():
    return {
        'params': {
            'scale': f32(3),
            'block': {'Dense_0': {'kernel': f32(3, 4), 'bias': f32(4)}, 'gain': f32(4)},
            'head': {'kernel': f32(4, 2), 'bias': f32(2)},
        },
        'stats': {'block': {'count': np.zeros((), np.int32)}},
    }


def counts(table, column):
    i = table.columns.index(column)
    out = []
    for row in table.plain_rows():
        last = row[i].split('\n')[-1]
        out.append(int(last.split(' ')[0].replace(',', '')) if last else 0)
    return out


@pytest.mark.parametrize('depth', [None, 0, 1, 2, 5])
def test_rows_always_add_up_to_the_footer_and_every_variable(depth):
    table = build_summary_table('Net', nested_calls(), nested_variables(), depth=depth)
    # params: scale 3 + Dense_0 12+4 + gain 4 + head 8+2 = 33; stats: one int32 count.
    assert table.columns[-2:] == ('params', 'stats')
    assert table.footer[-2:] == ('33 (132 B)', '1 (4 B)')
    assert sum(counts(table, 'params')) == 33
    assert sum(counts(table, 'stats')) == 1


def test_depth_limit_counts_hidden_descendants_and_shows_own_variables():
    table = build_summary_table('Net', nested_calls(), nested_variables(), depth=1)
    assert [row[0] for row in table.rows] == ['', 'block', 'head']
    assert counts(table, 'params') == [3, 20, 10]
    block_params = table.plain_rows()[1][table.columns.index('params')]
    assert block_params == 'gain: float32[4]\n\n20 (80 B)'  # own variable shown, subtree counted
    root = build_summary_table('Net', nested_calls(), nested_variables(), depth=0)
    assert counts(root, 'params') == [33]
    assert root.plain_rows()[0][root.columns.index('params')] == 'scale: float32[3]\n\n33 (132 B)'


def test_rows_above_the_limit_count_only_their_own_variables():
    table = build_summary_table('Net', nested_calls(), nested_variables())
    assert [row[0] for row in table.rows] == ['', 'block', 'block/Dense_0', 'head']
    assert counts(table, 'params') == [3, 4, 16, 10]
    assert counts(table, 'stats') == [0, 1, 0, 0]


def test_repeated_calls_show_once_unless_asked_then_without_variables():
    shown = build_summary_table('Net', nested_calls(), nested_variables(), show_repeated=True)
    assert [row[0] for row in shown.rows] == ['', 'block', 'block/Dense_0', 'block/Dense_0', 'head']
    repeat = shown.plain_rows()[3]
    assert repeat[2] == 'float32[2,4]' and repeat[4:] == ('', '')
    assert shown.footer == build_summary_table('Net', nested_calls(), nested_variables()).footer


def test_variables_of_modules_without_a_row_stay_with_their_parent():
    calls = [call((), 'Net', args=(f32(1),), out=f32(1))]
    variables = {'params': {'inner': {'w': f32(2, 2)}, 'b': f32(2)}}
    table = build_summary_table('Net', calls, variables)
    assert table.plain_rows()[0][4] == 'b: float32[2]\ninner:\n  w: float32[2,2]\n\n6 (24 B)'


# -- inputs -------------------------------------------------------------------------


def test_inputs_cell_forms():
    one = call((), args=(f32(2),))
    several = call((), args=(f32(2), 3))
    keywords = call((), kwargs={'train': True, 'mask': None})
    both = call((), args=(f32(2),), kwargs={'train': False})
    none = call(())
    table = build_summary_table('M', [one], {})
    assert strip_markup(yaml_block(one.inputs)) == 'float32[2]'
    assert strip_markup(yaml_block(several.inputs)) == '- float32[2]\n- 3'
    assert strip_markup(yaml_block(keywords.inputs)) == 'mask: None\ntrain: True'
    assert strip_markup(yaml_block(both.inputs)) == '- float32[2]\n- train: False'
    assert yaml_block(none.inputs) == ''
    assert table.rows[0][2] == '[dim]float32[/dim][2]'


def test_call_inputs_keeps_the_seed_shapes():
    assert st.call_inputs((1,), {}) == 1
    assert st.call_inputs((1, 2), {}) == (1, 2)
    assert st.call_inputs((), {'a': 1}) == {'a': 1}
    assert st.call_inputs((1,), {'a': 1}) == (1, {'a': 1})
    assert st.call_inputs((), {}) == ()


# -- value formatting ----------------------------------------------------------------


@pytest.mark.parametrize(
    'num_bytes,text',
    [
        (0, '0 B'),
        (999, '999 B'),
        (1000, '1,000 B'),
        (1001, '1.0 KB'),
        (74_000, '74.0 KB'),
        (1_000_000, '1,000.0 KB'),
        (1_000_001, '1.0 MB'),
        (3_297_832, '3.3 MB'),
        (1_000_000_000, '1,000.0 MB'),
        (1_000_000_001, '1.0 GB'),
        (2_500_000_000_000, '2,500.0 GB'),
    ],
)
def test_byte_unit_boundaries(num_bytes, text):
    assert bytes_repr(num_bytes) == text


def test_size_and_bytes_repr():
    assert size_and_bytes_repr(824_458, 3_297_832) == '824,458 (3.3 MB)'
    assert size_and_bytes_repr(320, 1280) == '320 (1.3 KB)'
    assert size_and_bytes_repr(0, 0) == ''


def test_array_specs_render_dtype_then_shape_without_spaces():
    assert strip_markup(ArraySpec.of(f32(16, 9)).render()) == 'float32[16,9]'
    assert strip_markup(ArraySpec.of(np.zeros((), np.int32)).render()) == 'int32[]'
    assert ArraySpec.of(np.zeros((2, 3), np.float16)).nbytes == 12


def test_size_and_bytes_counts_arrays_only():
    tree = describe_value({'a': f32(2, 3), 'b': [np.zeros(4, np.int8), 5], 'c': 'text'})
    assert size_and_bytes(tree) == (10, 28)


def test_boxes_render_with_their_names():
    class Box:
        def __init__(self, value, names):
            self.value, self.names = value, names

    def box(x):
        return (x.value, x.names) if isinstance(x, Box) else None

    tree = describe_value({'kernel': Box(f32(4, 8), (None, 'model'))}, box)
    assert tree == {'kernel': BoxedArraySpec(ArraySpec((4, 8), 'float32', 4), (None, 'model'))}
    assert strip_markup(yaml_block(tree)) == 'kernel: float32[4,8] P(None, model)'
    assert size_and_bytes(tree) == (32, 128)


def test_yaml_block_nesting():
    tree = describe_value({'b': {'y': f32(1), 'x': [1, {'k': 'v'}]}, 'a': [[1, 2], []], 'c': {}})
    assert strip_markup(yaml_block(tree)) == '\n'.join(
        [
            'a:',
            '- - 1',
            '  - 2',
            '- []',
            'b:',
            '  x:',
            '  - 1',
            '  - k: v',
            '  y: float32[1]',
            'c: {}',
        ]
    )


def test_yaml_block_drops_quotes_and_escapes_markup():
    tree = describe_value({'name': "it's", 'tag': 'a[bold]b', 'names': ('x', None)})
    text = yaml_block(tree)
    assert strip_markup(text) == 'name: its\nnames:\n- x\n- None\ntag: a[bold]b'
    assert '\\[bold]' in text


def test_markup_round_trip():
    for text in ['plain', 'x[bold]y[/bold]', 'float32[2,3]', '\\[dim]', '[#fff]']:
        assert strip_markup(escape_markup(text)) == text


def test_module_docstrings_run():
    for module in (st, sv):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.attempted > 0 and result.failed == 0
