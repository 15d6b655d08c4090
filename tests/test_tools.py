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


def test_run_nb_keeps_outputs_but_not_torchs_cuda_home_warning_and_skips_flagged_cells(tmp_path):
    "tools/run_nb.py: a cell's print kept, torch's no-CUDA-runtime log line left out, a `#| slow` cell not run, counts cleared."
    import subprocess
    from execnb.nbio import mk_cell, new_nb, read_nb, write_nb
    nb = tmp_path / 'n.ipynb'
    write_nb(new_nb([mk_cell("import torch, logging\n"
                             "logging.getLogger('torch.utils.cpp_extension').warning('No CUDA runtime is found')\nprint('kept')"),
                     mk_cell("#| slow\nraise RuntimeError('a flagged cell ran')")]), nb)
    tool = Path(__file__).resolve().parent.parent / 'tools' / 'run_nb.py'
    r = subprocess.run([sys.executable, str(tool), str(nb)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    cells = read_nb(nb).cells
    outs = cells[0].outputs
    assert [o.get('name') for o in outs] == ['stdout'] and ''.join(outs[0]['text']) == 'kept\n', outs
    assert not cells[1].get('outputs') and cells[0].execution_count is None
