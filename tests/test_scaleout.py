"`ld_run --ray`, from the outside: a bad address fails fast, writing nothing. (A Ray run equals a local one, bit for bit, even with a worker killed: test_faults.py.)"
from conftest import run_cli


def test_unreachable_address_fails_fast_and_writes_nothing(tmp_path):
    out = tmp_path / 'C'
    r = run_cli('baseline', '--dataset', 'digits', '--ray', '127.0.0.1:1', '--out', out, prog='ld_run', timeout=120)  # Ray alone retries for minutes: a hang fails here
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith('ld_run baseline: error:') and '127.0.0.1:1' in lines[0], lines[0]
    assert not out.exists()
