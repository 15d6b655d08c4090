"""Execute notebooks in place so that they keep their outputs (the results notebooks and `index.ipynb`), skipping the
cells `nbdev_test` skips: those flagged with a test flag of `settings.ini` (`#| slow`) and `#| eval: false`.

    python tools/run_nb.py nbs/index.ipynb nbs/12_reproduce.ipynb

Cells run in the notebook's folder, as under `nbdev_test`; execution counts are cleared afterwards (`nbdev_clean`'s
rule), outputs kept. Stops with status 1 at the first cell that raises.
"""
import logging, os, re, sys, tempfile, warnings
from configparser import ConfigParser
from pathlib import Path
from execnb.nbio import read_nb, write_nb
from execnb.shell import CaptureShell

ROOT = Path(__file__).resolve().parent.parent


def skipped(cell, flags) -> bool:
    if cell.cell_type != 'code': return True
    d = {x.replace(' ', '') for x in re.findall(r'^#\|\s*(.+?)\s*$', cell.source, re.M)}
    return bool(d & flags) or 'eval:false' in d


def run(path):
    warnings.filterwarnings('ignore', message='.*torch.jit.script.*')  # raised by an import inside fastai; kept out of the outputs
    # torch says so on a machine with CUDA_HOME set but no GPU, once per process: not the notebook's output
    logging.getLogger('torch.utils.cpp_extension').setLevel(logging.ERROR)
    cfg = ConfigParser(); cfg.read(ROOT/'settings.ini')
    flags = set(cfg['DEFAULT'].get('tst_flags', '').split())
    path = Path(path).resolve(); nb = read_nb(path)
    os.environ.setdefault('LD_NBDEV_CACHE', tempfile.mkdtemp())  # examples keep their experts out of the user's cache
    here = Path.cwd(); os.chdir(path.parent)
    try:
        sh = CaptureShell(path)
        sh.run_all(nb, exc_stop=True, preproc=lambda c: skipped(c, flags))
    except Exception:
        sys.exit(f'run_nb: {path.name}: a cell raised\n{sh.prettytb(fname=path)}')
    finally: os.chdir(here)
    for c in nb.cells:
        if c.cell_type == 'code': c.execution_count = None
        for o in c.get('outputs', []):
            if 'execution_count' in o: o['execution_count'] = None
    write_nb(nb, path)


if __name__ == '__main__':
    for p in sys.argv[1:]: run(p)
