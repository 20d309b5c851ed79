"""``python -m nnjax.debug FILE.py:FACTORY``, run as a user runs it: a subprocess on a model file.

Each subprocess imports JAX (seconds), so one run checks several options at
once; usage errors past the first are checked in-process through ``main``.
"""

import doctest
import os
import subprocess
import sys
import textwrap

import pytest

from nnjax.debug.__main__ import main

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

HEALTHY = '''
    import jax
    import jax.numpy as jnp
    import nnjax as nn


    class Block(nn.Module):
        @nn.compact
        def __call__(self, x):
            h = nn.LayerNorm()(x)
            return x + nn.Dense(x.shape[-1])(jnp.tanh(nn.Dense(16)(h)))


    class Net(nn.Module):
        @nn.compact
        def __call__(self, x):
            for _ in range(2):
                x = Block()(x)
            return nn.Dense(3)(x)


    def make(shape=(4, 8)):
        print('factory got shape', shape)
        x = jax.random.normal(jax.random.key(1), shape)
        model = Net()
        return model, model.init(jax.random.key(0), x), (x,), {'loss': lambda y: jnp.sum(jnp.sin(y))}
'''

# jax.nn.silu goes wrong at import time: only the nnjax run sees it (the
# rebuilt model calls nnref's silu).
PLANTED = '''
    import jax
    import jax.numpy as jnp
    import nnjax as nn

    jax.nn.silu = lambda x: x * jax.nn.sigmoid(1.05 * x)


    class Swish(nn.Module):
        @nn.compact
        def __call__(self, x):
            return jax.nn.silu(x)


    class Net(nn.Module):
        @nn.compact
        def __call__(self, x):
            x = nn.Dense(8)(x)
            x = nn.Dense(8)(jnp.tanh(x))
            return nn.Dense(2)(Swish()(x))


    def make():
        x = jax.random.normal(jax.random.key(1), (3, 4))
        return Net(), Net().init(jax.random.key(0), x), x
'''

NAN = '''
    import jax
    import jax.numpy as jnp
    import nnjax as nn


    class Log(nn.Module):
        def __call__(self, x):
            return jnp.log(x)


    class Net(nn.Module):
        @nn.compact
        def __call__(self, x):
            h = nn.Dense(6)(x)
            return nn.Dense(2)(Log()(h))


    def make(shape):
        x = jax.random.normal(jax.random.key(1), shape)
        return Net(), Net().init(jax.random.key(0), x), x
'''


def _write(tmp_path, source, name='model.py'):
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    return str(path)


def _run(*argv):
    env = {k: v for k, v in os.environ.items() if k != 'COLUMNS'}
    env['PYTHONPATH'] = ROOT + os.pathsep + env.get('PYTHONPATH', '')
    return subprocess.run(
        [sys.executable, '-m', 'nnjax.debug', *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def test_healthy_model_with_every_check(tmp_path):
    done = _run(
        _write(tmp_path, HEALTHY) + ':make', '--shape', '2,5', '--jit', '--nonfinite', '--grads', '--directions', '2'
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert 'factory got shape (2, 5)' in out
    assert 'nnjax vs nnref (float64)' in out
    assert '/Block_1/LayerNorm_0' in out  # a row of the table, not cut short
    assert 'No divergence' in out
    assert 'No submodule call produced NaN or Inf' in out
    assert '(2 directions per leaf)' in out and '/Block_0/Dense_1/kernel' in out
    assert 'All gradients agree.' in out


def test_planted_bug_names_the_module(tmp_path):
    done = _run(_write(tmp_path, PLANTED) + ':make', '--no-widen')
    assert done.returncode == 1, done.stdout + done.stderr
    assert 'nnjax vs nnref (model dtypes)' in done.stdout
    summary = done.stdout.strip().splitlines()[-1]
    assert summary.startswith('First divergence: /Swish_0 (Swish)'), done.stdout


def test_nonfinite_is_found(tmp_path):
    done = _run(_write(tmp_path, NAN) + ':make', '--shape', '3,4', '--nonfinite')
    assert done.returncode == 1, done.stdout + done.stderr
    assert '/Log_0 (Log) returns NaN/Inf from finite inputs' in done.stdout
    assert 'Traceback' not in done.stderr


def test_usage_error_in_a_subprocess(tmp_path):
    done = _run(str(tmp_path / 'missing.py') + ':make')
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f'python -m nnjax.debug: error: no such file: {tmp_path / "missing.py"} (expected FILE.py:FACTORY)'
    ]
    assert done.stdout == ''


@pytest.mark.parametrize(
    'target, extra, message',
    [
        ('model.py', (), 'expected FILE.py:FACTORY'),
        ('{file}:build', (), "defines no function 'build' (its functions: make, pair, scalar)"),
        ('{file}:pair', (), 'FACTORY must return (module, variables, args)'),
        ('{file}:make', ('--shape', '3,4'), 'takes no `shape` parameter'),
        ('{file}:make', ('--shape', '3x4'), '--shape takes comma-separated integers'),
        ('{file}:scalar', (), 'the module is a int, not an nnjax Module'),
    ],
)
def test_usage_errors(tmp_path, capsys, monkeypatch, target, extra, message):
    monkeypatch.setattr(sys, 'path', list(sys.path))  # main puts the file's folder first
    file = _write(
        tmp_path,
        '''
        def make():
            raise AssertionError('not reached')
        def pair():
            return 1, 2
        scalar = lambda: (1, {}, ())
    ''',
    )
    assert main([target.format(file=file), *extra]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err, err


def test_an_exception_in_the_factory_shows_its_traceback(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sys, 'path', list(sys.path))
    file = _write(
        tmp_path,
        '''
        def make():
            return {}['variables']
    ''',
        name='broken.py',
    )
    assert main([file + ':make']) == 3
    err = capsys.readouterr().err
    assert 'Traceback' in err and "KeyError: 'variables'" in err and 'nnjax.debug: make() raised' in err


def test_docstring_examples_of_the_cli_module():
    """pytest's --doctest-modules leaves out files named __main__.py: their examples run here."""
    import nnjax.debug.__main__ as cli

    failed, attempted = doctest.testmod(cli)
    assert attempted >= 4 and not failed
