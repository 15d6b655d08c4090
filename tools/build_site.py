"""Build a browsable static HTML site from the notebooks in `nbs/`, without Quarto.

    python tools/build_site.py [--out _site] [--nbs nbs] [--strict]

`nbdev_docs` needs Quarto, which cannot be installed everywhere (the `quarto-cli` wheel downloads a binary when it is
installed). This script builds the same pages from the same nbdev pipeline and renders them with nbconvert instead:

* **The notebook processing is nbdev's own.** Each notebook goes through `nbdev.processors.FilterDefaults`, the
  processor list that `nbdev_docs` applies (through `nbdev.serve.proc_nbs`, one notebook per `nbdev.serve_drv.exec_nb`)
  before it hands the `_proc/` folder to Quarto; only that last step needs Quarto. The processors, and the
  `skip_procs`/`procs` settings in `settings.ini`, therefore apply here as they do there: the title cell becomes the page
  title and description (`FrontmatterProc`), `#| export` / `#| exporti` / `#| hide` / `#| default_exp` cells disappear,
  `add_show_docs` puts a `show_doc(sym)` cell after every exported function and class, `exec_show_docs` runs it (with
  the exported cells and imports it needs, nothing else) and stores its markdown (signature, docments, docstring, a
  source link), `add_links` links backticked names to their docs. `proc_nbs` itself is not called: it always writes to
  `<repo>/_proc`, runs workers in spawned processes, and skips files under any folder whose name starts with a dot.
  Where this differs from nbdev (to keep content, to stay cheap, to show every exported symbol):
  - `FrontmatterProc` drops the whole first markdown cell once it has read `# title` and `> description` from it (in
    `nbs/index.ipynb` that would drop the introduction); here the text after the title and description is kept as a
    cell of its own, and a description quoted over several lines is kept whole.
  - `exec_show_docs` runs every cell that contains an import, even one that also trains a model (nbdev only warns:
    "Found cells containing imports and other code"). Here such a cell runs its top-level imports only, so building
    the docs never runs the notebooks' experiments. Pages are built sequentially in this one process.
* **HTML comes from nbconvert** (`HTMLExporter`, JupyterLab template), which `jupyterlab` in the dev requirements
  already installs. It renders markdown, code, and every output the notebook carries (tables, images embedded as data
  URIs, the show_doc markdown), so results notebooks render with the outputs they were committed with; nothing else is
  executed. Sphinx with myst-nb would add a second documentation toolchain with its own configuration and theme, plus
  several packages, for the same result; it would also have to be taught nbdev's directives and show_doc. nbconvert
  needs a small Jinja template (the navigation sidebar, below) and no new dependency.
* **Site layout follows nbdev's**: a notebook `nbs/00_core.ipynb` becomes `core.html` (nbdev's `_nbpath2html`, the
  name Quarto gives it and the one `_modidx.py` links to), `nbs/index.ipynb` becomes `index.html`, subfolders of `nbs/`
  stay subfolders. Every page has a sidebar linking every page, index first, then in notebook order.
* **Links**: `x.ipynb` and `nbs/x.ipynb` links point to the page; links to this library's published docs (`doc_host` +
  `doc_baseurl` in `settings.ini`, written by `add_links`) point to the local page; other relative links are resolved
  against the notebook's folder, then against the repository root (`index.ipynb` is also the README, so its links are
  written from the root), and the file is copied into the site under the same relative path (a folder, or a notebook
  that is not a page, links to it on GitHub instead). A relative link that resolves to nothing is reported (an error
  with `--strict`).
* **A show_doc that renders nothing** (fastcore's renderer raising inside IPython's display formatter, which nbdev
  passes over silently, e.g. for a parameter whose default is a DataFrame) is reported, and the symbol is shown with
  its signature as written in its source and its docstring (an error with `--strict`).

The build exits with status 1 and one line naming the notebook when a notebook cannot be read or processed (invalid
JSON, a failing show_doc, an exported cell that raises). `nbdev_docs` keeps working for anyone with Quarto: this
script reads `settings.ini` and changes nothing there; the build writes only into `--out`.
"""
from __future__ import annotations

import argparse, ast, html, os, re, shutil, sys, time, warnings
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
MARKER = '.build_site'  # marks a folder this script wrote, so that it may be emptied before a rebuild
MAX_COPY = 20 * 2**20  # files larger than this are linked on GitHub rather than copied into the site


class BuildError(Exception):
    "A notebook could not be read, processed or rendered; the message names it."


def _one_line(e: BaseException) -> str:
    "`e` (and what caused it) as one line."
    def _s(x): return f'{type(x).__name__}: {" ".join(str(x).split())}'[:300]
    first = str(e).strip().splitlines()[0] if str(e).strip() else ''
    res = f'{type(e).__name__}: {" ".join(first.split())}'[:300]
    cause = e.__cause__ or e.__context__
    if cause is not None and cause is not e: res += f' ({_s(cause)})'
    return res


# ---------------------------------------------------------------- nbdev processing

_re_fm_item = re.compile(r'^-\s+(\S.*:.*\S)\s*$')  # nbdev's `- key: value` frontmatter lines (frontmatter._md2dict)


def _split_title_cell(nb):
    """Keep what follows `# title` and `> description` in the first markdown cell as a cell of its own.

    nbdev's `FrontmatterProc` reads the title cell and then drops all of it. Returns the full description (a
    blockquote over several lines; nbdev keeps the first line only), or None."""
    from execnb.nbio import mk_cell
    from nbdev.frontmatter import _md2dict
    cell = next((c for c in nb.cells if c.cell_type in ('markdown', 'raw') and c.source.strip()), None)
    if cell is None or cell.cell_type == 'raw' or not _md2dict(cell.source): return None  # raw: YAML frontmatter
    lines = cell.source.splitlines()
    head, rest, desc, state = [], [], [], 'before'  # before the title, in the description, after it
    for l in lines:
        if state == 'before':
            if re.match(r'^#\s+\S', l): state = 'title'
            (head if state == 'title' or not l.strip() else rest).append(l)
        elif state == 'title' and (not l.strip() or l.startswith('>')):
            head.append(l)
            if l.startswith('>'): desc.append(l[1:].strip())
            elif desc: state = 'after'
        else:
            state = 'after'
            (head if _re_fm_item.match(l) else rest).append(l)
    rest = '\n'.join(rest).strip()
    if rest:
        cell.set_source('\n'.join(head))
        new = mk_cell(rest, 'markdown')
        nb.cells.insert(nb.cells.index(cell) + 1, new)
        for i, c in enumerate(nb.cells): c.idx_ = i
    return ' '.join(desc) or None


def _fallback_show_doc(proc, cell, trees):
    """A show_doc cell ran without error but produced no markdown (its renderer raised inside IPython's display
    formatter, e.g. fastcore's docments on a parameter whose default is a DataFrame): render the symbol from its source
    instead, and note it on the notebook for the build to report."""
    from nbdev.processors import _show_docs
    arg = _show_docs(trees)[0].value.args[0]
    nm = ast.unparse(arg)
    err = next((''.join(o.get('text', '')) for o in cell.get('outputs', []) if o.get('name') in ('stdout', 'stderr')), '')
    err = _re_ansi.sub('', err).strip().splitlines()
    proc.nb.setdefault('sd_fallbacks_', []).append(f'show_doc({nm}) failed ({err[-1] if err else "no output"})')
    try: md = _source_doc(eval(nm, proc.k.user_ns), nm.split('.')[-1])
    except Exception as e: md = f'### {nm}\n\n(show_doc could not render `{nm}`: {_one_line(e)})'
    from fastcore.basics import AttrDict
    cell.outputs = [AttrDict(output_type='execute_result', execution_count=None, metadata={},
                             data={'text/markdown': md, 'text/plain': nm})]


def _source_doc(obj, nm):
    "show_doc-like markdown for `obj` (signature as written in its source, docstring, source link), without fastcore."
    import inspect, textwrap
    from nbdev.doclinks import NbdevLookup
    try: src = NbdevLookup().code(obj)
    except Exception: src = None
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(obj))).body[0]
        if isinstance(tree, ast.ClassDef):
            init = next((t for t in tree.body if isinstance(t, ast.FunctionDef) and t.name == '__init__'), None)
            args = ast.unparse(init.args).replace('self, ', '', 1).replace('self', '', 1) if init else ''
            sig = f'class {tree.name}(\n    {args}\n)'
        else:
            ret = f'->{ast.unparse(tree.returns)}' if getattr(tree, 'returns', None) else ''
            sig = f'def {tree.name}(\n    {ast.unparse(tree.args)}\n){ret}:'
    except Exception:
        try: sig = f'{nm}{inspect.signature(obj)}'
        except Exception: sig = nm
    doc = (inspect.getdoc(obj) or '').strip()
    if doc:
        first, _, rest = doc.partition('\n\n')
        doc = f'\n\n*{first.strip()}*' + (f'\n\n{rest}' if rest else '')
    link = f'[source]({src}){{target="_blank" style="float:right; font-size:smaller"}}\n\n' if src else ''
    return f'---\n\n{link}### {nm}\n\n```python\n{sig}\n```{doc}'


_re_ansi = re.compile(r'\x1B(?:[@-Z\\-_]|\[[0-?]*[ -/]*[@-~])')


def _procs():
    "nbdev's `FilterDefaults` with `exec_show_docs` made to run only the imports of a cell that mixes them with code."
    from nbdev.processors import FilterDefaults, exec_show_docs, _show_docs
    from execnb.nbio import NbCell

    _doc_dirs = {'export', 'exports', 'exporti', 'exec_doc'}

    class exec_show_docs_imports_only(exec_show_docs):
        "`exec_show_docs`, except that a cell mixing imports with other code runs its top-level imports only."

        def __call__(self, cell):
            trees = cell.parsed_() if cell.cell_type == 'code' else None
            if trees and not (cell.directives_.keys() & _doc_dirs) and not _show_docs(trees):
                imps = [t for t in trees if isinstance(t, (ast.Import, ast.ImportFrom))]
                if len(imps) < len(trees):
                    if not imps: return
                    cell = NbCell(cell.idx_, dict(cell_type='code', source='\n'.join(map(ast.unparse, imps)),
                                                  metadata={}, outputs=[], directives_=cell.directives_))
            super().__call__(cell)
            if trees and _show_docs(trees) and hasattr(self, 'k') and not any(
                    'text/markdown' in o.get('data', {}) for o in cell.get('outputs', [])):
                _fallback_show_doc(self, cell, trees)

    exec_show_docs_imports_only.__name__ = 'exec_show_docs'  # `skip_procs = exec_show_docs` still skips it

    class SiteFilter(FilterDefaults):
        def base_procs(self):
            return [exec_show_docs_imports_only if p is exec_show_docs else p for p in super().base_procs()]

    return SiteFilter()


def process_nb(nb):
    "Run nbdev's docs processors on `nb` in place; return its frontmatter with the full description."
    import contextlib, io
    desc = _split_title_cell(nb)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        warnings.filterwarnings('ignore', message='Found cells containing imports and other code')
        _procs()(nb)
    fm = dict(getattr(nb, 'frontmatter_', {}) or {})
    if desc: fm['description'] = desc
    return fm


# ---------------------------------------------------------------- from processed notebook to nbformat

_re_dir = re.compile(r'^\s*#\s*\|\s*([\w-]+)\s*:?\s*(.*?)\s*$')
_re_pandoc_link = re.compile(r'\[([^\]\n]*)\]\(([^)\s]*)\)\{([^}\n]*)\}')


def _pandoc_attrs(s):
    "Pandoc/Quarto attributes `{#id .cls key=\"v\"}` as HTML attributes."
    ids, cls, kv = [], [], []
    for m in re.finditer(r'''([\w-]+)=("[^"]*"|'[^']*'|\S+)|([#.])([\w-]+)''', s):
        if m.group(1): kv.append(f'{m.group(1)}="{html.escape(m.group(2).strip(chr(34) + chr(39)))}"')
        elif m.group(3) == '#': ids.append(m.group(4))
        else: cls.append(m.group(4))
    return ' '.join(([f'id="{ids[0]}"'] if ids else []) + ([f'class="{" ".join(cls)}"'] if cls else []) + kv)


def _fix_md(md: str) -> str:
    "Markdown that Quarto understands and mistune does not: `[txt](url){attrs}` links."
    md = md.replace('#LNone)', ')')  # nbdev's source link when it cannot find the line: link the file
    return _re_pandoc_link.sub(lambda m: f'<a href="{html.escape(m.group(2))}" {_pandoc_attrs(m.group(3))}>{m.group(1)}</a>', md)


def _showdoc_md(md: str) -> str:
    "show_doc markdown with an id on its heading that matches nbdev's doc links (`core.html#atomic_write`)."
    def _h(m):
        n, nm = len(m.group(1)), m.group(2)
        return f'<h{n} id="{html.escape(nm.lower())}" class="showdoc-name"><code>{html.escape(nm)}</code></h{n}>'
    return re.sub(r'^(#{1,6})[ \t]+(\S+)[ \t]*$', _h, _fix_md(md), count=1, flags=re.MULTILINE)


def to_nbformat(nb, fm):
    "The processed notebook as an nbformat node, with Quarto cell options applied and the title as a header cell."
    import nbformat
    from execnb.nbio import nb2str, mk_cell
    cells = []
    for cell in nb.cells:
        if cell.cell_type == 'raw' and not cells and cell.source.lstrip().startswith('---'): continue  # frontmatter
        if cell.cell_type == 'markdown': cell.set_source(_fix_md(cell.source))
        if cell.cell_type == 'code':
            lines, opts = cell.source.splitlines(), {}
            while lines and (m := _re_dir.match(lines[0])):
                opts[m.group(1)] = m.group(2).strip('"\'').lower(); lines.pop(0)
            cell.set_source('\n'.join(lines).strip('\n'))
            if opts.get('include') == 'false': continue
            if opts.get('output') == 'false': cell.outputs = []
            tags = list(cell.get('metadata', {}).get('tags', []))
            if opts.get('echo') == 'false' or not cell.source.strip(): tags.append('remove_input')
            if 'show_doc' in cell.source or getattr(cell, 'has_sd', False) or opts.get('output') == 'asis':
                tags.append('showdoc')
            for o in cell.get('outputs', []):
                md = o.get('data', {}).get('text/markdown')
                if md is not None:
                    md = ''.join(md) if isinstance(md, list) else md
                    o['data']['text/markdown'] = _showdoc_md(md) if 'showdoc' in tags else _fix_md(md)
            if not cell.source.strip() and not cell.get('outputs'): continue
            cell.pop('has_sd', None)
            cell.metadata = {**cell.get('metadata', {}), 'tags': tags}
            cell.metadata.pop('language', None)
        cells.append(cell)
    head = f"# {fm.get('title') or ''}".rstrip()
    if fm.get('description'): head += f"\n\n> {fm['description']}"
    if fm.get('title'): cells.insert(0, mk_cell(head, 'markdown'))
    nb.cells = cells
    node = nbformat.reads(nb2str(nb), as_version=4)
    node.metadata['title'] = fm.get('title') or ''
    return node


# ---------------------------------------------------------------- HTML

_CSS = r"""
body.jp-Notebook { padding: 0; margin: 0; }
.site-nav { position: fixed; top: 0; bottom: 0; left: 0; width: 15rem; box-sizing: border-box; overflow-y: auto;
  padding: 1.25rem 0.75rem; background: #f7f7f9; border-right: 1px solid #e3e3e8;
  font-family: var(--jp-ui-font-family); font-size: 14px; }
.site-nav .site-title { display: block; font-size: 1.15rem; font-weight: 600; color: #222; text-decoration: none;
  padding: 0 0.5rem 0.25rem; }
.site-nav .site-desc { color: #666; font-size: 12px; padding: 0 0.5rem 0.75rem; margin: 0; }
.site-nav ul { list-style: none; margin: 0; padding: 0; }
.site-nav li a { display: block; padding: 0.3rem 0.5rem; border-radius: 4px; color: #333; text-decoration: none; }
.site-nav li a:hover { background: #ebebf0; }
.site-nav li a.current { background: #e1e8fb; color: #1a3f9c; font-weight: 600; }
.site-nav .site-nb { color: #999; font-size: 11px; }
main.site-main { margin-left: 15rem; padding: 1rem 2rem 3rem; max-width: 64rem; box-sizing: border-box; }
main.site-main .jp-Cell { padding-left: 0; padding-right: 0; }
.jp-RenderedHTMLCommon h3.showdoc-name { margin-top: 0.5rem; }
.jp-RenderedHTMLCommon h3.showdoc-name code { font-size: 1.1em; background: none; }
.jp-RenderedMarkdown pre { background: var(--jp-cell-editor-background, #f7f7f7); padding: 0.5em 0.75em;
  border: 1px solid var(--jp-cell-editor-border-color, #e0e0e0); border-radius: 2px; }
.site-footer { color: #888; font-size: 12px; margin-top: 2rem; border-top: 1px solid #eee; padding-top: 0.5rem; }
@media (max-width: 800px) {
  .site-nav { position: static; width: auto; border-right: none; border-bottom: 1px solid #e3e3e8; }
  main.site-main { margin-left: 0; padding: 1rem; }
}
"""

_TEMPLATE = r"""{%- extends 'lab/index.html.j2' -%}
{%- block html_head -%}
{{ super() }}
<style type="text/css">{{ resources.site.css }}</style>
{%- endblock html_head -%}
{%- block body_header -%}
<body class="jp-Notebook" data-jp-theme-light="true" data-jp-theme-name="JupyterLab Light">
<nav class="site-nav"><!--SITE-NAV--></nav>
<main class="site-main">
{%- endblock body_header -%}
{% block body_footer %}
<footer class="site-footer">Built from <code>{{ resources.site.source }}</code> by <code>tools/build_site.py</code>.</footer>
</main>
</body>
{% endblock body_footer %}
"""


def make_exporter():
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter
    from traitlets.config import Config
    c = Config()
    c.TagRemovePreprocessor.enabled = True
    c.TagRemovePreprocessor.remove_input_tags = {'remove_input'}
    c.TagRemovePreprocessor.remove_cell_tags = {'remove_cell'}
    c.TagRemovePreprocessor.remove_all_outputs_tags = {'remove_output'}
    c.HTMLExporter.exclude_input_prompt = True
    c.HTMLExporter.exclude_output_prompt = True
    c.HTMLExporter.anchor_link_text = '¶'
    return HTMLExporter(config=c, template_name='lab', template_file='site.html.j2',
                        extra_loaders=[DictLoader({'site.html.j2': _TEMPLATE})])


def _href(target: str, page: str) -> str:
    "URL of site file `target` from site file `page` (both relative to the site root, posix)."
    return quote(os.path.relpath(target, os.path.dirname(page) or '.').replace(os.sep, '/'), safe='/#%')


def nav_html(pages, current, cfg) -> str:
    items = []
    for p in pages:
        cls = ' class="current"' if p['out'] == current else ''
        items.append(f'<li><a href="{_href(p["out"], current)}"{cls}>{html.escape(p["title"])}</a></li>')
    home = _href('index.html', current) if any(p['out'] == 'index.html' for p in pages) else '#'
    desc = f'<p class="site-desc">{html.escape(cfg.get("description", ""))}</p>' if cfg.get('description') else ''
    return (f'<a class="site-title" href="{home}">{html.escape(cfg.get("title", cfg.get("lib_name", "")))}</a>'
            f'{desc}<ul>{"".join(items)}</ul>')


# ---------------------------------------------------------------- links and files

_re_attr = re.compile(r'''(\b(?:href|src)\s*=\s*)(["'])(.*?)\2''', re.IGNORECASE | re.DOTALL)
_re_scheme = re.compile(r'^[a-zA-Z][a-zA-Z0-9+.-]*:')


class Linker:
    "Rewrites the links of a page and copies the files they point to into the site."
    def __init__(self, site: Path, nbs: Path, cfg, pages):
        self.site, self.nbs, self.cfg = site, nbs.resolve(), cfg
        self.cfg_nbs = Path(cfg.nbs_path).resolve()
        self.by_src = {Path(p['src']).resolve(): p['out'] for p in pages}
        self.outs = {p['out'] for p in pages}
        self.doc_url = (cfg.get('doc_host', '') + cfg.get('doc_baseurl', '')).rstrip('/') + '/'
        self.gh = f"{cfg.get('git_url', '').rstrip('/')}/%s/{cfg.get('branch', 'main')}/"
        self.problems = []

    def _inside(self, p: Path, d: Path):
        try: return p.relative_to(d)
        except ValueError: return None

    def _candidates(self, path: str, src: Path):
        yield (src.parent / path).resolve()
        c = (ROOT / path).resolve()
        r = self._inside(c, self.cfg_nbs)
        yield (self.nbs / r).resolve() if r is not None else c

    def _target(self, path: str, src: Path):
        "Site-relative target (or an absolute URL) for relative `path` written in notebook `src`; None if missing."
        for c in self._candidates(path, src):
            if c in self.by_src: return self.by_src[c]
            if not c.exists(): continue
            rel_nbs, rel_root = self._inside(c, self.nbs), self._inside(c, ROOT)
            rel = rel_nbs if rel_nbs is not None else rel_root
            if rel is None: continue  # outside the notebooks and the repository: never copied
            if c.is_dir() or c.suffix == '.ipynb' or c.stat().st_size > MAX_COPY:
                if rel_root is None or not self.cfg.get('git_url'): continue
                return self.gh % ('tree' if c.is_dir() else 'blob') + quote(rel_root.as_posix())
            dest = rel.as_posix()
            if dest in self.outs or dest == MARKER: continue
            (self.site / dest).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(c, self.site / dest)
            return dest
        return None

    def rewrite(self, page_html: str, page: dict) -> str:
        src, out = Path(page['src']), page['out']

        def _sub(m):
            url = html.unescape(m.group(3)).strip()
            if not url or url.startswith('#') or url.startswith('//'): return m.group(0)
            if url.startswith(self.doc_url):  # this library's published docs: the page here
                path, _, frag = url[len(self.doc_url):].partition('#')
                path = path or 'index.html'
                if path not in self.outs: return m.group(0)
                new = _href(path, out) + (f'#{frag}' if frag else '')
            elif _re_scheme.match(url): return m.group(0)
            else:
                parts = urlsplit(url)
                if parts.path.startswith('/'):
                    self.problems.append(f'{src.name}: absolute path {url}')
                    return m.group(0)
                tgt = self._target(unquote(parts.path), src)
                if tgt is None:
                    self.problems.append(f'{src.name}: broken link {url}')
                    return m.group(0)
                frag = f'#{parts.fragment}' if parts.fragment else ''
                new = tgt + frag if _re_scheme.match(tgt) else _href(tgt, out) + frag
            return f'{m.group(1)}{m.group(2)}{html.escape(new, quote=True)}{m.group(2)}'
        return _re_attr.sub(_sub, page_html)


# ---------------------------------------------------------------- build

def list_nbs(nbs: Path):
    "Notebooks as nbdev lists them (`nbglob`, `recursive` from settings.ini), each folder's index first."
    from nbdev.doclinks import nbglob
    files = [Path(o) for o in nbglob(nbs)]
    def _key(p):
        r = p.relative_to(nbs)
        return (r.parent.as_posix(), '' if r.stem == 'index' else r.name)
    return sorted(files, key=_key)


def _prepare_out(out: Path):
    if out.exists():
        if not out.is_dir(): raise SystemExit(f'build_site: --out {out} is a file')
        if any(out.iterdir()):
            if not (out / MARKER).exists():
                raise SystemExit(f'build_site: --out {out} is not empty and was not written by this script; '
                                 'choose another folder or empty it')
            shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text('written by tools/build_site.py; the folder is emptied on the next build\n')


def build(out: Path, nbs: Path, strict=False, quiet=False):
    from execnb.nbio import read_nb
    from nbdev.config import get_config
    from nbdev.doclinks import _nbpath2html
    t0 = time.time()
    cfg = get_config()
    files = list_nbs(nbs)
    if not files: raise BuildError(f'no notebooks in {nbs}')

    # 1. read every notebook first, so a corrupt one fails the build at once
    pages, seen = [], {}
    for f in files:
        name = f.relative_to(nbs).as_posix()
        try: nb = read_nb(f)
        except Exception as e: raise BuildError(f'{name}: cannot read the notebook: {_one_line(e)}') from e
        outp = _nbpath2html(f.relative_to(nbs)).as_posix()
        if outp in seen: raise BuildError(f'{name}: its page {outp} is also the page of {seen[outp]}')
        seen[outp] = name
        pages.append(dict(src=str(f), name=name, out=outp, nb=nb))

    # 2. nbdev's docs processing (runs show_doc), one page at a time
    problems = []
    os.environ['IN_TEST'] = '1'  # as nbdev.serve_drv does while it processes notebooks
    for p in pages:
        t = time.time()
        try:
            p['fm'] = process_nb(p['nb'])
            p['node'] = to_nbformat(p['nb'], p['fm'])
        except Exception as e: raise BuildError(f'{p["name"]}: cannot process the notebook: {_one_line(e)}') from e
        p['title'] = p['fm'].get('title') or Path(p['name']).stem
        for msg in p['nb'].get('sd_fallbacks_', []):
            problems.append(f'{p["name"]}: {msg}; rendered its signature from the source instead')
        if not quiet: print(f'  processed {p["name"]} ({time.time() - t:.1f} s)', flush=True)

    # 3. HTML, navigation, links
    _prepare_out(out)
    exporter, linker = make_exporter(), Linker(out, nbs, cfg, pages)
    for p in pages:
        res = dict(site=dict(css=_CSS, source=f'{nbs.name}/{p["name"]}'),
                   metadata=dict(name=p['title']))
        try: body, _ = exporter.from_notebook_node(p['node'], resources=res)
        except Exception as e: raise BuildError(f'{p["name"]}: cannot render the notebook: {_one_line(e)}') from e
        body = linker.rewrite(body, p).replace('<!--SITE-NAV-->', nav_html(pages, p['out'], cfg), 1)
        dest = out / p['out']
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(body, encoding='utf-8')
    problems += linker.problems
    for msg in problems: print(f'build_site: {"error" if strict else "warning"}: {msg}', file=sys.stderr)
    if strict and problems: raise BuildError(f'{len(problems)} problem(s), listed above (--strict)')
    if not quiet: print(f'build_site: {len(pages)} pages in {out} ({time.time() - t0:.0f} s)')
    return pages


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--out', default=None, help='folder to write the site to (default: _site in the repository)')
    ap.add_argument('--nbs', default=None, help="notebooks folder (default: nbs_path in settings.ini)")
    ap.add_argument('--strict', action='store_true', help='fail on a link that resolves to nothing or a show_doc that fails')
    ap.add_argument('--quiet', action='store_true', help='print only problems')
    a = ap.parse_args(argv)
    out = Path(a.out).resolve() if a.out else ROOT / '_site'
    nbs = Path(a.nbs).resolve() if a.nbs else None
    os.chdir(ROOT)  # nbdev finds settings.ini from the working directory
    from nbdev.config import get_config
    nbs = nbs or Path(get_config().nbs_path).resolve()
    if not nbs.is_dir(): raise SystemExit(f'build_site: no notebooks folder {nbs}')
    if out == ROOT or out in ROOT.parents or out == nbs: raise SystemExit(f'build_site: refusing to write the site to {out}')
    try: build(out, nbs, strict=a.strict, quiet=a.quiet)
    except BuildError as e:
        print(f'build_site: failed: {e}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__': sys.exit(main())
