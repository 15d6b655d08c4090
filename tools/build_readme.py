"""Render `nbs/index.ipynb` as `README.md` without Quarto (what `nbdev_readme` does where Quarto is installed).

    python tools/build_readme.py [--nb nbs/index.ipynb] [--out README.md]

nbconvert's markdown exporter, with nbdev's cell directives honoured: a `#| hide` cell is left out, a `#| echo: false`
cell shows its output only (the README's tables are such cells: they read the committed records), and directive lines
are dropped from the code that is shown. A markdown cell that starts with `<!-- not in the README -->` ends the README:
it and the cells after it are for the documentation site's front page only. Outputs are the ones the notebook was
saved with; nothing is executed.
"""
import argparse, re
from pathlib import Path
import nbformat
from nbconvert import MarkdownExporter
from traitlets.config import Config

ROOT = Path(__file__).resolve().parent.parent
SITE_ONLY = '<!-- not in the README -->'


def directives(src:str) -> set:
    "The nbdev directives of a cell (`#| hide`, `#| echo: false`), spaces removed."
    return {d.replace(' ', '') for d in re.findall(r'^#\|\s*(.+?)\s*$', src, re.M)}


def readme(nb_path) -> str:
    nb = nbformat.read(nb_path, as_version=4)
    cells = []
    for c in nb.cells:
        if c.cell_type == 'markdown' and c.source.startswith(SITE_ONLY): break
        d = directives(c.source)
        if 'hide' in d: continue
        if c.cell_type == 'code':
            c.source = re.sub(r'^#\|.*(\n|$)', '', c.source, flags=re.M).strip('\n')
            if 'echo:false' in d: c.metadata['tags'] = ['remove_input']
        cells.append(c)
    nb.cells = cells
    c = Config()
    c.TagRemovePreprocessor.remove_input_tags = {'remove_input'}
    c.MarkdownExporter.preprocessors = ['nbconvert.preprocessors.TagRemovePreprocessor']
    body, _ = MarkdownExporter(config=c).from_notebook_node(nb)
    return re.sub(r'\n{3,}', '\n\n', body)


if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--nb', default=str(ROOT/'nbs'/'index.ipynb'))
    p.add_argument('--out', default=str(ROOT/'README.md'))
    a = p.parse_args()
    Path(a.out).write_text(readme(a.nb))
