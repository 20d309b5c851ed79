import pytest


@pytest.fixture(params=['nnref', 'nnjax'])
def nn(request):
    """Each test runs on both backends (the API is backend-neutral)."""
    return pytest.importorskip(request.param)
