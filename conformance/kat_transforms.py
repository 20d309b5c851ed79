"""Known-answer runners for the lifted transforms: ``scan_lstm`` and ``vmap_dense``.

Same contract as :mod:`conformance.kat_models`: ``RUNNERS[name](nn, case)``
builds what the case text describes with backend ``nn``.
"""

from __future__ import annotations

from conformance.kat_models import KatRun


def scan_lstm(nn, case):
    # nn.scan(LSTMCell, variable_broadcast='params', split_rngs={'params': False}, in_axes=1,
    # out_axes=1)(features=4) inside a parent (hence the auto-name ScanLSTMCell_0).
    class ScanParent(nn.Module):
        @nn.compact
        def __call__(self, carry, xs):
            ScanLSTM = nn.scan(
                nn.LSTMCell, variable_broadcast="params", split_rngs={"params": False}, in_axes=1, out_axes=1
            )
            return ScanLSTM(features=4)(carry, xs)

    xs = nn.numpy.asarray(case.inputs[0])
    carry = nn.LSTMCell(features=4).initialize_carry(nn.random.PRNGKey(0), (2, 3))
    model = ScanParent()
    variables = model.init(nn.random.PRNGKey(10), carry, xs)
    (c, h), ys = model.apply(variables, carry, xs)
    return KatRun(variables, [c, h, ys])


def vmap_dense(nn, case):
    class VmapParent(nn.Module):
        @nn.compact
        def __call__(self, x):
            BatchDense = nn.vmap(
                nn.Dense, in_axes=0, out_axes=0, variable_axes={"params": 0}, split_rngs={"params": True}
            )
            return BatchDense(3, name="vd")(x)

    x = nn.numpy.asarray(case.inputs[0])
    model = VmapParent()
    variables = model.init(nn.random.PRNGKey(11), x)
    return KatRun(variables, [model.apply(variables, x)])


RUNNERS = {
    "scan_lstm": scan_lstm,
    "vmap_dense": vmap_dense,
}
