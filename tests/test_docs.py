"The documentation site (`tools/build_site.py`, no Quarto) builds from the notebooks, and every page and local link works."
import base64, json, os, re, shutil, subprocess, sys
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

ROOT = Path(__file__).resolve().parent.parent
NBS = ROOT / 'nbs'
SCRIPT = ROOT / 'tools' / 'build_site.py'


def build(out, *args, timeout=300):
    "Run the site builder as a user would; return the finished process."
    return subprocess.run([sys.executable, str(SCRIPT), '--out', str(out), '--quiet', *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def notebooks(nbs=NBS):
    "Notebooks nbdev documents: every .ipynb under `nbs`, skipping names and folders starting with `_` or `.`."
    return sorted(p.relative_to(nbs) for p in nbs.rglob('*.ipynb')
                  if not any(part[0] in '_.' for part in p.relative_to(nbs).parts))


def page_of(rel: Path) -> str:
    "nbdev's page name for a notebook: `00_core.ipynb` -> `core.html` (the name Quarto and `_modidx.py` use)."
    return rel.with_name(re.sub(r'^\d+[a-zA-Z0-9]*_', '', rel.name.lower())).with_suffix('.html').as_posix()


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links, self.ids = [], set()

    def handle_starttag(self, tag, attrs):
        for k, v in attrs:
            if k in ('href', 'src') and v is not None: self.links.append(v)
            if k == 'id' and v: self.ids.add(v)


def parse(page: Path) -> _Page:
    p = _Page()
    p.feed(page.read_text(encoding='utf-8'))
    return p


def text_of(page: Path) -> str:
    "The page's text with tags removed (code highlighting splits code into spans)."
    return unescape(re.sub(r'<[^>]+>', '', page.read_text(encoding='utf-8')))


def is_local(url: str) -> bool:
    return bool(url) and not (url.startswith(('#', '//')) or re.match(r'^[a-zA-Z][a-zA-Z0-9+.-]*:', url))


def local_targets(page: Path):
    "(url, the file it points to) for every local href/src in `page`."
    for url in parse(page).links:
        if is_local(url): yield url, (page.parent / unquote(urlsplit(url).path)).resolve()


def broken_links(site: Path):
    site = site.resolve()
    return [f'{page.relative_to(site)}: {url}' for page in sorted(site.rglob('*.html'))
            for url, t in local_targets(page) if not t.is_file() or site not in t.parents]


@pytest.fixture(scope='module')
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp('docs') / 'site'
    r = build(out)
    assert r.returncode == 0, f'the docs build failed:\n{r.stdout[-2000:]}\n{r.stderr[-4000:]}'
    return out


def test_one_page_per_notebook(site):
    nbs = notebooks()
    want = {page_of(p) for p in nbs}
    assert 'index.html' in want and len(want) == len(nbs) > 1
    got = {p.relative_to(site).as_posix() for p in site.rglob('*.html')}
    assert want <= got, f'notebooks without a page: {sorted(want - got)}'
    for page in want:  # every page links every other page (the navigation)
        linked = {t for _, t in local_targets(site / page)}
        assert {(site / p).resolve() for p in want} <= linked, f'{page} does not link every page'


def test_local_links_resolve(site):
    bad = broken_links(site)
    assert not bad, 'links to nothing:\n' + '\n'.join(bad)


def test_show_doc_of_an_exported_function(site):
    "`atomic_write` (exported in the core notebook) is documented by nbdev's show_doc: heading, signature, docstring."
    pages = [p for p in sorted(site.rglob('*.html')) if 'atomic_write' in parse(p).ids]
    assert pages, 'no page has a show_doc heading for atomic_write'
    text = text_of(pages[0])
    assert re.search(r'def atomic_write\(\s*path, write_fn\s*\)', text), 'no show_doc signature for atomic_write'
    assert 'Call write_fn(tmp_path) then rename' in text
    # the exported source itself is not shown (`#| export` cells are hidden), and no directive survives
    assert 'tempfile.mkstemp(' not in text
    for page in site.rglob('*.html'):
        assert not re.search(r'^\s*#\s*\|', text_of(page), re.M), f'nbdev directive left in {page.name}'


def test_index_is_the_home_page(site):
    index = text_of(site / 'index.html')
    title = nbformat.read(NBS / 'index.ipynb', as_version=4).cells[0].source.splitlines()[0].lstrip('# ').strip()
    assert title and title in index


def _nb(*cells):
    nb = new_notebook(cells=list(cells))
    nb.metadata.kernelspec = dict(name='python3', display_name='Python 3', language='python')
    return nb


_PNG = base64.b64encode(bytes.fromhex(  # a 1x1 PNG
    '89504e470d0a1a0a0000000d4948445200000001000000010806000000'
    '1f15c4890000000d49444154789c63f8cfc0f01f0005000201e2b3d29c0000000049454e44ae426082')).decode()


def test_directives_outputs_links_and_files(tmp_path):
    "A small notebooks folder: hidden cells, show_doc of an exported function, committed outputs, links and images."
    nbs, sentinel = tmp_path / 'nbs', tmp_path / 'ran.txt'
    (nbs / 'img').mkdir(parents=True)
    (nbs / 'img' / 'dot.png').write_bytes(base64.b64decode(_PNG))
    nbformat.write(_nb(new_markdown_cell('# Demo site\n\n> What the demo is about,\n> over two lines.\n\n'
                                         'Intro text that follows the title.'),
                       new_markdown_cell('See [the page](01_page.ipynb), [again](nbs/01_page.ipynb#greet) '
                                         'and ![a dot](img/dot.png).')),
                   nbs / 'index.ipynb')
    out = new_code_cell('table_cell = 1', outputs=[
        new_output('display_data', data={'text/html': '<table><tr><td>committed-output-42</td></tr></table>',
                                          'text/plain': 'table'}),
        new_output('display_data', data={'image/png': _PNG, 'text/plain': 'figure'})])
    nbformat.write(_nb(new_markdown_cell('# A page\n\n> Its description.'),
                       new_code_cell('#| export\ndef greet(name:str, # who to greet\n          loud:bool=False):\n'
                                     '    "Say hello to `name`."\n    return f"hello {name}"'),
                       new_code_cell('#| hide\nhidden_marker_cell = 1'),
                       new_code_cell('#| slow\nslow_marker_cell = 1'),
                       new_code_cell(f'import os\nopen({str(sentinel)!r}, "w").write("ran")'),  # import + code
                       out),
                   nbs / '01_page.ipynb')
    site = tmp_path / 'site'
    r = build(site, '--nbs', nbs, '--strict')
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in site.glob('*.html')) == ['index.html', 'page.html']
    assert not broken_links(site)
    assert (site / 'img' / 'dot.png').read_bytes() == base64.b64decode(_PNG)
    index, page = text_of(site / 'index.html'), text_of(site / 'page.html')
    assert 'Intro text that follows the title.' in index and 'over two lines.' in index
    links = parse(site / 'index.html').links
    assert 'page.html' in links and 'page.html#greet' in links and 'img/dot.png' in links
    assert 'greet' in parse(site / 'page.html').ids
    assert re.search(r'def greet\(\s*name:str, # who to greet', page) and 'Say hello to name.' in page
    assert 'hidden_marker_cell' not in page and '#| export' not in page and 'return f"hello' not in page
    assert 'slow_marker_cell = 1' in page and '#| slow' not in page
    assert 'committed-output-42' in page and 'data:image/png;base64,' + _PNG in (site / 'page.html').read_text()
    assert not sentinel.exists(), 'the build ran notebook code that is not needed for show_doc'


def test_corrupt_notebook_fails_the_build(tmp_path):
    nbs = tmp_path / 'nbs'
    shutil.copytree(NBS, nbs)
    victim = next(p for p in notebooks(nbs) if p.stem != 'index')
    src = (nbs / victim).read_text(encoding='utf-8')
    (nbs / victim).write_text(src[:len(src) // 2], encoding='utf-8')
    r = build(tmp_path / 'site', '--nbs', nbs)
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and victim.name in lines[0], r.stderr
    assert not (tmp_path / 'site' / 'index.html').exists()


def test_failing_show_doc_fails_the_build(tmp_path):
    nbs = tmp_path / 'nbs'
    nbs.mkdir()
    nbformat.write(_nb(new_markdown_cell('# Home')), nbs / 'index.ipynb')
    nbformat.write(_nb(new_markdown_cell('# Bad'), new_code_cell('show_doc(no_such_name)')), nbs / '01_bad.ipynb')
    r = build(tmp_path / 'site', '--nbs', nbs)
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and '01_bad.ipynb' in lines[0] and 'no_such_name' in lines[0], r.stderr


def test_readme_is_index_rendered(tmp_path):
    "README.md is `nbs/index.ipynb` as `tools/build_readme.py` renders it: tables from the records, no hidden code."
    out = tmp_path / 'README.md'
    r = subprocess.run([sys.executable, str(ROOT / 'tools' / 'build_readme.py'), '--out', str(out)], capture_output=True,
                       text=True, timeout=120, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    text = out.read_text()
    assert text == (ROOT / 'README.md').read_text(), 'README.md is out of step with nbs/index.ipynb: run tools/build_readme.py'
    ci = (ROOT / '.ci' / 'run').read_text().splitlines()
    test_cmd = ci[ci.index('# README: test') + 1]
    assert 'pip install -e ".[dev]"' in text and test_cmd.split('&&')[1].strip() in text  # what CI runs
    assert not re.search(r'^#\|', text, re.M) and 'accuracy_table(' not in text  # directives and echo-false code stay out
    assert '| IPC | hard | soft | soft_T | ensemble | paper: soft |' in text  # a table read from a record


def test_adding_page_copies_into_a_working_analysis(tmp_path):
    "The adding page, copied and renamed as its step 6 says, exports an analysis that `ld_run` runs."
    repo = tmp_path / 'repo'
    shutil.copytree(ROOT / 'ld_nbdev', repo / 'ld_nbdev', ignore=shutil.ignore_patterns('__pycache__'))
    shutil.copy(ROOT / 'settings.ini', repo)
    (repo / 'nbs' / 'analyses').mkdir(parents=True)
    page = (NBS / '09a_adding_an_experiment.ipynb').read_text().replace('image_draws', 'copied_draws')
    (repo / 'nbs' / 'analyses' / '99_copied_draws.ipynb').write_text(page)
    bin_ = Path(sys.executable).parent
    r = subprocess.run([str(bin_ / 'nbdev_export'), '--path', 'nbs/analyses/99_copied_draws.ipynb'], cwd=repo,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and (repo / 'ld_nbdev' / 'analyses' / 'copied_draws.py').exists(), r.stderr
    out = tmp_path / 'out'
    r = subprocess.run([str(bin_ / 'ld_run'), 'copied_draws', '--preset', 'digits', '--ipc', '1', '--students', '1',
                        '--epochs', '5', '--expert_epochs', '1', '--steps', '4', '--draws', '2', '--out', str(out), '--quiet'],
                       capture_output=True, text=True, timeout=300, env={**os.environ, 'PYTHONPATH': str(repo)})
    assert r.returncode == 0, r.stderr[-2000:]
    assert json.loads((out / 'run.json').read_text())['experiment'] == 'copied_draws'
    assert sorted(pd.read_csv(out / 'rows.csv').image_seed.unique()) == [0, 1]
