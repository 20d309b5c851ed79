"""Reading the seed API reference (../shared/seeds) from tests, independently of shared_spec."""

import re
from pathlib import Path

import pytest

SEEDS = Path(__file__).resolve().parents[2].parent / 'shared' / 'seeds'
API_REFERENCE = SEEDS / '003_ed3e6eab6dbd452e.txt'


def api_reference_text():
    """Section 5.8 (the API reference) with markdown escapes and emphasis removed."""
    if not API_REFERENCE.is_file():
        pytest.skip(f'seed API reference not found at {API_REFERENCE}')
    text = API_REFERENCE.read_text(encoding='utf-8')
    text = text[text.index('## 5.8 API Reference'):]
    return text.replace('\\_', '_')


def seed_error_signatures():
    """{error name: [positional argument names]} from the flax.errors section."""
    text = api_reference_text()
    section = text[text.index('flax.error package'):text.index('flax.jax_utils package')]
    section = section.replace('*', '').replace('`', '')
    found = {}
    for match in re.finditer(r'flax\.errors\.(\w+)\s*(\(([^)]*)\))?', section):
        name, args = match.group(1), match.group(3)
        params = [a.strip() for a in args.split(',')] if args else []
        found.setdefault(name, [p.split('=')[0] for p in params if p])
    return found
