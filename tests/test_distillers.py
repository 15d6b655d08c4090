"The image distillers from the outside: `ld_run dm` and `ld_run pixels`, killed with SIGKILL, go on to the set of a run never stopped."
import os, signal, subprocess, time
import pandas as pd, pytest, torch
from conftest import BIN, cli
from ld_nbdev.sets import load_set

COMMON = ['--dataset', 'digits', '--ipc', '2', '--students', '1', '--epochs', '5', '--expert_epochs', '1', '--quiet']  # the digits expert other tests share
RUNS = {'dm': (['dm', *COMMON, '--dm_iters', '150', '--dm_real', '64', '--dm_save', '5', '--dm_curve', '50'], 150),
        'pixels': (['pixels', *COMMON, '--pix_steps', '30', '--pix_unroll', '10', '--pix_window', '5', '--pix_save', '3',
                    '--pix_curve', '15'], 30)}


@pytest.mark.parametrize('name', list(RUNS))
def test_distiller_killed_with_sigkill_goes_on_to_the_same_set(tmp_path, name):
    args, last = RUNS[name]
    whole, killed = tmp_path / 'whole', tmp_path / 'killed'
    code, _, err = cli(*args, "--out", whole)  # never stopped
    assert code == 0, err
    state = killed / name / 'ipc2' / 'state.pt'
    p = subprocess.Popen([str(BIN / 'ld_run'), *args, '--out', str(killed)], stderr=subprocess.PIPE, text=True,
                         env={**os.environ, 'OMP_NUM_THREADS': str(torch.get_num_threads())})  # the threads of the runs it is compared with: the same sums
    t0 = time.time()
    saved = lambda: torch.load(state, weights_only=True)['step'] if state.exists() else 0  # written whole (atomic rename)
    while saved() == 0:  # the state of step 0 is saved at the start: wait for one past it
        assert p.poll() is None and time.time() - t0 < 120, 'the run ended before its first save'
        time.sleep(0.01)
    p.send_signal(signal.SIGKILL); p.wait()
    step = torch.load(state, weights_only=True)['step']
    assert 0 < step < last, step  # killed in the middle of the distillation
    code, _, err = cli(*args, '--out', killed)  # the same command
    assert code == 0, err
    a, b = (load_set(d / name / 'ipc2' / 'set') for d in (whole, killed))
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)  # bit for bit
    ha, hb = (pd.read_csv(d / 'history.csv') for d in (whole, killed))
    assert hb.step.tolist() == list(range(1, last + 1)) and ha.drop(columns='seconds').equals(hb.drop(columns='seconds'))  # every step once
    la, lb = (pd.read_csv(d / 'ledger.csv', dtype={'key': str}).sort_values('key', ignore_index=True) for d in (whole, killed))
    assert la.key.tolist() == lb.key.tolist() and la.acc.tolist() == lb.acc.tolist()
