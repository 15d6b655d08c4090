"""An expert trained by 2 CPU processes under torchrun (gloo) is the one-process expert: the same files and checkpoints,
the same weights to rounding, one set of files; a run continued from a shorter one resumes on every process, a cached
one is reused by all; bad input stops every process before any trains."""
import json, os, subprocess, sys
import pandas as pd, pytest, torch

DIGITS = ['--dataset', 'digits', '--quiet']  # digits preset: batch 64, checkpoints at steps 2, 4, 8, each epoch's end


def launch(cache, cwd, *args, n=2):
    "`python -m ld_nbdev.distributed ARGS` on `n` CPU processes by torchrun, in `cwd`, caching in `cache`."
    env = dict(os.environ, LD_NBDEV_CACHE=str(cache), OMP_NUM_THREADS='1')
    cwd.mkdir(exist_ok=True)
    return subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', str(n),
                           '-m', 'ld_nbdev.distributed', '--cpu', *DIGITS, *map(str, args)],
                          capture_output=True, text=True, env=env, cwd=cwd, timeout=300)


def files(folder) -> list: return sorted(f.name for f in folder.iterdir())


def stamps(folder) -> dict: return {f: f.stat().st_mtime_ns for f in folder.rglob('*')}


@pytest.fixture(scope='module')
def experts(tmp_path_factory):
    "The 2-epoch digits expert by one process, and by 2: epoch 1 fresh, epoch 2 continuing that run, then reused."
    tmp = tmp_path_factory.mktemp('ddp')
    from ld_nbdev.protocol import protocol, bench_for
    mp = pytest.MonkeyPatch()
    mp.setenv('LD_NBDEV_CACHE', str(tmp/'one'))
    try: bench = bench_for(protocol('digits', expert_epochs=2), torch.device('cpu'), show=False)
    finally: mp.undo()
    one = next(iter(bench.experts.values()))
    runs = [launch(tmp/'two', tmp/'cwd', '--expert_epochs', e) for e in (1, 2)]
    before = stamps(tmp/'two')
    runs.append(launch(tmp/'two', tmp/'cwd', '--expert_epochs', 2))  # in the cache now: no process trains
    for r in runs: assert r.returncode == 0, r.stderr[-3000:]
    assert stamps(tmp/'two') == before
    return one, tmp/'two'/'experts'/one.path.name, runs, tmp


def test_same_files_and_checkpoints_as_one_process(experts):
    one, two, runs, tmp = experts
    assert files(two) == files(one.path)  # expert.json, trajectory.csv, resume.pt and one file per checkpoint
    a, b = one.manifest, pd.read_csv(two/'trajectory.csv')
    assert b.step.tolist() == a.step.tolist() == [0, 2, 4, 8, 18, 36]  # step 0, the preset's steps, each epoch's end
    pd.testing.assert_frame_equal(b[['step', 'epoch', 'file']], a[['step', 'epoch', 'file']])
    assert json.loads((two/'expert.json').read_text()) == one.meta
    assert torch.load(two/'resume.pt', weights_only=True)['step'] == 36


def test_same_training_to_rounding(experts):
    "Same global batch, shares' losses scaled, group norm per image: the one-process steps, sums in another order."
    one, two, runs, tmp = experts
    a, b = one.manifest, pd.read_csv(two/'trajectory.csv')
    for f in a.file:
        w1, w2 = (torch.load(d/f, weights_only=True) for d in (one.path, two))
        assert w1.keys() == w2.keys()  # the plain model's names, not DDP's `module.` ones
        for k in w1: torch.testing.assert_close(w2[k], w1[k], rtol=1e-5, atol=1e-5, msg=f'{f} {k}')
    # the recorded loss is the whole batch's, not rank 0's share's
    assert b.train_loss.iloc[1:].tolist() == pytest.approx(a.train_loss.iloc[1:].tolist(), rel=1e-4)
    assert b.test_acc.iloc[-1] == pytest.approx(a.test_acc.iloc[-1], abs=0.01)
    assert b.test_acc.iloc[-1] > 0.5  # ten classes: chance is 0.1


def test_one_set_of_files(experts):
    "Rank 0 alone writes: two finished trajectories (1 and 2 epochs), nothing half-written, nothing in their folder."
    one, two, runs, tmp = experts
    names = [f for f in files(two.parent) if not f.startswith('.')]
    assert len(names) == 2 and two.name in names and not any(n.endswith('.partial') for n in names)
    assert not list((tmp/'two').rglob('*.tmp'))
    assert files(tmp/'cwd') == []
    assert [r.stdout for r in runs] == ['', '', '']  # --quiet


def test_bad_input_stops_every_process_before_training(tmp_path):
    r = launch(tmp_path/'cache', tmp_path/'cwd', '--expert_bs', 1)  # one image cannot be shared by two processes
    assert r.returncode != 0  # each process exits 2; torchrun then reports them and exits 1
    said = r.stderr.splitlines()[0]  # what the processes say comes before torchrun's report of them
    assert said.startswith('python -m ld_nbdev.distributed: error: --expert_bs 1 leaves a batch of 1 image (')
    assert said.endswith('fewer than the 2 processes that share every batch: give a larger --expert_bs or start '
                         'fewer processes')
    assert r.stderr.count('ld_nbdev.distributed: error:') == 1  # rank 0 alone says it
    assert '(exitcode: 2)' in r.stderr
    assert not (tmp_path/'cache'/'experts').exists()
