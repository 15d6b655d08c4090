"tools/wrap_lines.py: long exported lines wrapped within the limit, the code's syntax tree unchanged."
import ast, sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / 'tools'))
from wrap_lines import LIMIT, _norm, wrap_source


def test_wrapping_keeps_the_syntax_tree_and_meets_the_limit():
    src = ('def f(a, b):\n    "' + 'word ' * 40 + 'end"\n'
           '    out = dict(alpha=a, beta=b, gamma=a + b, delta=a * b, epsilon=a - b, zeta=a / b, eta=a ** b, theta=a // b)'
           '  # ' + 'note ' * 10 + '\n'
           "    return check(out, f'a message that runs on and on about {a} and {b} until it is longer than the limit allows')\n")
    assert any(len(l) > LIMIT for l in src.splitlines())
    new, left = wrap_source(src)
    assert left == 0 and all(len(l) <= LIMIT for l in new.splitlines()), new
    assert _norm(ast.parse(new)) == _norm(ast.parse(src))  # docstrings compared by their words
    assert '# note note' in new  # the trailing comment kept, above its line
