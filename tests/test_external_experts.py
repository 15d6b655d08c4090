"Experts trained elsewhere, written here in torchvision's and MTT's exact layouts by a ConvNet trained on digits."
import argparse, json, os
from pathlib import Path
import pandas as pd, pytest, torch
from ld_nbdev.data import load_digits_set, prepare
from ld_nbdev.models import get_model, accuracy_of
from ld_nbdev.external import ExternalExpert, external_trajectory
from ld_nbdev.records import load_record, protocol_note
from conftest import cli, one_line_error

RUN = ['--dataset', 'digits', '--ipc', '2', '--students', '1', '--epochs', '5', '--quiet', '--cpu']


def digits_splits():
    return prepare(load_digits_set(), valid_frac=0.15, device='cpu')  # as the digits preset prepares them


def trained(epochs=3, classes=10, arch='convnet'):
    "A model trained a few SGD steps per epoch on digits: its state dicts after each epoch, parameters from the start."
    sp, _ = digits_splits(), torch.manual_seed(0)
    net = get_model(arch, 1, classes, 8)
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    states, params = [], [[p.detach().clone() for p in net.parameters()]]
    for _ in range(epochs):
        for i in range(0, 192, 64):
            y = sp.train.y[i:i + 64] % classes
            opt.zero_grad(); torch.nn.functional.cross_entropy(net(sp.train.x[i:i + 64]), y).backward(); opt.step()
        states.append(({k: v.clone() for k, v in net.state_dict().items()}, opt.state_dict()))
        params.append([p.detach().clone() for p in net.parameters()])
    return states, params


def write_torchvision(folder, states, epochs=None) -> Path:
    "torchvision reference checkpoints: model_<e>.pth with model, optimizer, lr_scheduler, epoch and args."
    folder = Path(folder); folder.mkdir(parents=True, exist_ok=True)
    for e, (sd, opt) in zip(epochs or range(len(states)), states):
        args = argparse.Namespace(model='convnet', lr=0.05, epochs=len(states))
        ck = dict(model=sd, optimizer=opt, lr_scheduler={'last_epoch': e}, epoch=e, args=args)
        torch.save(ck, folder / f'model_{e}.pth')
    return folder


def write_buffers(folder, experts, per_file=2) -> Path:
    "MTT replay buffers: replay_buffer_<n>.pt, each a list of experts, each a list over epochs of parameter lists."
    folder = Path(folder); folder.mkdir(parents=True, exist_ok=True)
    for n in range(0, len(experts), per_file):
        torch.save(experts[n:n + per_file], folder / f'replay_buffer_{n // per_file}.pt')
    return folder


@pytest.fixture(scope='module')
def made(tmp_path_factory):
    root = tmp_path_factory.mktemp('experts')
    states, params = trained()
    tv = write_torchvision(root / 'tv', states)
    mtt = write_buffers(root / 'mtt', [params[:2], params[:3], params])  # expert 2 sits in the second file
    return dict(root=root, states=states, params=params, tv=tv, mtt=mtt)


def test_weights_equal_the_files(made, tmp_path):
    sp = digits_splits()
    t = external_trajectory(ExternalExpert(made['tv']), sp, 'convnet', root=tmp_path, show=False)
    assert t.steps == [0, 1, 2] and t.manifest.epoch.tolist() == [0, 1, 2] and t.meta['format'] == 'torchvision'
    for e, (sd, _) in enumerate(made['states']):
        got = t.model(epoch=e).state_dict()
        assert all(torch.equal(got[k], v) for k, v in sd.items())
    assert t.manifest.test_acc.tolist() == [accuracy_of(t.model(epoch=e), sp.test.x, sp.test.y) for e in t.steps]
    m = external_trajectory(ExternalExpert(made['mtt'], index=2), sp, 'convnet', root=tmp_path, show=False)
    assert m.steps == [0, 1, 2, 3] and m.meta['steps_per_epoch'] == 1
    for e, ps in enumerate(made['params']):
        assert all(torch.equal(a, b) for a, b in zip(m.model(epoch=e).parameters(), ps))
    assert ExternalExpert(made['mtt'], index=0).steps == [0, 1]
    assert ExternalExpert(made['mtt'] / 'replay_buffer_0.pt', index=1).steps == [0, 1, 2]  # one file of the folder


def test_baseline_on_an_external_expert(made, tmp_path):
    out = tmp_path / 'b'
    code, _, err = cli('baseline', *RUN, '--expert', made['tv'], '--out', out)
    assert code == 0, err
    traj = pd.read_csv(out / 'expert_trajectory.csv')
    assert traj.step.tolist() == [0, 1, 2] and traj.epoch.tolist() == [0, 1, 2]  # the files' epochs
    # model_0.pth is the network after its first epoch: swept and chosen from like every other file
    assert set(pd.read_csv(out / 'selection.csv').expert_epoch.dropna()) == {0, 1, 2}
    run = json.loads((out / 'run.json').read_text())
    assert Path(run['expert_path']).name.startswith('torchvision-convnet-')
    assert run['protocol']['expert'] == str(made['tv'])
    # what run.json and the record's line say of the expert: where it came from, none of this library's expert settings
    assert run['expert'] == dict(source=str(Path(made['tv']).resolve()), format='torchvision', expert_index=0,
                                 arch='convnet', epochs=2)
    note = protocol_note(load_record(out))
    assert f"expert trained elsewhere (--expert {made['tv']})" in note and 'momentum' not in note, note
    code, _, err = cli('baseline', *RUN, '--expert', made['mtt'], '--expert_index', '2', '--out', tmp_path / 'm')
    assert code == 0, err
    assert pd.read_csv(tmp_path / 'm' / 'expert_trajectory.csv').epoch.tolist() == [0, 1, 2, 3]  # 0: the initialisation
    assert set(pd.read_csv(tmp_path / 'm' / 'selection.csv').expert_epoch.dropna()) == {1, 2, 3}  # each trained epoch


class Payload:
    def __init__(self, f): self.f = f
    def __reduce__(self): return (os.system, (f'touch {self.f}',))


def _arch(tmp, made):
    return ['--expert', made['tv'], '--arch', 'convnetd3'], \
           'tensor #8 (3.weight) has shape (10, 512), the convnetd3 here expects (128, 128, 3, 3) (2.0.weight)'
def _classes(tmp, made):
    return ['--expert', write_torchvision(tmp / 'c', trained(1, classes=5)[0])], 'the expert has 5 classes, the data 10'
def _gap(tmp, made):
    return ['--expert', write_torchvision(tmp / 'g', made['states'], epochs=[0, 1, 3])], \
           'no model_2.pth between epochs 0 and 3'
def _extra(tmp, made):
    sd, opt = made['states'][0]
    return ['--expert', write_torchvision(tmp / 'x', [({**sd, 'extra.weight': torch.zeros(4)}, opt)])], \
           'tensor #10: extra.weight (4,) is extra'
def _missing_later(tmp, made):  # the first epochs fit, the last lacks the classifier's bias: found while converting
    ps = [list(p) for p in made['params']]; ps[-1] = ps[-1][:-1]
    return ['--expert', write_buffers(tmp / 'm', [ps])], 'expert 0 epoch 3: 9 tensors, the convnet here has 10'
def _payload(tmp, made):
    f = write_torchvision(tmp / 'p', made['states'][:1])
    sd, opt = made['states'][0]
    torch.save(dict(model=sd, optimizer=opt, epoch=1, args=Payload(tmp / 'ran')), f / 'model_1.pth')
    return ['--expert', f], 'model_1.pth: refused to unpickle posix.system'
def _index(tmp, made): return ['--expert', made['mtt'], '--expert_index', '3'], '--expert_index 3: '
def _no_expert(tmp, made): return ['--expert_index', '1'], '--expert_index picks an expert of --expert'
def _steps(tmp, made):
    return ['--expert', made['tv'], '--steps', '7'], '--steps 7: the expert has no checkpoint at that step'


@pytest.mark.parametrize('case', [_arch, _classes, _gap, _extra, _missing_later, _payload, _index, _no_expert, _steps])
def test_bad_expert(made, tmp_path, empty_cache, case):
    args, msg = case(tmp_path, made)
    one_line_error(*cli('baseline', *RUN, *args, '--out', tmp_path / 'o')[::2], msg, 'ld_run baseline')
    assert not (tmp_path / 'o').exists() and not (tmp_path / 'ran').exists()
    assert not [f for f in empty_cache.rglob('*') if f.is_file()]  # nothing half-written: no checkpoint, no lock


@pytest.mark.parametrize('name,md', [('table2', 'table2.md'), ('table1', 'table1.md')])
def test_records_name_an_external_expert(made, tmp_path, name, md):
    "The records of Table 1 and Table 2 say where an --expert came from, not this library's expert settings."
    args = ['--dataset', 'digits', '--arch', 'convnet', '--ipc', '1', '--students', '1', '--epochs', '2', '--quiet',
            '--cpu']
    code, _, err = cli(name, *args, '--expert', made['tv'], '--out', tmp_path / name)
    assert code == 0, err
    text = (tmp_path / name / md).read_text()
    assert f"trained elsewhere (torchvision checkpoints {Path(made['tv']).resolve()})" in text, text
    assert 'epochs 0 to 2' in text and 'SGD lr' not in text and 'epoch(s) at lr' not in text
