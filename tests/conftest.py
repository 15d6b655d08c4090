import io, os, shutil, subprocess, sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
import pytest

BIN = Path(sys.executable).parent


@pytest.fixture(scope='session')
def warm_cache(tmp_path_factory):
    "One expert/data cache for the whole session: the digits experts most tests share are trained once."
    return tmp_path_factory.mktemp('cache')


@pytest.fixture(autouse=True)
def cache(warm_cache, monkeypatch):
    "Tests use the session's cache (never the user's); a test that needs an empty one asks for `empty_cache`."
    monkeypatch.setenv('LD_NBDEV_CACHE', str(warm_cache))
    return warm_cache


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    monkeypatch.setenv('LD_NBDEV_CACHE', str(tmp_path / 'cache'))
    return tmp_path / 'cache'


def run_cli(*args, timeout=600, prog='ld_baseline'):
    "Run the installed console script `prog` (`ld_baseline` by default) as a new process; return the finished process."
    exe = shutil.which(prog, path=str(BIN)) or shutil.which(prog)
    assert exe, f'{prog} is not installed'
    return subprocess.run([exe, *map(str, args)], capture_output=True, text=True, timeout=timeout, env=os.environ.copy())


def cli(*args, prog='ld_run'):
    "Run `prog`'s function in this process (what the console script calls): `(exit status, stdout, stderr)`."
    from ld_nbdev import cli as c
    fn = {'ld_run': c.ld_run, 'ld_baseline': c.ld_baseline, 'ld_table2': c.ld_table2}[prog]
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try: fn([str(a) for a in args]); code = 0
        except SystemExit as e: code = e.code or 0
    return code, out.getvalue(), err.getvalue()


def one_line_error(code, err, msg, prog):
    "The refusal the command line promises: exit status 2, one line on stderr naming the problem, no traceback."
    lines = err.strip().splitlines()
    assert code == 2, (code, err)
    assert len(lines) == 1 and lines[0].startswith(f'{prog}: error:') and msg in lines[0], err
    assert 'Traceback' not in err


@pytest.fixture(scope='session')
def cifar10_agreement_splits(warm_cache):
    "CIFAR-10's whole test set (1,000 a class) and a fifth of train, decoded and prepared once for the run."
    from ld_nbdev.data import cifar10_path, get_dataset, prepare
    if not (cifar10_path() / 'test').exists(): pytest.skip('CIFAR-10 is not installed')
    with pytest.MonkeyPatch.context() as m:
        m.setenv('LD_NBDEV_CACHE', str(warm_cache))
        return prepare(get_dataset('cifar10', max_per_class=1000, show=False), seed=0)
