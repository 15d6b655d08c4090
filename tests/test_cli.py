"The command line from the outside: one end-to-end digits run by the installed script, the rest in process on small runs."
import json
from pathlib import Path
import numpy as np, pandas as pd, pytest, torch
from PIL import Image
from ld_nbdev.data import cifar10_path
from conftest import run_cli, cli, one_line_error

FILES = ['accuracy_vs_ipc.png', 'config.json', 'expert_trajectory.csv', 'ledger.csv', 'results.csv', 'run.json', 'selection.csv',
         'summary.csv', 'table.txt', 'wall.json']
SMALL = ['--dataset', 'digits', '--ipc', '2', '--students', '1', '--epochs', '15', '--expert_epochs', '2', '--steps', '4', '36',
         '--quiet', '--cpu']


@pytest.fixture(scope='module')
def epoch_run(tmp_path_factory, warm_cache):
    "One small digits `expert_epoch` run that the analyses below reuse (`--reuse`): its choosing students are trained once."
    import os
    os.environ['LD_NBDEV_CACHE'] = str(warm_cache)
    out = tmp_path_factory.mktemp('runs') / 'e'
    code, _, err = cli('expert_epoch', *SMALL, '--out', out)
    assert code == 0, err
    return out, pd.read_csv(out / 'ledger.csv', dtype={'key': str})


def test_digits_default_protocol_end_to_end(tmp_path):
    "The installed `ld_baseline`, on the digits preset as a new user runs it."
    out = tmp_path / 'digits'
    r = run_cli('--dataset', 'digits', '--out', out, '--quiet')
    assert r.returncode == 0, r.stderr
    assert sorted(f.name for f in out.iterdir()) == FILES
    res = pd.read_csv(out / 'results.csv')
    assert len(res) == 2 * 2 * 3  # IPC 1 and 10 x hard/soft x 3 students
    assert set(res.labels) == {'hard', 'soft'} and res.test_acc.between(0, 1).all()
    assert res.groupby('ipc').expert_step.nunique().eq(1).all()  # one chosen checkpoint per IPC
    assert res[res.ipc == 10].test_acc.mean() > 0.5  # the students learned: well above chance (10 %) with 10 images per class
    assert pd.read_csv(out / 'summary.csv').students.tolist() == [3, 3, 3, 3]
    rec = json.loads((out / 'run.json').read_text())
    assert rec['dataset'] == 'digits' and rec['protocol']['epochs'] == 100 and rec['experiment'] == 'baseline'
    assert rec['device'] == ('cuda' if torch.cuda.is_available() else 'cpu')  # CUDA whenever there is one


def test_prints_table_and_reuses_expert(tmp_path, empty_cache):
    args = ['--dataset', 'digits', '--ipc', '2', '--students', '1', '--epochs', '10', '--expert_epochs', '1']
    code, out, err = cli(*args, '--out', tmp_path / 'a', prog='ld_baseline')
    assert code == 0, err
    assert 'IPC' in out and 'hard' in out and 'soft' in out
    experts = list((empty_cache / 'experts').iterdir())
    assert len(experts) == 1
    mtime = (experts[0] / 'trajectory.csv').stat().st_mtime
    assert cli(*args, '--out', tmp_path / 'b', '--quiet', prog='ld_baseline')[0] == 0
    assert list((empty_cache / 'experts').iterdir()) == experts
    assert (experts[0] / 'trajectory.csv').stat().st_mtime == mtime  # reused, not retrained
    a, b = (pd.read_csv(tmp_path / d / 'results.csv') for d in 'ab')
    assert a.test_acc.tolist() == b.test_acc.tolist()  # same seed, same process, same numbers


def test_force_overwrites_only_when_asked(tmp_path):
    out = tmp_path / 'o'
    args = ['--dataset', 'digits', '--ipc', '1', '--students', '1', '--expert_epochs', '1', '--out', out, '--quiet']
    assert cli(*args, '--epochs', '5', prog='ld_baseline')[0] == 0
    (out / 'mine.txt').write_text('keep me')
    one_line_error(*cli(*args, '--epochs', '6', prog='ld_baseline')[::2], 'pass --force', 'ld_baseline')  # another run there
    assert (out / 'mine.txt').exists() and json.loads((out / 'config.json').read_text())['epochs'] == 5
    assert cli(*args, '--epochs', '5', prog='ld_baseline')[0] == 0  # the same run resumes and touches nothing else
    assert (out / 'mine.txt').exists()
    assert cli(*args, '--epochs', '6', '--force', prog='ld_baseline')[0] == 0
    assert not (out / 'mine.txt').exists() and json.loads((out / 'config.json').read_text())['epochs'] == 6


@pytest.mark.skipif(not (cifar10_path() / 'train').exists(), reason='CIFAR-10 is not installed (../shared/data/install_cifar10.sh)')
def test_cifar10_subset(tmp_path):
    out = tmp_path / 'c10'
    code, _, err = cli('--max_per_class', '40', '--ipc', '1', '2', '--students', '1', '--epochs', '5', '--expert_steps', '1',
                       '--out', out, '--quiet', prog='ld_baseline')
    assert code == 0, err
    res = pd.read_csv(out / 'results.csv')
    assert len(res) == 2 * 2 and set(res.dataset) == {'cifar10'}
    assert json.loads((out / 'run.json').read_text())['expert']['steps'] == [1]


def test_imagefolder_tree(tmp_path):
    root = tmp_path / 'tree'
    rng = np.random.default_rng(0)
    for split, n in (('train', 12), ('val', 4)):
        for c, base in (('red', (200, 30, 30)), ('blue', (30, 30, 200)), ('green', (30, 200, 30))):
            (root / split / c).mkdir(parents=True)
            for i in range(n):
                px = np.clip(np.array(base) + rng.integers(-30, 30, (16, 16, 3)), 0, 255).astype(np.uint8)
                Image.fromarray(px).save(root / split / c / f'{i}.png')
    out = tmp_path / 'o'
    code, _, err = cli('--data', root, '--ipc', '2', '--students', '1', '--epochs', '20', '--valid_frac', '0.25', '--expert_steps', '1',
                       '--out', out, '--quiet', prog='ld_baseline')
    assert code == 0, err
    res = pd.read_csv(out / 'results.csv')
    assert set(res.dataset) == {'tree'} and len(res) == 2
    assert res.test_acc.max() > 0.5  # three colours are easy to tell apart


def test_grids_and_ensemble_from_the_command_line(tmp_path):
    "Several learning rates and temperatures are chosen between on validation; two experts add ensemble students;\n    the expert keeps checkpoints at the steps asked for."
    out = tmp_path / 'g'
    code, _, err = cli('--dataset', 'digits', '--ipc', '1', '2', '--students', '2', '--epochs', '20', '10', '--select_epochs', '5',
                       '--lr', '0.01', '0.03', '--temperature', '1', '2', '--experts', '2', '--expert_epochs', '1',
                       '--expert_steps', '3', '5', '--out', out, '--quiet', prog='ld_baseline')
    assert code == 0, err
    res, sel = pd.read_csv(out / 'results.csv'), pd.read_csv(out / 'selection.csv')
    assert sorted(set(res.labels)) == ['ensemble', 'hard', 'soft', 'soft_T'] and len(res) == 2 * 4 * 2
    assert res.groupby('ipc').epochs.first().tolist() == [20, 10]
    traj = pd.read_csv(out / 'expert_trajectory.csv')  # step 0, the steps asked for, the end of the one epoch
    assert traj.step.tolist() == [0, 3, 5, traj.step.max()] and traj.step.max() > 5
    assert sorted(set(sel.step.dropna())) == [3, 5, traj.step.max()]
    assert (sel.groupby('ipc').size() == 2 + 3 * 2 * 2).all()  # 2 hard lrs; 3 checkpoints x 2 T x 2 lrs
    for ipc, s in sel.groupby('ipc'):  # the soft students used the best T = 1 candidate on validation
        soft = s[(s.labels == 'soft') & (s['T'] == 1)].sort_values('student_valid_acc', ascending=False, kind='stable').iloc[0]
        row = res[(res.ipc == ipc) & (res.labels == 'soft')].iloc[0]
        assert row.select_valid_acc == soft.student_valid_acc and row.lr in (0.01, 0.03)
    assert (res[res.labels == 'ensemble'].experts == 2).all() and len(json.loads((out / 'run.json').read_text())['ensemble_paths']) == 1


def test_ld_table2_refuses_a_busy_folder_and_documents_itself(tmp_path):
    out = tmp_path / 'busy'; out.mkdir(); (out / 'mine.txt').write_text('keep me')
    one_line_error(*cli('--out', out, prog='ld_table2')[::2], 'pass --force', 'ld_table2')
    assert sorted(p.name for p in out.iterdir()) == ['mine.txt']
    code, text, _ = cli('--help', prog='ld_table2')
    assert code == 0 and '--full' in text and '--out' in text and 'table2_cpu' in text


REF = Path(__file__).parent / 'data' / 'before_sweep'


@pytest.mark.parametrize('name,args', [
    ('digits', ['--expert_epochs', '2', '--expert_lr', '0.05', '--expert_bs', '64', '--expert_steps', '2', '4', '8']),
    ('grid', ['--ipc', '1', '2', '--students', '2', '--epochs', '20', '10', '--select_epochs', '5', '--lr', '0.01', '0.03',
              '--temperature', '1', '2', '--experts', '2', '--expert_epochs', '1', '--expert_steps', '3', '5'])])
def test_same_accuracies_as_before_the_sweep_engine(tmp_path, name, args):
    "The digits protocol of commit 1d665eb (and a run with every grid and an ensemble) against what the code before the sweep\n    engine wrote (tests/data/before_sweep, made on this project's CPU). The same columns and cells; accuracies within a\n    tolerance that holds on another CPU or torch build (floating-point order may move a few of 450 test images)."
    out = tmp_path / name
    code, _, err = cli('--dataset', 'digits', *args, '--out', out, '--quiet', '--cpu', prog='ld_baseline')
    assert code == 0, err
    for f, col, by in (('results.csv', 'test_acc', ['ipc', 'labels']), ('selection.csv', 'student_valid_acc', ['ipc', 'labels', 'step', 'T', 'lr'])):
        new, old = pd.read_csv(out / f), pd.read_csv(REF / name / f)
        assert list(new.columns) == list(old.columns) and len(new) == len(old)
        assert np.allclose(new[col], old[col], atol=0.06), f  # each student
        gn, go = (d.groupby(by, dropna=False)[col].mean() for d in (new, old))
        assert np.allclose(gn, go, atol=0.03), f  # each cell's mean


def test_ld_run_lists_and_documents_its_experiments(tmp_path):
    code, text, _ = cli('--list')
    names = [l.split()[0] for l in text.strip().splitlines()]
    assert code == 0 and names[0] == 'baseline' and {'table2', 'expert_epoch', 'learned_labels', 'label_swap'} <= set(names), text
    code, text, _ = cli('baseline', '--help')
    assert code == 0 and '--ipc' in text and '--ray' in text and 'images per class' in text
    for args, msg, prog in ((['nosuch'], "unknown experiment 'nosuch'", 'ld_run'),
                            (['baseline', '--dataset', 'digits', '--students', '0'], '--students must be >= 1', 'ld_run baseline'),
                            (['table2', '--dataset', 'digits', '--preset', 'tiny'], "unknown preset 'tiny'", 'ld_run table2')):
        one_line_error(*cli(*args, '--out', tmp_path / 'x')[::2], msg, prog)
    assert not (tmp_path / 'x').exists()


def test_analyses_from_the_command_line_share_students(tmp_path, epoch_run):
    e, le = epoch_run
    rows = pd.read_csv(e / 'rows.csv')
    assert sorted(rows.step.dropna()) == [4, 36] and (rows.recipe == 'hard').sum() == 1
    code, _, err = cli('temperature', *SMALL, '--temperature', '1', '3', '--out', tmp_path / 't', '--reuse', e)
    assert code == 0, err
    lt = pd.read_csv(tmp_path / 't' / 'ledger.csv', dtype={'key': str})
    shared = lt[lt.key.isin(le.key)]
    assert len(lt) == 4 and len(shared) == 2 and (shared.params.str.contains('"T": 1.0')).all()  # the T = 1 students, copied
    assert shared.set_index('key').acc.to_dict() == le.set_index('key').loc[shared.key].acc.to_dict()
    assert sorted(pd.read_csv(tmp_path / 't' / 'summary.csv')['T'].unique()) == [1.0, 3.0]
    for args, msg in ((['entropy', '--reuse', tmp_path / 'nowhere'], 'nowhere: no ledger.csv there to reuse'),
                      (['expert_recipe', '--expert_recipes', 'ours', 'mine'], "unknown expert recipe 'mine'"),
                      (['expert_epoch', '--steps', '5'], '--steps 5: the expert has no checkpoint')):
        one_line_error(*cli(args[0], *SMALL, *args[1:], '--out', tmp_path / 'x')[::2], msg, f'ld_run {args[0]}')
        assert not (tmp_path / 'x').exists()


def test_structure_tests_from_the_command_line(tmp_path, epoch_run):
    e, le = epoch_run
    code, _, err = cli('label_swap', *SMALL, '--swap_k', '1', '9', '--out', tmp_path / 's', '--reuse', e)
    assert code == 0, err
    ls = pd.read_csv(tmp_path / 's' / 'ledger.csv', dtype={'key': str})
    assert len(ls) == len(le) + 3 and ls.key.isin(le.key).sum() == len(le)  # the choosing students copied; 2 swaps + the control
    summ = pd.read_csv(tmp_path / 's' / 'summary.csv')
    assert sorted(summ.k.dropna()) == [1, 9] and set(summ.recipe) == {'soft', 'hard', 'swap', 'shuffled'}
    code, _, err = cli('class_removal', *SMALL, '--subjects', '4', '--out', tmp_path / 'r', '--reuse', e)
    assert code == 0, err
    frame = pd.read_csv(tmp_path / 'r' / 'frame.csv')
    assert len(frame) == 6 and set(frame.subject) == {4} and frame.subject_acc.notna().all()
    lr = pd.read_csv(tmp_path / 'r' / 'ledger.csv', dtype={'key': str})
    chosen = int(pd.read_csv(tmp_path / 'r' / 'chosen.csv').step.iloc[0])
    used = lr[lr.params.str.contains(f'"step": {chosen}') | (lr.recipe == 'hard')]
    assert used.class_acc.notna().all() and len(lr) == len(le) + 4  # copied rows it needed were trained again, in place
    code, _, err = cli('label_structure', *SMALL, '--out', tmp_path / 'l', '--reuse', e)
    assert code == 0, err
    assert len(pd.read_csv(tmp_path / 'l' / 'links.csv')) == 100 and len(pd.read_csv(tmp_path / 'l' / 'top.csv')) == 30
    assert pd.read_csv(tmp_path / 'l' / 'ledger.csv', dtype={'key': str}).key.isin(le.key).all()  # nothing trained
    for args, msg in ((['label_swap', '--swap_k', '10'], '--swap_k 10: swapping rank k with the smallest needs k < 10'),
                      (['class_removal', '--subjects', '10'], '--subjects 10: the data has classes 0 .. 9'),
                      (['data_knowledge', '--ipc', '1', '2', '--epochs', '5'], 'a scaling law needs three or more IPCs'),
                      (['pareto', '--keep_k', '0', '11'], '--keep_k 11: a label has only 10 probabilities to keep')):
        one_line_error(*cli(args[0], *SMALL, *args[1:], '--out', tmp_path / 'x')[::2], msg, f'ld_run {args[0]}')
        assert not (tmp_path / 'x').exists()


def test_label_sources_from_the_command_line(tmp_path, epoch_run):
    "The online teacher and learned labels run from `ld_run`, copy the choosing students, and refuse bad settings in one line."
    e, le = epoch_run
    code, _, err = cli('online_teacher', *SMALL, '--out', tmp_path / 'o', '--reuse', e)
    assert code == 0, err
    lo = pd.read_csv(tmp_path / 'o' / 'ledger.csv', dtype={'key': str})
    assert lo.key.isin(le.key).sum() == len(le) and (lo.recipe == 'online').sum() == 2
    summ = pd.read_csv(tmp_path / 'o' / 'summary.csv')
    assert {'hard', 'fixed', 'online'} <= set(summ.condition) and (tmp_path / 'o' / 'timing.csv').exists()
    code, _, err = cli('learned_labels', *SMALL, '--learn_steps', '6', '--learn_unroll', '6', '--learn_window', '3',
                       '--learn_inits', 'uniform', '--learn_fixed', '--out', tmp_path / 'l', '--reuse', e)
    assert code == 0, err
    ll = pd.read_csv(tmp_path / 'l' / 'ledger.csv', dtype={'key': str})
    assert (ll.recipe == 'learned').sum() == 1 and ll.key.isin(le.key).sum() == len(le)
    hist = pd.read_csv(tmp_path / 'l' / 'history.csv')
    assert len(hist) == 6 and set(hist.unroll) == {6} and set(hist.init) == {'uniform'}
    assert (tmp_path / 'l' / 'learned' / 'ipc2_uniform' / 'labels.pt').exists()
    for args, msg in ((['learned_labels', '--learn_window', '30', '--learn_unroll', '20'], 'window (30) must be <= unroll (20)'),
                      (['learned_labels', '--learn_inits', 'random'], "--learn_inits: 'random' is not a start"),
                      (['learned_labels', '--learn_steps', '0'], 'steps must be >= 1, got 0'),
                      (['online_teacher', '--steps', '5'], '--steps 5: the expert has no checkpoint')):
        one_line_error(*cli(args[0], *SMALL, *args[1:], '--out', tmp_path / 'x')[::2], msg, f'ld_run {args[0]}')
        assert not (tmp_path / 'x').exists()
