import os, shutil, subprocess, sys
from pathlib import Path
import pytest

BIN = Path(sys.executable).parent


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    "Every test gets an empty expert/data cache of its own."
    monkeypatch.setenv('LD_NBDEV_CACHE', str(tmp_path / 'cache'))
    return tmp_path / 'cache'


def run_cli(*args, timeout=600, prog='ld_baseline'):
    "Run the installed console script `prog` (`ld_baseline` by default); return the finished process."
    exe = shutil.which(prog, path=str(BIN)) or shutil.which(prog)
    assert exe, f'{prog} is not installed'
    return subprocess.run([exe, *map(str, args)], capture_output=True, text=True, timeout=timeout, env=os.environ.copy())
