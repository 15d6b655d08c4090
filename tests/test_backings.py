"Data that does not fit: experts and scores through bytes, a mapped file and streamed files equal the float path's."
import json, warnings
from pathlib import Path
import pandas as pd, pytest, torch
from PIL import Image
from conftest import cli, one_line_error
from ld_nbdev.data import get_dataset, prepare, stream_dataset, ByteImages, StreamImages, StreamDL
from ld_nbdev.expert import ExpertConfig, train_expert
from ld_nbdev.models import accuracy_of, Scorer
from ld_nbdev.imagenet import load_imagenet

CFG = ExpertConfig(epochs=3, lr=0.05, bs=32, steps=(3,), seed=1)


def weights(traj, step):
    return torch.load(traj.path / f'step_{step:06d}.pt', weights_only=True)


def assert_same_trajectory(a, b, exact=False):
    assert a.steps == b.steps
    for s in a.steps:
        wa, wb = weights(a, s), weights(b, s)
        for k in wa:
            if exact: assert torch.equal(wa[k], wb[k]), (s, k)
            else: torch.testing.assert_close(wa[k], wb[k], atol=1e-4, rtol=1e-3, msg=f'step {s}, {k}')


@pytest.fixture(scope='module')
def digits(): return get_dataset('digits', max_per_class=60)


@pytest.fixture(scope='module')
def through(digits, tmp_path_factory):
    "The digits prepared by each backing that keeps decoded images, and the expert each trains (its own cache)."
    out = {}
    for b in ('float', 'uint8', 'memmap'):
        sp = prepare(digits, valid_frac=0.1, device='cpu', backing=b)
        out[b] = sp, train_expert(sp, CFG, root=tmp_path_factory.mktemp(b), show=False)
    return out


def test_backings_hold_what_they_say(through):
    (sf, _), (su, _), (sm, _) = through['float'], through['uint8'], through['memmap']
    assert isinstance(sf.train.x, torch.Tensor)
    assert isinstance(su.train.x, ByteImages) and isinstance(sm.train.x, ByteImages)
    assert su.train.x.u.dtype == torch.uint8 and su.train.x.path is None and sm.train.x.path.suffix == '.u8'
    assert su.key == sm.key != sf.key  # bytes in memory and in a file are the same data; the float path keeps its key


def test_experts_through_bytes_equal_the_float_path(through):
    _, ef = through['float']
    for b in ('uint8', 'memmap'):
        assert_same_trajectory(through[b][1], ef)
    assert_same_trajectory(through['uint8'][1], through['memmap'][1], exact=True)  # the same bytes, the same statistics


def test_scoring_through_every_backing_gives_the_same_accuracy(through):
    t = through['float'][1]; m = t.model(step=t.steps[-1])
    accs = {b: (accuracy_of(m, sp.valid.x, sp.valid.y), accuracy_of(m, sp.test.x, sp.test.y, bs=37))
            for b, (sp, _) in through.items()}
    assert accs['uint8'] == accs['memmap'] == accs['float'], accs
    assert accs['float'][1] > 0.5
    sc = Scorer(m)
    sc.f = sc.m  # the compiled scorer's batching, without the compiler's minutes on a CPU
    logits = {b: sc(m, sp.test.x) for b, (sp, _) in through.items()}
    torch.testing.assert_close(logits['uint8'], logits['float'], atol=1e-4, rtol=1e-4)
    assert torch.equal(logits['uint8'], logits['memmap'])


def write_ilsvrc(root:Path, digits) -> Path:
    "The digits as an ILSVRC-2012 tree: train/<wnid>/<wnid>_<i>.JPEG and val/<wnid>/ILSVRC2012_val_<i>.JPEG."
    for split, ds in (('train', digits['train']), ('val', digits['test'])):
        for i, (x, y) in enumerate(zip(ds.x, ds.y.tolist())):
            wnid = f'n{y:08d}'
            d = root / split / wnid
            d.mkdir(parents=True, exist_ok=True)
            name = f'{wnid}_{i}.JPEG' if split == 'train' else f'ILSVRC2012_val_{i:08d}.JPEG'
            Image.fromarray(x[0].numpy()).convert('RGB').save(d / name, quality=95)
    return root


@pytest.fixture(scope='module')
def tree(digits, tmp_path_factory): return write_ilsvrc(tmp_path_factory.mktemp('ilsvrc'), digits)


def test_a_streamed_expert_trains_on_a_tree_as_its_decoded_copy_does(tree, tmp_path):
    # decoded here (workers=0): worker processes are tested below, where they cost less
    ss = prepare(stream_dataset('imagenet', str(tree)), valid_frac=0.1, device='cpu', backing='stream', workers=0)
    assert isinstance(ss.train.x, StreamImages) and ss.train.x.shape[1:] == (3, 8, 8)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        su = prepare(load_imagenet(tree, use_cache=False), valid_frac=0.1, device='cpu', backing='uint8')
    es = train_expert(ss, CFG, root=tmp_path / 'stream', show=False)
    eu = train_expert(su, CFG, root=tmp_path / 'uint8', show=False)
    assert torch.equal(ss.train.x[:], su.train.x[:]) and torch.equal(ss.pre.std, su.pre.std)  # the same pixels
    assert_same_trajectory(es, eu, exact=True)  # and the same batches in the same order
    m = es.model(step=es.steps[-1])
    acc = accuracy_of(m, ss.test.x, ss.test.y)
    assert acc == accuracy_of(m, su.test.x, su.test.y)
    assert acc > 0.5, acc  # ten classes: chance is 0.1
    assert es.manifest.test_acc.iloc[-1] == pytest.approx(acc)


def test_the_streamed_loader_is_a_seeded_fastai_training_loader(tree):
    ss = prepare(stream_dataset('imagenet', str(tree)), valid_frac=0.1, device='cpu', backing='stream', workers=1)
    from ld_nbdev.expert import expert_learner
    dl = expert_learner(ss, CFG).dls.train
    assert isinstance(dl, StreamDL) and len(dl) == -(-len(ss.train) // CFG.bs)
    order = lambda: torch.cat([y for _, y in StreamDL(ss.train.x, ss.train.y, bs=64, shuffle=True, seed=5)])
    assert torch.equal(order(), order()) and not torch.equal(order(), ss.train.y)


@pytest.mark.parametrize('args,msg', [(['--backing', 'disk'], "--backing: unknown backing 'disk'"),
                                      (['--backing', 'stream'], '--backing stream decodes image files, and digits')])
def test_bad_backing_is_refused_in_one_line(tmp_path, args, msg):
    out = tmp_path / 'out'
    one_line_error(*cli('--dataset', 'digits', *args, '--out', out, prog='ld_baseline')[::2], msg, 'ld_baseline')
    assert not out.exists()


def test_a_run_streams_a_tree_through_expert_labels_and_students(tree, tmp_path):
    out = tmp_path / 'out'
    code, _, err = cli('--data', tree, '--backing', 'stream', '--ipc', '1', '--students', '1', '--epochs', '2',
                       '--expert_epochs', '2', '--expert_steps', '2', '--expert_bs', '32', '--out', out, '--quiet',
                       prog='ld_baseline')
    assert code == 0, err
    traj, ledger = (pd.read_csv(out / f) for f in ('expert_trajectory.csv', 'ledger.csv'))
    assert traj.test_acc.iloc[-1] > 0.3  # ten classes: chance is 0.1
    assert (ledger.status == 'ok').all() and set(ledger.recipe) == {'hard', 'soft'}
    assert json.loads((out / 'config.json').read_text())['backing'] == 'stream'
