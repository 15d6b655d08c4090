"The benchmark scripts run (a dry run each, on the CPU): a GPU session should not find them broken."
import subprocess, sys
from pathlib import Path
import pandas as pd, pytest

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
    assert df.ipc.tolist() == [1] and (df[['hand_eager_ms', 'library_eager_ms', 'library_compiled_ms']] > 0).all().all()


CIFAR10 = Path.home() / '.fastai' / 'data' / 'cifar10'
needs_cifar10 = pytest.mark.skipif(not (CIFAR10 / 'train').is_dir(), reason="the trees are made of CIFAR-10's images")


@needs_cifar10
def test_streaming_quick(tmp_path):
    "Each part measured on its own (`--parts`), the second added to the first's CSV: together the whole benchmark."
    out = tmp_path / 's.csv'
    r = run('benchmarks/streaming.py', '--quick', '--parts', 'tree', '--out', out, '--tree_dir', tmp_path / 'trees')
    assert r.returncode == 0, r.stderr
    trees = pd.read_csv(out)
    assert set(trees.part) == {'tree'} and '| 400 |' in r.stdout and 'stream / float' not in r.stdout
    w = trees.pivot(index='size', columns='measure', values='value')
    assert w.train_images.tolist() == [200, 400]
    rates = ['decode_images_per_s', 'expert_images_per_s', 'score_images_per_s', 'rss_main_mb', 'rss_worker_mb']
    assert (w[rates] > 0).all().all()
    assert not list((tmp_path / 'trees').iterdir())  # each tree removed once measured
    r = run('benchmarks/streaming.py', '--quick', '--parts', 'cifar10', '--out', out)
    assert r.returncode == 0, r.stderr
    df = pd.read_csv(out)  # the trees' rows kept as they were, the CIFAR-10 part's added
    pd.testing.assert_frame_equal(df[df.part == 'tree'][trees.columns].reset_index(drop=True), trees, check_dtype=False)
    c = df[df.part == 'cifar10']
    assert set(c.backing) == {'float', 'stream'} and c[c.measure == 'test_acc'].value.between(0, 1).all()
    assert '| 400 |' in r.stdout and 'stream / float' in r.stdout  # the section rendered from both parts


@needs_cifar10
def test_gpu_resnet18_epoch_dry_run(tmp_path):
    r = run('benchmarks/gpu_resnet18_epoch.py', '--dry_run', '--out', tmp_path / 'g.csv', '--tree_dir', tmp_path)
    assert r.returncode == 0, r.stderr
    v = pd.read_csv(tmp_path / 'g.csv').set_index('measure').value
    assert v['train_images_per_s'] > 0 and v['decode_images_per_s_per_process'] > 0
    assert v['train_images_per_s_per_gpu'] == v['train_images_per_s']  # one process
    assert not list(tmp_path.glob('ld_resnet18_tree_*'))  # the tree removed

