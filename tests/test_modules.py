"Every exported function finds the names it uses in its own module: a notebook's test cells import things the exported module may lack."
import builtins, importlib, symtable
from pathlib import Path

PKG = Path(__file__).parents[1] / 'ld_nbdev'


def _unresolved(src:str, mod) -> list:
    out = []
    def walk(t):
        for ch in t.get_children():
            if ch.get_type() in ('function', 'class'):
                for s in ch.get_symbols():
                    n = s.get_name()
                    if s.is_global() and s.is_referenced() and not hasattr(mod, n) and not hasattr(builtins, n): out.append(f'{ch.get_name()}: {n}')
            walk(ch)
    walk(symtable.symtable(src, 'module', 'exec'))
    return out


def test_the_check_finds_a_missing_import():
    assert _unresolved('def f():\n    return warnings.catch_warnings()\n', object()) == ['f: warnings']


def test_every_module_resolves_its_names():
    bad = {}
    for f in sorted(PKG.rglob('*.py')):
        if f.name == '_modidx.py': continue
        name = '.'.join(f.relative_to(PKG.parent).with_suffix('').parts)
        if miss := _unresolved(f.read_text(), importlib.import_module(name)): bad[name] = miss
    assert not bad, bad


def _imports(name:str) -> set:
    "The ld_nbdev modules the module `name` imports, read from its source (relative and absolute imports alike)."
    import ast
    f = PKG.parent.joinpath(*name.split('.')).with_suffix('.py')
    if not f.exists(): f = f.with_suffix('') / '__init__.py'
    pkg, out = name.rsplit('.', 1)[0], set()
    for node in ast.walk(ast.parse(f.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = pkg.rsplit('.', node.level - 1)[0] if node.level else ''
            mod = '.'.join(p for p in (base, node.module) if p)
            if mod.startswith('ld_nbdev'): out.add(mod)
        elif isinstance(node, ast.Import): out |= {a.name for a in node.names if a.name.startswith('ld_nbdev')}
    return out


def _reach(name:str) -> set:
    "Every ld_nbdev module `name` imports, directly or through others."
    seen, todo = set(), [name]
    while todo:
        for m in _imports(todo.pop()) - seen: seen.add(m); todo.append(m)
    return seen


def test_the_import_walk_sees_through_modules():
    assert {'ld_nbdev.sets', 'ld_nbdev.data', 'ld_nbdev.core'} <= _reach('ld_nbdev.labels')
    assert 'ld_nbdev.readers' in _reach('ld_nbdev.analyses.evaluate')


def test_the_engine_imports_no_reader():
    "Labels, images and the sweep stand below the readers of published layouts: loading the engine loads no reader."
    for m in ('ld_nbdev.labels', 'ld_nbdev.images', 'ld_nbdev.sweep'):
        assert 'ld_nbdev.readers' not in _reach(m), m
