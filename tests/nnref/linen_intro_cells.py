"""The code cells of seed ``000_931db3ab41729921.txt`` (the Linen introduction notebook).

The cells are read from the seed itself at test time (the seed is the spec, and
``../shared`` is beside every checkout and CI run), so the repository does not
carry a second copy of them. ``TITLES`` names each cell, in seed order, by its
``:id:`` followed by the notebook section it sits in.
"""

from pathlib import Path

SEED = '000_931db3ab41729921.txt'
SEED_PATH = Path(__file__).resolve().parents[2].parent / 'shared' / 'seeds' / SEED

TITLES = [
    'HgRZ_G8wGcoB Install and Import: pip install',
    'Kvx7GmavHZbD Install and Import: imports',
    'EcDH20Uufc-v Invoking Modules: construct Dense',
    'Vjx0HWNcfa8h Invoking Modules: init',
    'R9QZ6EOBg5X8 Invoking Modules: apply',
    'qB6l-9EabOwH Composing submodules: ExplicitMLP (setup)',
    'UPNGIr6wcGaw Composing submodules: SimpleMLP (compact)',
    '7OACbTFHjMvl Declaring and using variables: SimpleDense (compact param)',
    'CE0CTLVvZ8Yn Declaring and using variables: ExplicitDense (setup param)',
    'u6_fbrW2XT5t General Variables: Counter',
    'BBrbcEdCnQ4o Another Mutability and RNGs Example: Block',
    'UEUTO8bf0Kf2 JIT: MLP with nn.jit',
    'sogMxDQpyMZE Remat: RematMLP',
    'PIGiriD0yFXo Vmap: MultiHeadDotProductAttention',
    'oxA_lWm7tH2B Scan: SimpleScan',
]


def seed_code_cells(text):
    """[(cell id, source)] of the MyST ``{code-cell}`` blocks of the seed, in order."""
    cells = []
    lines = text.split('\n')
    i = 0
    while i < len(lines):
        if lines[i].strip() != '```{code-cell}':
            i += 1
            continue
        i += 1
        options = {}
        while lines[i].startswith(':'):
            key, _, value = lines[i][1:].partition(':')
            options[key.strip()] = value.strip()
            i += 1
        if lines[i] == '':
            i += 1
        start = i
        while lines[i] != '```':
            i += 1
        cells.append((options['id'], '\n'.join(lines[start:i])))
        i += 1
    return cells


def load_cells():
    """[(title, source)] of every code cell, read verbatim from the seed.

    Raises ``ValueError`` if the seed's cells are not the ones ``TITLES`` names.
    """
    cells = seed_code_cells(SEED_PATH.read_text(encoding='utf-8'))
    ids = [cid for cid, _ in cells]
    expected = [title.split(' ', 1)[0] for title in TITLES]
    if ids != expected:
        raise ValueError(f'the seed has cells {ids}, the test names {expected}')
    return [(title, source) for title, (_, source) in zip(TITLES, cells)]
