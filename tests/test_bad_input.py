"Bad input: one line on stderr naming the problem, exit status 2, no traceback, no output folder."
import pytest
from conftest import run_cli, cli, one_line_error

CASES = [
    (['--dataset', 'mnist'], "unknown dataset 'mnist'"),
    (['--dataset', 'digits', '--arch', 'vgg16'], "unknown model 'vgg16'"),
    (['--data', '/no/such/folder'], '/no/such/folder: data folder not found'),
    (['--dataset', 'digits', '--ipc', '1', '500'], '--ipc 500 is larger than the smallest class'),
    (['--dataset', 'digits', '--ipc', '0'], '--ipc must be >= 1'),
    (['--dataset', 'digits', '--temperature', '0'], '--temperature must be > 0'),
    (['--dataset', 'digits', '--temperature', '1', '-2'], '--temperature must be > 0'),
    (['--dataset', 'digits', '--lr', '0'], '--lr must be > 0'),
    (['--dataset', 'digits', '--epochs', '0'], '--epochs must be >= 1'),
    (['--dataset', 'digits', '--students', '0'], '--students must be >= 1'),
    (['--dataset', 'digits', '--expert_epochs', '0'], '--expert_epochs must be >= 1'),
    (['--dataset', 'digits', '--valid_frac', '1.5'], '--valid_frac must be between 0 and 1'),
    (['--dataset', 'digits', '--ipc', '1', '10', '--epochs', '5', '5', '5'], '--epochs: give one value or one per IPC (2), got 3'),
    (['--dataset', 'digits', '--lr', '0.01', '-1'], '--lr must be > 0, got -1.0'),
    (['--dataset', 'digits', '--select_epochs', '0'], '--select_epochs must be >= 1'),
    (['--dataset', 'digits', '--experts', '0'], '--experts must be >= 1'),
    (['--dataset', 'digits', '--expert_steps', '5', '0'], '--expert_steps must be >= 1, got 0'),
    (['--dataset', 'digits', '--expert_steps', '5', '100000'], "--expert_steps 100000 is past the expert's last step"),
    (['--dataset', 'digits', '--preset', 'gpu'], "unknown preset 'gpu'"),
]


@pytest.mark.parametrize('args,msg', CASES)
def test_one_line_error(tmp_path, args, msg):
    out = tmp_path / 'out'
    one_line_error(*cli(*args, '--out', out, prog='ld_baseline')[::2], msg, 'ld_baseline')
    assert not out.exists()


@pytest.mark.parametrize('args,msg', [CASES[4], CASES[-2]])
def test_the_installed_command_refuses_before_any_work(tmp_path, args, msg):
    "The console script itself, as a new process: a settings error, and one found only once the data is loaded."
    out = tmp_path / 'out'
    r = run_cli(*args, '--out', out)
    one_line_error(r.returncode, r.stderr, msg, 'ld_baseline')
    assert not out.exists()


def test_missing_cifar10_says_where_fastai_looks(tmp_path, monkeypatch):
    monkeypatch.setenv('FASTAI_HOME', str(tmp_path / 'fastai_home'))  # an empty fastai config: no CIFAR-10 copy there
    monkeypatch.setenv('HOME', str(tmp_path))
    for v in ('http_proxy', 'https_proxy', 'HTTP_PROXY', 'HTTPS_PROXY'):  # make the download fail fast, online or not
        monkeypatch.setenv(v, 'http://127.0.0.1:9')
    r = run_cli('--dataset', 'cifar10', '--out', tmp_path / 'out', timeout=300)
    assert r.returncode == 2
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and 'CIFAR-10 is not at' in err[0] and str(tmp_path / 'fastai_home' / 'data' / 'cifar10') + ' ' in err[0], r.stderr
    assert not (tmp_path / 'out').exists()
