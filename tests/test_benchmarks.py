"The benchmark scripts run (a dry run each, on the CPU): a GPU session should not find them broken."
import subprocess, sys
from pathlib import Path
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent


def run(*args, timeout=600):
    return subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def test_many_students_gpu_dry_run(tmp_path):
    r = run('benchmarks/many_students_gpu.py', tmp_path / 'm.csv', '--dry-run')
    assert r.returncode == 0, r.stderr
    df = pd.read_csv(tmp_path / 'm.csv')
    assert set(df.method) == {'one after another', 'stacked', 'eager hand-written loop'}
    assert (df.students_per_s > 0).all() and (df[df.method == 'eager hand-written loop'].speedup_vs_eager_loop == 1).all()


def test_compile_speed_quick(tmp_path):
    r = run('benchmarks/compile_speed.py', '--quick', '--out', tmp_path / 'c.csv')
    assert r.returncode == 0, r.stderr
    df = pd.read_csv(tmp_path / 'c.csv')
    assert df.ipc.tolist() == [1, 10, 50] and (df[['hand_eager_ms', 'library_eager_ms', 'library_compiled_ms']] > 0).all().all()
