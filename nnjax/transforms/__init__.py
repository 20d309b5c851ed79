"""Lifted transforms: JAX transforms applied to Module classes, methods and functions of modules.

Each file holds one transform: its scope-level core (built on
:mod:`nnjax.lift`) and its public Module-level form (built with
:mod:`nnjax.transforms.module_forms`).
"""

from nnjax.transforms.autodiff import custom_vjp, grad, jvp, value_and_grad, vjp  # noqa: F401
from nnjax.transforms.control_flow import cond, switch, while_loop  # noqa: F401
from nnjax.transforms.fold_rngs import fold_rngs, fork_rngs  # noqa: F401
from nnjax.transforms.jit import jit  # noqa: F401
from nnjax.transforms.map_variables import map_variables  # noqa: F401
from nnjax.transforms.named_call import named_call  # noqa: F401
from nnjax.transforms.remat import checkpoint, remat  # noqa: F401
from nnjax.transforms.remat_scan import remat_scan  # noqa: F401
from nnjax.transforms.scan import broadcast, scan  # noqa: F401
from nnjax.transforms.vmap import vmap  # noqa: F401
