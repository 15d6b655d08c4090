"`ld_run --ray`, from the outside: the same ledger and results as a local run; a bad address fails fast, writing nothing."
import pandas as pd
from conftest import run_cli, cli

ARGS = ['baseline', '--dataset', 'digits', '--ipc', '2', '--students', '2', '--epochs', '5', '--expert_epochs', '1', '--quiet']


def test_ray_run_matches_local_run(tmp_path):
    ray, local = tmp_path / 'A', tmp_path / 'B'
    r = run_cli(*ARGS, '--ray', '--out', ray, prog='ld_run')
    assert r.returncode == 0, r.stderr
    code, _, err = cli(*ARGS, '--out', local)  # here, in this process; the expert the first run trained is reused
    assert code == 0, err
    la, lb = (pd.read_csv(d / 'ledger.csv', dtype={'key': str}).sort_values('key', ignore_index=True) for d in (ray, local))
    assert len(la) > 0 and (la.status == 'ok').all()
    assert la.key.tolist() == lb.key.tolist()
    assert la.acc.tolist() == lb.acc.tolist()  # bit-identical, not merely close
    ra, rb = (pd.read_csv(d / 'results.csv') for d in (ray, local))
    assert ra.test_acc.tolist() == rb.test_acc.tolist()


def test_unreachable_address_fails_fast_and_writes_nothing(tmp_path):
    out = tmp_path / 'C'
    r = run_cli('baseline', '--dataset', 'digits', '--ray', '127.0.0.1:1', '--out', out, prog='ld_run', timeout=120)  # Ray alone retries for minutes: a hang fails here
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith('ld_run baseline: error:') and '127.0.0.1:1' in lines[0], lines[0]
    assert not out.exists()
