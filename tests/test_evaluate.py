"`ld_run evaluate` on a set in MTT's layout: read as it stands, refused in one line where the options must say more."
import json
import torch
from conftest import cli, one_line_error
from ld_nbdev.data import load_digits_set, Preprocess
from ld_nbdev.sets import load_set

PROG = 'ld_run evaluate'
QUICK = ('--dataset', 'digits', '--students', '1', '--epochs', '2', '--expert_epochs', '1', '--expert_steps', '4',
         '--steps', '4', '--quiet')


def mtt_digits(folder, normalise):
    "A digits set in MTT's layout (images_best.pt, labels_best.pt), its pixels mapped by `normalise`; the pixels."
    tr = load_digits_set()['train']
    pick = torch.cat([torch.nonzero(tr.y == k)[:2, 0] for k in range(10)])
    folder.mkdir()
    torch.save(normalise(tr.x[pick]), folder/'images_best.pt'); torch.save(tr.y[pick], folder/'labels_best.pt')
    return folder, tr.x[pick].float() / 255


def test_refusals_name_the_option(tmp_path):
    d, _ = mtt_digits(tmp_path/'mtt', Preprocess(load_digits_set()['train'].x))
    out = tmp_path/'out'
    for args, msg in (((), 'do not record their preprocessing: give --space normalized, or --space zca'),
                      (('--space', 'normalized', '--mean', '0.5', '0.5', '0.5', '--std', '0.2', '0.2', '0.2'),
                       '--mean and --std give 3 value(s) each; digits has 1 channel(s)'),
                      (('--space', 'normalized', '--mean', '0.5'), 'give --mean and --std together'),
                      (('--space', 'raw', '--mean', '0.5', '--std', '0.2'), 'give them with --space normalized'),
                      (('--space', 'normalized', '--mean', '0.5', '--std', '0'), '--std must be positive')):
        code, _, err = cli('evaluate', '--set', d, '--dataset', 'digits', '--out', out, *args)
        one_line_error(code, err, msg, PROG)
        assert 'space=' not in err and not out.exists()


def test_a_digits_mtt_set_is_evaluated_with_the_training_splits_statistics(tmp_path):
    "Digits have no published normalisation: a set normalised with the training split's own statistics is read so."
    d, px = mtt_digits(tmp_path/'mtt', Preprocess(load_digits_set()['train'].x))
    code, out, err = cli('evaluate', '--set', d, '--space', 'normalized', '--out', tmp_path/'run', *QUICK)
    assert code == 0, err
    run = json.loads((tmp_path/'run'/'run.json').read_text())
    assert run['normalisation'].startswith("the training split's own (mean ") and run['method'] == 'MTT'
    assert torch.allclose(load_set(tmp_path/'run'/'set').pixels(), px, atol=1e-5)  # the pixels it was made from
    assert set(run['choices']) == {'set', 'random'} and (tmp_path/'run'/'control.csv').exists()


def test_given_statistics_are_used_and_said(tmp_path):
    d, px = mtt_digits(tmp_path/'mtt', lambda x: (x.float() / 255 - 0.5) / 0.25)
    code, out, err = cli('evaluate', '--set', d, '--space', 'normalized', '--mean', '0.5', '--std', '0.25',
                         '--out', tmp_path/'run', *QUICK)
    assert code == 0, err
    assert json.loads((tmp_path/'run'/'run.json').read_text())['normalisation'] == 'given (--mean, --std)'
    assert torch.allclose(load_set(tmp_path/'run'/'set').pixels(), px, atol=1e-5)


def test_an_mtt_cifar10_set_is_read_with_mtts_fixed_statistics(tmp_path):
    "An MTT-layout CIFAR-10 set is read as it stands: its pixels normalised with MTT's fixed CIFAR-10 mean and std."
    from ld_nbdev.protocol import protocol
    from ld_nbdev.readers import NORM_STATS
    from ld_nbdev.analyses.evaluate import EvaluateSettings, read_evaluated
    px = torch.rand(20, 3, 32, 32)
    m, s = (torch.tensor(v).view(1, 3, 1, 1) for v in NORM_STATS['mtt']['cifar10'])
    (tmp_path/'mtt').mkdir()
    torch.save((px - m) / s, tmp_path/'mtt'/'images_best.pt')
    torch.save(torch.arange(10).repeat(2), tmp_path/'mtt'/'labels_best.pt')
    got, note = read_evaluated(protocol('cpu', EvaluateSettings, set=str(tmp_path/'mtt'), space='normalized'))
    assert note == "mtt's published statistics for cifar10" and got.per_class() == 2
    assert torch.allclose(got.pixels(), px, atol=1e-5)
