"The full-data calibration script (benchmarks/cifar10_full_data/calibrate.py) on a few CIFAR-10 images a class."
from test_benchmarks import run, needs_cifar10
import pandas as pd


@needs_cifar10
def test_full_data_calibration_quick(tmp_path):
    "The calibration trains, scores every epoch, writes its record, and refuses to continue a run under other --epochs."
    args = ['benchmarks/cifar10_full_data/calibrate.py', '--max_per_class', '8', '--out', tmp_path]
    r = run(*args, '--epochs', '2')
    assert r.returncode == 0, r.stderr
    curve = pd.read_csv(tmp_path / 'curve.csv')
    assert curve.epoch.tolist() == [1, 2] and curve[['valid_acc', 'test_acc']].stack().between(0, 1).all()
    assert 'CIFAR-10, full data' in (tmp_path / 'full_data.md').read_text()
    r = run(*args, '--epochs', '3')
    assert r.returncode == 2 and r.stderr.strip().splitlines()[-1].endswith(
        'trains 2 epochs (its schedule depends on them); give --epochs 2, or a new --out'), r.stderr
