"""Lifted transforms in nnref: the same semantics as the production backend, as loops and calls.

``vmap`` and ``scan`` loop over the mapped axis; ``jit`` and ``remat`` are
semantic identities; control flow is Python control flow; ``jvp``/``vjp``
use central differences in float64. All go through :mod:`nnref.lift`, so
variables and random streams are handled as in the production backend.
"""

from nnref.transforms.autodiff import custom_vjp, grad, jvp, value_and_grad, vjp  # noqa: F401
from nnref.transforms.control_flow import cond, switch, while_loop  # noqa: F401
from nnref.transforms.fold_rngs import fold_rngs, fork_rngs  # noqa: F401
from nnref.transforms.jit import jit  # noqa: F401
from nnref.transforms.map_variables import map_variables  # noqa: F401
from nnref.transforms.named_call import named_call  # noqa: F401
from nnref.transforms.remat import checkpoint, remat  # noqa: F401
from nnref.transforms.remat_scan import remat_scan  # noqa: F401
from nnref.transforms.scan import broadcast, scan  # noqa: F401
from nnref.transforms.vmap import vmap  # noqa: F401
