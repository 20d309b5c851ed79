"""Reasons the guide tables give for cells that do not run, shared by every guide's table."""

import textwrap

SHELL = 'an IPython shell cell (`!pip install ...`): not Python'
OUTPUT = 'printed output of the cell above, typeset as a code block'
OUTPUT_REPR = (
    'printed output of the cell above (a repr that happens to parse as one Python expression), typeset as a code block'
)
SKETCH = 'a pattern sketch with a literal `...` for the parts left out: not meant to run'
PAGE_INDENT = 'a page break lost the indentation of the lines after it'
WRAPPED = 'the typesetter wrapped a long line and marked the continuation with `→`; the repair joins the two halves'


def indented(text, spaces):
    return textwrap.indent(text, ' ' * spaces)
