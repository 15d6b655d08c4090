"A streamed tree with an unreadable file: one line naming it, exit 2, before any training, nothing written."
import pytest, torch
from conftest import cli, one_line_error
from test_imagenet_layouts import write_ilsvrc, WNIDS, BASE
from ld_nbdev.core import LDError
from ld_nbdev.data import prepare, stream_dataset, StreamDL


def truncate(f): f.write_bytes(f.read_bytes()[:200]); return f  # the header whole, the pixels cut
def train_file(root): return root / 'train' / WNIDS[1] / f'{WNIDS[1]}_2.JPEG'
def val_file(root): return root / 'val' / 'ILSVRC2012_val_00000004.JPEG'


@pytest.mark.parametrize('spoil', [lambda r: truncate(train_file(r)), lambda r: truncate(val_file(r)),
                                   lambda r: val_file(r).write_text('not an image') and val_file(r)])
def test_a_streamed_run_names_an_unreadable_file_before_training(tmp_path, empty_cache, spoil):
    root = write_ilsvrc(tmp_path / 'tree'); bad = spoil(root)
    code, _, err = cli('baseline', '--dataset', 'imagenet', '--data', root, '--backing', 'stream', *BASE,
                       '--out', tmp_path / 'o')
    one_line_error(code, err, f'{bad}: not a readable image (corrupt or truncated)', 'ld_run baseline')
    assert not (tmp_path / 'o').exists() and not list(empty_cache.rglob('*.pt'))  # no statistics, no expert


def test_a_file_spoiled_after_preparing_stops_a_worker_in_one_line(tmp_path):
    root = write_ilsvrc(tmp_path / 'tree')
    sp = prepare(stream_dataset('imagenet', str(root)), valid_frac=0.2, device='cpu', backing='stream', workers=1)
    bad = truncate(sp.train.x.fs.path(2))
    with pytest.raises(LDError) as e: list(StreamDL(sp.train.x, sp.train.y, bs=4))
    assert str(e.value) == f'{bad}: not a readable image (corrupt or truncated); replace or remove it'
