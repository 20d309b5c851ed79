"""nnref-only entry-point check: nnref works where jax cannot be imported.

The backend-neutral init/apply tests live in ``tests/semantics/test_entry_points.py``.
"""

import subprocess
import sys

import nnref as nn


def test_nnref_imports_with_jax_unimportable():
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'jax' or name.startswith('jax.') or name.startswith('jaxlib'):\n"
        "            raise ImportError('jax is blocked in this test')\n"
        "sys.meta_path.insert(0, Block())\n"
        "import nnref as nn\n"
        "import nnref.random, nnref.numpy, nnref.initializers, nnref.activation\n"
        "v = nn.Dense(2).init(nn.random.PRNGKey(0), nn.numpy.ones((1, 3)))\n"
        "assert v['params']['kernel'].shape == (3, 2)\n"
        "assert not any(m == 'jax' or m.startswith('jax.') for m in sys.modules)\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=_repo_root())
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def _repo_root():
    import pathlib

    return str(pathlib.Path(nn.__file__).resolve().parent.parent)
