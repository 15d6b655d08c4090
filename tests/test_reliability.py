"Reliability guarantees: determinism, safe checkpoints, resumable runs, messy data, divergence, fuzzed bad input."
import os, re, signal, subprocess, sys, time, shutil, warnings
from pathlib import Path
import numpy as np, pandas as pd, pytest, torch
from PIL import Image
from hypothesis import given, settings, strategies as st, HealthCheck
from conftest import run_cli, cli, one_line_error
from ld_nbdev.core import LDError
from ld_nbdev.data import load_digits_set, prepare, select_ipc, load_folder
from ld_nbdev.models import get_model, accuracy_of
from ld_nbdev.expert import ExpertConfig, train_expert, load_weights, Trajectory
from ld_nbdev.labels import soft_labels, topk_labels
from ld_nbdev.student import StudentConfig, train_student
from ld_nbdev.sweep import Bench
from ld_nbdev.protocol import protocol
from ld_nbdev.experiments import compare_labels, run_baseline


@pytest.fixture(scope='module')
def digits():
    return prepare(load_digits_set(), valid_frac=0.15, device='cpu')


@pytest.fixture(scope='module')
def expert(digits, tmp_path_factory):
    return train_expert(digits, ExpertConfig(epochs=1, bs=64, lr=0.05, steps=(4,)), root=tmp_path_factory.mktemp('ex'), show=False)


# 1. Determinism on the CPU
def test_same_seed_same_images_labels_and_accuracy(digits, expert):
    def once(seed):
        idx = select_ipc(digits.train, 3, seed)
        x = digits.train.x[idx]
        lab = soft_labels(expert.model(step=4), x)
        acc = accuracy_of(train_student(x, lab, StudentConfig(epochs=15), seed), digits.test.x, digits.test.y)
        return idx, lab, acc
    (i1, l1, a1), (i2, l2, a2), (i3, l3, _) = once(0), once(0), once(1)
    assert torch.equal(i1, i2) and torch.equal(l1, l2) and a1 == a2  # bit-identical
    assert not torch.equal(i1, i3) and not torch.equal(l1, l3)


def test_expert_training_repeats_bit_for_bit(digits, tmp_path):
    cfg = ExpertConfig(epochs=1, bs=64, lr=0.05, steps=(3,))
    a = train_expert(digits, cfg, root=tmp_path / 'a', show=False)
    b = train_expert(digits, cfg, root=tmp_path / 'b', show=False)
    sa, sb = (torch.load(t.path / 'step_000003.pt', weights_only=True) for t in (a, b))
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


# 2. Checkpoints and caches
def test_checkpoint_errors_name_the_file(expert, tmp_path):
    good = expert.path / 'step_000004.pt'
    with pytest.raises(LDError, match='step_000004.pt: checkpoint does not fit'):
        load_weights(get_model('convnet', 1, 7, 8), good)  # another class count
    with pytest.raises(LDError, match='step_000004.pt: checkpoint does not fit'):
        load_weights(get_model('convnet', 3, 10, 32), good)  # another architecture
    trunc = tmp_path / 'trunc.pt'; trunc.write_bytes(good.read_bytes()[:2000])
    with pytest.raises(LDError, match='trunc.pt: not a readable checkpoint'):
        load_weights(get_model('convnet', 1, 10, 8), trunc)
    junk = tmp_path / 'junk.pt'; junk.write_text('just text')
    with pytest.raises(LDError, match='junk.pt: not a readable checkpoint'):
        load_weights(get_model('convnet', 1, 10, 8), junk)
    with pytest.raises(LDError, match='no expert.json'):
        Trajectory(tmp_path)


class _Evil:
    def __reduce__(self): return (os.system, (f'touch {os.environ["LD_EVIL_MARK"]}',))


def test_checkpoint_cannot_run_code(tmp_path, monkeypatch):
    mark = tmp_path / 'pwned'
    monkeypatch.setenv('LD_EVIL_MARK', str(mark))
    evil = tmp_path / 'evil.pt'
    torch.save({'weight': _Evil()}, evil)
    with pytest.raises(LDError, match='evil.pt: not a readable checkpoint'):
        load_weights(get_model('convnet', 1, 10, 8), evil)
    assert not mark.exists()


def test_cache_key_covers_data_model_and_training(digits, tmp_path):
    cfg = ExpertConfig(epochs=1, bs=64, lr=0.05, steps=())
    base = train_expert(digits, cfg, root=tmp_path, show=False).path
    zca = prepare(load_digits_set(), valid_frac=0.15, zca=True, device='cpu')
    other_data = train_expert(zca, cfg, root=tmp_path, show=False).path
    other_lr = train_expert(digits, ExpertConfig(epochs=1, bs=64, lr=0.02, steps=()), root=tmp_path, show=False).path
    other_arch = train_expert(digits, ExpertConfig(arch='convnetd3', epochs=1, bs=64, lr=0.05, steps=()), root=tmp_path, show=False).path
    assert len({base, other_data, other_lr, other_arch}) == 4
    assert not list(tmp_path.glob('*.partial'))  # finished experts only


# 3. Resumable runs: a real process killed with SIGKILL
def test_sigkill_then_rerun_completes_every_row_once(tmp_path):
    out = tmp_path / 'run'
    args = ['ld_baseline', '--dataset', 'digits', '--ipc', '2', '--students', '2', '--epochs', '20', '--expert_epochs', '2',
            '--out', str(out), '--quiet']  # the smallest run whose ledger is still growing when the third row lands
    exe = shutil.which('ld_baseline', path=str(Path(sys.executable).parent))
    p = subprocess.Popen([exe, *args[1:]], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ.copy())
    t0 = time.time()
    while time.time() - t0 < 300:
        if (out / 'ledger.csv').exists() and len(pd.read_csv(out / 'ledger.csv')) >= 3: break
        if p.poll() is not None: break
        time.sleep(0.2)
    assert p.poll() is None, 'the run finished before it could be killed; give it more work'
    p.send_signal(signal.SIGKILL); p.wait()
    killed = pd.read_csv(out / 'ledger.csv')
    r = run_cli(*args[1:])
    assert r.returncode == 0, r.stderr
    res, ledger, sel = (pd.read_csv(out / f) for f in ('results.csv', 'ledger.csv', 'selection.csv'))
    keys = list(zip(res.ipc, res.labels, res.student_seed))
    assert len(res) == 4 and len(set(keys)) == 4  # every student exactly once
    assert len(ledger) == len(sel) + 4 and ledger.key.is_unique  # every candidate and student, once
    assert 3 <= len(killed) < len(ledger)
    pd.testing.assert_frame_equal(ledger.iloc[:len(killed)], killed)  # finished rows kept as they were
    assert not list(out.glob('.*.tmp'))


_EXPERT = """
import sys
from pathlib import Path
from ld_nbdev.data import load_digits_set, prepare
from ld_nbdev.expert import ExpertConfig, train_expert
sp = prepare(load_digits_set(), valid_frac=0.15, device='cpu')
train_expert(sp, ExpertConfig(epochs=int(sys.argv[2]), bs=64, lr=0.05, aug='dsa', steps=(5,)), root=Path(sys.argv[1]), show=False)
"""


def test_expert_killed_with_sigkill_continues_to_the_same_checkpoints(tmp_path, digits):
    cfg = ExpertConfig(epochs=8, bs=64, lr=0.05, aug='dsa', steps=(5,))
    p = subprocess.Popen([sys.executable, '-c', _EXPERT, str(tmp_path / 'killed'), '8'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t0 = time.time()
    while time.time() - t0 < 300 and p.poll() is None:
        part = next((tmp_path / 'killed').glob('*.partial/resume.pt'), None)
        if part is not None and torch.load(part, weights_only=True)['epoch'] >= 2: break
        time.sleep(0.05)
    assert p.poll() is None, 'the expert finished before it could be killed; give it more epochs'
    p.send_signal(signal.SIGKILL); p.wait()
    done = torch.load(part, weights_only=True)['epoch']
    assert 2 <= done < 8
    resumed = train_expert(digits, cfg, root=tmp_path / 'killed', show=False)
    straight = train_expert(digits, cfg, root=tmp_path / 'straight', show=False)
    pd.testing.assert_frame_equal(resumed.manifest, straight.manifest)
    for f in straight.manifest.file:
        a, b = (torch.load(t.path / f, weights_only=True) for t in (resumed, straight))
        assert all(torch.equal(a[k], b[k]) for k in a), f
    assert not list((tmp_path / 'killed').glob('*.partial'))


# 4. Messy data folders
def _img(path, mode, size):
    arr = np.random.default_rng(abs(hash(path.name)) % 2**32).integers(0, 255, (size[1], size[0], 4), dtype=np.uint8)
    Image.fromarray(arr, 'RGBA').convert(mode).save(path)


def test_messy_folder_rules(tmp_path):
    for split in ('train', 'test'):
        for c in ('a', 'b'):
            (tmp_path / split / c).mkdir(parents=True)
            for i in range(4): _img(tmp_path / split / c / f'{i}.png', 'RGB', (12, 12))
    _img(tmp_path / 'train' / 'a' / 'grey.png', 'L', (12, 12))
    _img(tmp_path / 'train' / 'a' / 'alpha.png', 'RGBA', (12, 12))
    _img(tmp_path / 'train' / 'b' / 'big.png', 'RGB', (20, 16))
    (tmp_path / 'train' / 'b' / 'broken.png').write_bytes(b'\x89PNG\r\n\x1a\n not really')
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        d = load_folder(tmp_path, use_cache=False)
    assert d['train'].x.shape == (11, 3, 12, 12) and d['train'].x.dtype == torch.uint8
    msgs = ' '.join(str(o.message) for o in w)
    assert 'skipped 1 unreadable' in msgs and 'broken.png' in msgs and 'resized 1 image' in msgs


@pytest.mark.parametrize('damage,msg', [
    (lambda r: (r / 'test' / 'c').mkdir(), 'empty class folder'),
    (lambda r: [shutil.move(str(r / 'test' / 'b'), str(r / 'test' / 'z'))], 'classes differ'),
    (lambda r: shutil.rmtree(r / 'test'), 'expected train/<class>/ and test/<class>/'),
])
def test_bad_folder_refused_with_path(tmp_path, damage, msg):
    for split in ('train', 'test'):
        for c in ('a', 'b'):
            (tmp_path / split / c).mkdir(parents=True)
            for i in range(3): _img(tmp_path / split / c / f'{i}.png', 'RGB', (8, 8))
    damage(tmp_path)
    code, _, err = cli('--data', tmp_path, '--ipc', '1', '--out', tmp_path / 'out', prog='ld_baseline')
    one_line_error(code, err, msg, 'ld_baseline')
    assert str(tmp_path) in err and not (tmp_path / 'out').exists()


# 5. Training health
def test_diverging_students_are_recorded_and_the_sweep_goes_on(digits, expert):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        res, sel = compare_labels(Bench(digits, [expert]), protocol('digits', ipc=(1, 2), students=2, epochs=10, lr=1e6,
                                                                    select_epochs=1), show=False)
    assert len(res) == 2 * 2 * 2  # every student has its row
    assert res.status.str.startswith('diverged').all() and res.test_acc.isna().all()
    n_sel = int((sel.status != 'ok').sum())  # one-epoch candidates may survive
    assert sum('diverged' in str(o.message) for o in w) == len(res) + n_sel  # each diverged student is warned of


# 7. Fuzzed bad input: every failure is an LDError, never another exception
bad_pos_int = st.integers(max_value=0)
bad_pos_float = st.one_of(st.floats(max_value=0.0, allow_nan=False), st.just(float('nan')))
names = st.text(st.characters(blacklist_categories=('Cc', 'Cs', 'Zl', 'Zp')), min_size=1, max_size=12).filter(
    lambda s: s not in ('cifar10', 'digits', 'cifar100', 'tinyimagenet', 'imagenet', 'imagenet64', 'imagenet32'))


def _args(kw) -> list:
    "Settings as the command line takes them: several plain numbers after the option, else one value as `--name=value` (it may start with a dash)."
    out = []
    for k, v in kw.items():
        vs = [format(a, 'f') if isinstance(a, float) else str(a) for a in (v if isinstance(v, list) else [v])]
        plain = len(vs) > 1 and all(re.fullmatch(r'-?\d+(\.\d+)?|nan', a) for a in vs)
        out += [f'--{k}', *vs] if plain else [f'--{k}={vs[0]}']
    return out


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kw=st.one_of(
    st.fixed_dictionaries({'ipc': st.lists(bad_pos_int, min_size=1, max_size=3)}),
    st.fixed_dictionaries({'students': bad_pos_int}), st.fixed_dictionaries({'epochs': bad_pos_int}),
    st.fixed_dictionaries({'lr': bad_pos_float}), st.fixed_dictionaries({'expert_lr': bad_pos_float}),
    st.fixed_dictionaries({'temperature': st.lists(bad_pos_float, min_size=1, max_size=3)}),
    st.fixed_dictionaries({'valid_frac': st.one_of(st.floats(max_value=0.0), st.floats(min_value=1.0), st.just(float('nan')))}),
    st.fixed_dictionaries({'dataset': names}), st.fixed_dictionaries({'arch': names}),
    st.fixed_dictionaries({'expert_epochs': bad_pos_int}), st.fixed_dictionaries({'max_per_class': st.integers(max_value=1)}),
    st.fixed_dictionaries({'experts': bad_pos_int}), st.fixed_dictionaries({'select_epochs': st.lists(bad_pos_int, min_size=1, max_size=2)}),
    st.fixed_dictionaries({'expert_steps': st.lists(bad_pos_int, min_size=1, max_size=3)}),
))
def test_fuzz_run_baseline_bad_values(tmp_path, kw):
    "The whole command-line path (parse, settings, run) on bad values: one line, exit 2, and no output folder made."
    out = tmp_path / f'out{abs(hash(str(kw)))}'
    code, _, err = cli('--dataset=digits', *_args(kw), '--out', out, prog='ld_baseline')
    one_line_error(code, err, '', 'ld_baseline')
    assert not out.exists()


@settings(max_examples=40, deadline=None)
@given(ipc=st.integers(), T=st.floats(allow_nan=True), name=st.text(max_size=10), epochs=st.integers(max_value=0),
       k=st.one_of(st.integers(), st.floats(allow_nan=True)))
def test_fuzz_public_functions(digits, expert, ipc, T, name, epochs, k):
    probs = torch.softmax(torch.randn(4, digits.c), 1)
    if isinstance(k, int) and 0 <= k <= digits.c: assert torch.allclose(topk_labels(probs, k).dense().sum(1), torch.ones(4))
    else:
        with pytest.raises(LDError, match='0 <= k <= 10'): topk_labels(probs, k)
    if not 1 <= ipc <= int(digits.train.counts().min()):
        with pytest.raises(LDError): select_ipc(digits.train, ipc)
    if not T > 0:
        with pytest.raises(LDError): soft_labels(expert.model(step=4), digits.train.x[:4], T)
    if name not in ('convnet', 'convnetd3', 'convnetd4', 'resnet18'):
        with pytest.raises(LDError): get_model(name)
    with pytest.raises(LDError): train_student(digits.train.x[:4], torch.eye(10)[:4], StudentConfig(epochs=epochs))


@pytest.mark.parametrize('args', [['--ipc', '-3'], ['--lr=-1e-3'], ['--temperature', 'nan'], ['--dataset', '../../etc'],
                                  ['--students', '0', '--epochs', '0']])
def test_fuzz_cli_sample(tmp_path, args):
    code, _, err = cli('--dataset', 'digits', *args, '--out', tmp_path / 'o', prog='ld_baseline')
    one_line_error(code, err, '', 'ld_baseline')
    assert not (tmp_path / 'o').exists()
