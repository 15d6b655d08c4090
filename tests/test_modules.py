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
