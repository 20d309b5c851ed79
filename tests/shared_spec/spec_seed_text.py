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
    text = text[text.index('## 5.8 API Reference') :]
    return text.replace('\\_', '_')


def seed_error_signatures():
    """{error name: [positional argument names]} from the flax.errors section."""
    text = api_reference_text()
    section = text[text.index('flax.error package') : text.index('flax.jax_utils package')]
    section = section.replace('*', '').replace('`', '')
    found = {}
    for match in re.finditer(r'flax\.errors\.(\w+)\s*(\(([^)]*)\))?', section):
        name, args = match.group(1), match.group(3)
        params = [a.strip() for a in args.split(',')] if args else []
        found.setdefault(name, [p.split('=')[0] for p in params if p])
    return found


def seed_error_summaries():
    """{error name: first sentence of its description} from the flax.errors section.

    Section 5.8.3 documents each class (what misuse raises it, how to fix it)
    but does not print the message text the class builds; that text comes
    from the seed system's ``flax/errors.py`` (see test_spec_errors.SEED_MESSAGES).
    """
    text = api_reference_text()
    section = text[text.index('flax.error package') : text.index('flax.jax_utils package')]
    section = section.replace('*', '').replace('`', '')
    heading = re.compile(r'^(?:#+ )?exception\s+flax\.errors\.(\w+).*$', re.M)
    matches = list(heading.finditer(section))
    found = {}
    for match, following in zip(matches, matches[1:] + [None]):
        body = section[match.end() : following.start() if following else len(section)]
        prose = ' '.join(line.strip() for line in body.strip().split('\n\n')[0:2] if line.strip())
        sentence = re.split(r'(?<=[.:])\s', ' '.join(prose.split()), maxsplit=1)[0]
        found.setdefault(match.group(1), sentence)
    return found
