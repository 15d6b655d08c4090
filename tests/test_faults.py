"Faults a cluster brings: a full or failing disk under a ledger append or a checkpoint save; a Ray worker or the driver killed."
import errno, os, signal, subprocess, time
from pathlib import Path
import pandas as pd, psutil, pytest
from conftest import BIN, cli
import ld_nbdev.sweep as sweep_mod
from ld_nbdev.sweep import Ledger

RUN = ['baseline', '--dataset', 'digits', '--ipc', '2', '--students', '1', '--epochs', '3', '--expert_epochs', '1', '--quiet']


def disk_error(code, err, what):
    "The promise for a disk fault: exit status 1, one line naming the fault and the file, no traceback."
    lines = err.strip().splitlines()
    assert code == 1, (code, err)
    assert len(lines) == 1 and lines[0].startswith('ld_run baseline: error: ') and what in lines[0], err
    assert lines[0].endswith('run the same command to go on') and 'Traceback' not in err


def keys(folder): return pd.read_csv(folder / 'ledger.csv', dtype={'key': str}).key.tolist()


class TornWrite:
    "A file whose write stores half of what it is given and then fails as a full disk does (or a failing one: `code`)."
    def __init__(self, f, code): self.f, self.code = f, code
    def write(self, s):
        self.f.write(s[:len(s) // 2]); self.f.flush()
        raise OSError(self.code, os.strerror(self.code))
    def __enter__(self): return self
    def __exit__(self, *a): self.f.close()
    def __getattr__(self, n): return getattr(self.f, n)


@pytest.mark.parametrize('code', [errno.ENOSPC, errno.EIO])
def test_disk_fault_in_a_ledger_append_keeps_finished_rows(tmp_path, monkeypatch, code):
    out, appends, armed = tmp_path / 'run', [], [True]
    def faulty_open(f, mode='r', *a, **k):  # the third append to the ledger fails halfway through its line
        fh = open(f, mode, *a, **k)
        if armed and Path(f).name == 'ledger.csv' and mode == 'a':
            appends.append(f)
            if len(appends) == 3: return TornWrite(fh, code)
        return fh
    monkeypatch.setattr(sweep_mod, 'open', faulty_open, raising=False)
    res = cli(*RUN, '--out', out)
    disk_error(*res[::2], f'{os.strerror(code)} writing {out / "ledger.csv"}')
    text = (out / 'ledger.csv').read_text()
    assert not text.endswith('\n')  # the torn last line is there ...
    before = Ledger(out / 'ledger.csv').rows
    assert len(before) == 2  # ... and reading drops it: the two finished rows, whole
    assert not (out / 'run.json').exists()  # not finished

    armed.clear()
    code2, _, err = cli(*RUN, '--out', out)  # the disk mended: the same command goes on
    assert code2 == 0, err
    k = keys(out)
    assert len(k) == len(set(k)) > 3  # every trial once
    after = Ledger(out / 'ledger.csv').rows
    assert all(after[key] == row for key, row in before.items())  # the rows finished before the fault, unchanged
    assert (out / 'run.json').exists()


def test_disk_fault_in_a_checkpoint_save(tmp_path, empty_cache, monkeypatch):
    import ld_nbdev.expert as expert_mod
    out, saves, real = tmp_path / 'run', [], expert_mod.atomic_save
    def faulty_save(obj, path):  # the expert's third checkpoint hits a full disk
        saves.append(path)
        if len(saves) == 3: raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(Path(path).with_suffix('.pt.tmp')))
        return real(obj, path)
    monkeypatch.setattr(expert_mod, 'atomic_save', faulty_save)
    code, _, err = cli(*RUN, '--out', out)
    disk_error(code, err, 'No space left on device writing ')
    assert not (out / 'ledger.csv').exists()
    experts = empty_cache / 'experts'
    assert not [e for e in experts.iterdir() if e.suffix != '.partial']  # no entry published half-made

    monkeypatch.setattr(expert_mod, 'atomic_save', real)
    code, _, err = cli(*RUN, '--out', out)
    assert code == 0, err
    entries = list(experts.iterdir())
    assert len(entries) == 1 and (entries[0] / 'expert.json').exists()  # one complete entry, the half-made one gone
    assert len(set(keys(out))) == len(keys(out)) > 0


def _mount(where:Path, size:str):
    where.mkdir(parents=True, exist_ok=True)
    return subprocess.run(['mount', '-t', 'tmpfs', '-o', f'size={size}', 'tmpfs', str(where)], capture_output=True).returncode == 0


@pytest.fixture
def small_disk(tmp_path):
    "A real tmpfs of 64 KiB at `tmp_path/disk` (root only) and a function that grows it; unmounted at the end."
    d = tmp_path / 'disk'
    if os.geteuid() != 0 or not _mount(d, '64k'): pytest.skip('mounting a small tmpfs needs root (the fault-injection tests above still run)')
    try: yield d, lambda size: subprocess.run(['mount', '-o', f'remount,size={size}', str(d)], check=True)
    finally: subprocess.run(['umount', '-l', str(d)])


def test_a_real_full_disk_then_more_space(small_disk, monkeypatch):
    "Cache and run folder on a 64 KiB tmpfs: the expert's checkpoints do not fit; grown, the same command finishes."
    small_disk, grow = small_disk
    monkeypatch.setenv('LD_NBDEV_CACHE', str(small_disk / 'cache'))
    out = small_disk / 'run'
    code, _, err = cli(*RUN, '--out', out)
    disk_error(code, err, 'No space left on device writing ' + str(small_disk / 'cache'))
    assert not (out / 'ledger.csv').exists()
    grow('64m')
    code, _, err = cli(*RUN, '--out', out)
    assert code == 0, err
    assert len(set(keys(out))) == len(keys(out)) > 0
    experts = [e for e in (small_disk / 'cache' / 'experts').iterdir()]
    assert len(experts) == 1 and (experts[0] / 'expert.json').exists()


RAY = ['baseline', '--dataset', 'digits', '--ipc', '2', '--students', '2', '--epochs', '40', '--expert_epochs', '1', '--quiet']


def ray_run(out):
    return subprocess.Popen([str(BIN / 'ld_run'), *RAY, '--ray', '--out', str(out)], stderr=subprocess.PIPE, text=True,
                            env={**os.environ, 'OMP_NUM_THREADS': '1'})


def task_procs():
    "The Ray worker processes running a sweep task now (Ray names a busy worker after its task)."
    found = []
    for q in psutil.process_iter(['cmdline']):
        try: cmd = ' '.join(q.info['cmdline'] or [])
        except psutil.Error: continue
        if cmd.startswith('ray::_run_job'): found.append(q)
    return found


def test_a_killed_ray_worker_costs_a_retry_not_a_row(tmp_path):
    "SIGKILL a worker in the middle of a task: Ray runs the task again, and the ledger equals a local run's, bit for bit."
    p, killed = ray_run(tmp_path / 'ray'), []
    while p.poll() is None:
        if not killed:
            for q in task_procs()[:1]: q.kill(); killed.append(q.pid)
        time.sleep(0.02)
    err = p.stderr.read()
    assert killed, 'no Ray task was seen running'
    assert p.returncode == 0, err[-2000:]
    code, _, lerr = cli(*RAY, '--out', tmp_path / 'local')
    assert code == 0, lerr
    ray, local = (pd.read_csv(tmp_path / d / 'ledger.csv', dtype={'key': str}).sort_values('key', ignore_index=True)
                  for d in ('ray', 'local'))
    assert len(ray) == len(set(ray.key)) == len(local)  # every trial once
    assert ray.key.tolist() == local.key.tolist() and ray.acc.tolist() == local.acc.tolist()  # bit-identical, not merely close
    ra, la = (pd.read_csv(tmp_path / d / 'results.csv') for d in ('ray', 'local'))
    assert ra.test_acc.tolist() == la.test_acc.tolist()


def test_a_killed_driver_leaves_a_ledger_the_same_command_resumes(tmp_path):
    out = tmp_path / 'ray'
    p, t0 = ray_run(out), time.time()
    led = out / 'ledger.csv'
    while not (led.exists() and led.read_text().count('\n') >= 3):  # the header and two finished trials
        assert p.poll() is None and time.time() - t0 < 300, p.stderr.read()[-2000:] if p.poll() is not None else 'timed out'
        time.sleep(0.05)
    kids = psutil.Process(p.pid).children(recursive=True)
    p.kill(); p.wait()
    try:
        before = Ledger(led).rows
        assert 2 <= len(before)
        r = subprocess.run([str(BIN / 'ld_run'), *RAY, '--ray', '--out', str(out)], capture_output=True, text=True,
                           env={**os.environ, 'OMP_NUM_THREADS': '1'}, timeout=300)
        assert r.returncode == 0, r.stderr[-2000:]
        k = keys(out)
        assert len(k) == len(set(k)) > len(before)  # every trial once
        after = Ledger(led).rows
        assert all(after[key] == row for key, row in before.items())  # what the killed run finished is kept as it was
    finally:
        for q in kids:  # Ray leaves two agents of a killed driver's instance running: not ours, but not left behind either
            try: q.kill()
            except psutil.Error: pass
