"""`ld_run table1` end to end on a tiny ILSVRC-layout tree that tools/make_imagenet_tree.py writes from digits; its bad
input; old trial keys."""
import csv, json, subprocess, sys
from dataclasses import fields
from pathlib import Path
import pandas as pd, pytest
from ld_nbdev.student import StudentConfig
from ld_nbdev.sweep import Trial
from ld_nbdev.table1 import PAPER_TABLE1, TABLE1_IPCS
from conftest import cli, one_line_error

ROOT = Path(__file__).parents[1]
TINY = ['--preset', 'table1_digits', '--quiet', '--cpu']


@pytest.fixture(scope='module')
def tree(tmp_path_factory) -> Path:
    "An ILSVRC-2012 tree of 16 px digits, 6 training and 3 val images per class, flat val/ with LOC_val_solution.csv."
    out = tmp_path_factory.mktemp('tree')/'imagenet'
    subprocess.run([sys.executable, str(ROOT/'tools'/'make_imagenet_tree.py'), '--out', str(out), '--source', 'digits',
                    '--per_class', '6', '--val_per_class', '3', '--size', '16'], check=True, capture_output=True)
    return out


def test_table1_end_to_end(tree, tmp_path):
    out = tmp_path/'t1'
    code, _, err = cli('table1', *TINY, '--data', tree, '--out', out, '--select_expert_epochs', '1',
                       '--backing', 'stream')
    assert code == 0, err  # the files streamed, as --full streams them (the notebook runs the in-memory path)
    rec = pd.read_csv(out/'table1.csv')
    ipcs = sorted({1, 2} | set(TABLE1_IPCS))
    assert rec[['ipc', 'labels']].values.tolist() == [[i, k] for i in ipcs for k in ('hard', 'soft')]
    m = rec[rec.status == 'measured']
    assert sorted(set(m.ipc)) == [1, 2] and set(rec[rec.ipc > 2].status) == {'not yet measured'}
    assert m.acc_mean.between(0, 100).all() and (m.students == 1).all() and set(m.protocol) == {'custom'}
    paper = PAPER_TABLE1.set_index(['ipc', 'labels']).acc
    got = rec.set_index(['ipc', 'labels']).paper_acc
    assert all(got[k] == v for k, v in paper.items()) and got[[(1, 'hard'), (2, 'soft')]].isna().tolist() == [False,
                                                                                                              True]
    led = pd.read_csv(out/'ledger.csv')
    assert set(led.arch) == {'resnet18'} and set(led.opt) == {'adamw'} and set(led.sched) == {'cos'}
    run = json.loads((out/'run.json').read_text())
    assert run['expert']['aug'] == 'rrc' and run['protocol']['backing'] == 'stream'
    sel = pd.read_csv(out/'selection.csv')
    assert set(sel[sel['labels'] == 'soft'].expert_epoch) == {1.0}  # the one candidate checkpoint asked for
    md = (out/'table1.md').read_text()
    assert '| IPC | hard | soft | paper: hard | paper: soft |' in md
    assert '| 10 | not yet measured | not yet measured | 3.9 | 23.9 |' in md
    assert (out/'accuracy_vs_ipc.png').stat().st_size > 0


@pytest.mark.parametrize('args,msg', [
    (['--student_opt', 'adam'], "--student_opt: unknown optimiser 'adam'"),
    (['--student_sched', 'linear'], "--student_sched: unknown schedule 'linear'"),
    (['--student_wd', '-0.1'], '--student_wd must be >= 0'),
    (['--select_expert_epochs', '3'], '--select_expert_epochs 3: the expert has checkpoints after epochs 1 to 1'),
    (['--expert_aug', 'crop'], "unknown expert augmentation 'crop'"),
])
def test_table1_bad_input(tree, tmp_path, args, msg):
    code, _, err = cli('table1', *TINY, '--data', tree, '--out', tmp_path/'t1', *args)
    one_line_error(code, err, msg, 'ld_run table1')
    assert not (tmp_path/'t1').exists()  # refused before any work


def test_table1_without_a_tree(tmp_path, monkeypatch):
    monkeypatch.setenv('LD_NBDEV_IMAGENET', str(tmp_path/'nowhere'))
    code, _, err = cli('table1', *TINY, '--out', tmp_path/'t1')
    one_line_error(code, err, 'ILSVRC-2012 is not at', 'ld_run table1')


def test_tree_script_refuses_a_full_folder(tree):
    p = subprocess.run([sys.executable, str(ROOT/'tools'/'make_imagenet_tree.py'), '--out', str(tree), '--source',
                        'digits'],
                       capture_output=True, text=True)
    assert p.returncode == 2 and 'not empty' in p.stderr.strip().splitlines()[-1]

