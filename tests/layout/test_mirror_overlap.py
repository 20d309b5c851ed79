"""nnref stays an independent twin of nnjax, not a copy of it.

The measure: for each nnref module with an nnjax namesake, the share of its
lines (stripped, non-blank, not only punctuation) that also occur as a line
of the namesake. Shared rules belong in ``shared_spec``; what is written in
both backends should be written twice, so that the differential tests can
catch a bug on either side. Signatures, field declarations and alias-module
export lists are identical on purpose, which is why the bound is a quarter
and not zero.

Run as a script for the per-file table::

    python tests/layout/test_mirror_overlap.py
"""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[2]
MAX_IDENTICAL_SHARE = 0.25
_PUNCTUATION_ONLY = re.compile(r'[\W_]*')


def _counted_lines(path: pathlib.Path) -> list:
    lines = (line.strip() for line in path.read_text().splitlines())
    return [line for line in lines if line and not _PUNCTUATION_ONLY.fullmatch(line)]


def overlap(root: pathlib.Path = ROOT) -> dict:
    """``{relative path: (identical, counted)}`` for every nnref module with an nnjax namesake."""
    table = {}
    for ref_file in sorted((root / 'nnref').rglob('*.py')):
        rel = ref_file.relative_to(root / 'nnref')
        jax_file = root / 'nnjax' / rel
        if not jax_file.exists():
            continue
        theirs = {line.strip() for line in jax_file.read_text().splitlines()}
        ours = _counted_lines(ref_file)
        table[str(rel)] = (sum(line in theirs for line in ours), len(ours))
    return table


def test_measure_counts_lines_of_the_namesake(tmp_path):
    (tmp_path / 'nnref').mkdir()
    (tmp_path / 'nnjax').mkdir()
    (tmp_path / 'nnref' / 'a.py').write_text('x = 1\n\n)\ny = 2\n')
    (tmp_path / 'nnjax' / 'a.py').write_text('  x = 1\nz = 3\n')
    (tmp_path / 'nnref' / 'only_here.py').write_text('x = 1\n')
    assert overlap(tmp_path) == {'a.py': (1, 2)}


def test_at_most_a_quarter_of_nnref_is_identical_to_nnjax():
    table = overlap()
    identical = sum(same for same, _ in table.values())
    counted = sum(total for _, total in table.values())
    worst = sorted(table.items(), key=lambda item: -item[1][0])[:5]
    assert identical / counted <= MAX_IDENTICAL_SHARE, (
        f'{identical} of {counted} nnref lines ({identical / counted:.1%}) are identical to lines of their nnjax '
        f'namesakes; most in {worst}. Move rules both must share to shared_spec, and write nnref for a reader.'
    )


if __name__ == '__main__':
    rows = overlap()
    for rel, (same, total) in sorted(rows.items(), key=lambda item: -item[1][0]):
        print(f'{same:5d}/{total:5d} {same / total:5.0%} {rel}')
    same, total = (sum(column) for column in zip(*rows.values()))
    print(f'identical: {same} of {total} lines ({same / total:.1%})')
