"Many runs at once: one run per folder, one cache shared safely, and locks that a killed process does not leave held."
import os, signal, socket, subprocess, sys, time
from pathlib import Path
import pandas as pd, pytest
from conftest import BIN
from ld_nbdev.core import LDError, hold_lock, release_lock, entry_lock
from ld_nbdev.data import load_digits_set, prepare
from ld_nbdev.expert import expert_key
from ld_nbdev.protocol import protocol
from ld_nbdev.runfolder import RunFolder

RUN = ['--dataset', 'digits', '--ipc', '2', '--students', '1', '--epochs', '5', '--expert_epochs', '1']


class Proc:
    "The installed `ld_run` with `args`, started as a process of its own (one thread: six runs share two cores), its output in files."
    def __init__(self, log:Path, *args):
        self.out, self.err = log.with_suffix('.out'), log.with_suffix('.err')
        with open(self.out, 'w') as o, open(self.err, 'w') as e:
            self.p = subprocess.Popen([str(BIN / 'ld_run'), *map(str, args)], stdout=o, stderr=e,
                                      env={**os.environ, 'OMP_NUM_THREADS': '1'})
    def wait(self, timeout=300): return self.p.wait(timeout)
    @property
    def stdout(self): return self.out.read_text()
    @property
    def stderr(self): return self.err.read_text()


def until(cond, what, timeout=120):
    t0 = time.time()
    while not cond():
        assert time.time() - t0 < timeout, f'timed out waiting for {what}'
        time.sleep(0.05)


def ledger_keys(folder): return pd.read_csv(Path(folder) / 'ledger.csv').key.tolist()


def test_many_runs_one_cache_two_into_one_folder(tmp_path, empty_cache):
    "Six runs against one empty cache: two more into the first one's folder (one refused, one waiting), three elsewhere; the same expert for all."
    same, others, epochs = tmp_path / 'same', [tmp_path / f'other{i}' for i in range(2)], tmp_path / 'epochs'
    p = protocol('digits', ipc=2, students=1, epochs=5, expert_epochs=1)
    expert = empty_cache / 'experts' / f'convnet-{expert_key(prepare(load_digits_set(), p.valid_frac, seed=p.seed, device="cpu"), p.expert_config())}'
    with entry_lock(expert):  # the expert is "being made" by this test, so the first run surely holds its folder meanwhile
        first = Proc(tmp_path / 'first', 'baseline', *RUN, '--quiet', '--out', same)
        until(lambda: (same / RunFolder.LOCK).exists() and (same / RunFolder.LOCK).read_text().strip(), 'the first run to hold its folder')
        refused = Proc(tmp_path / 'refused', 'baseline', *RUN, '--quiet', '--out', same)
        waiting = Proc(tmp_path / 'waiting', 'baseline', *RUN, '--wait', '--out', same)  # not quiet: it says it waits
        rest = [Proc(tmp_path / o.name, 'baseline', *RUN, '--quiet', '--out', o) for o in others]
        rest.append(Proc(tmp_path / 'epochs', 'expert_epoch', *RUN, '--quiet', '--out', epochs))
        assert refused.wait() == 2, refused.stderr
        until(lambda: 'waiting for the run that holds this folder' in waiting.stdout, 'the second run to queue')
    assert first.wait() == 0, first.stderr
    after_first = (same / 'ledger.csv').read_text()
    procs = [first, refused, waiting, *rest]
    codes = [r.wait() for r in procs]
    for r in procs: assert 'Traceback' not in r.stderr, r.stderr
    assert codes == [0, 2, 0, 0, 0, 0], [(c, r.stderr[-300:]) for c, r in zip(codes, procs)]

    err = [l for l in refused.stderr.splitlines() if 'error' in l]
    assert len(err) == 1 and err[0].startswith(f'ld_run baseline: error: {same}: another run holds this folder '
                                               f'(pid {first.p.pid} on {socket.gethostname()}, since 20'), refused.stderr
    assert err[0].endswith(' UTC); wait for it or pass --wait'), err[0]
    assert f'waiting for the run that holds this folder (pid {first.p.pid} on' in waiting.stdout
    assert (same / 'ledger.csv').read_text() == after_first  # the waiting run resumed the folder and trained nothing

    for folder in [same, *others, epochs]:
        k = ledger_keys(folder)
        assert len(k) == len(set(k)) > 0, folder  # every trial once
        assert (folder / 'run.json').exists() and not (folder / RunFolder.LOCK).exists(), folder
    for o in others: assert sorted(ledger_keys(o)) == sorted(ledger_keys(same))  # the same trials, each once

    assert [e.name for e in (empty_cache / 'experts').iterdir()] == [expert.name]  # one entry for the one expert ...
    assert (expert / 'expert.json').exists()  # ... and complete; nothing half-made or locked is left
    assert not [f for pat in ('*.partial', '*.lock', '.*.tmp') for f in empty_cache.rglob(pat)]


def test_a_lock_held_by_a_killed_process_is_free_again(tmp_path):
    f = tmp_path / 'run' / RunFolder.LOCK
    holder = subprocess.Popen([sys.executable, '-c', 'import sys, time; from ld_nbdev.core import hold_lock; '
                               'hold_lock(sys.argv[1]); print("held", flush=True); time.sleep(120)', str(f)],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == 'held'
    assert hold_lock(f, wait=False) is None  # held by the other process
    with pytest.raises(LDError, match=f'another run holds this folder \\(pid {holder.pid} on .*wait for it or pass --wait'):
        RunFolder(tmp_path / 'run', {})
    holder.send_signal(signal.SIGKILL); holder.wait()
    fd = hold_lock(f, wait=False)
    assert fd is not None  # the operating system let go of it with the process
    release_lock(fd, f)
    (tmp_path / 'run' / RunFolder.LOCK).write_text(f'pid {holder.pid} on {socket.gethostname()}')  # what a killed run leaves
    RunFolder(tmp_path / 'run', {}).release()  # a run takes the folder: the lock file left behind is no obstacle
