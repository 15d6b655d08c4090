"ImageNet layouts read back from small trees and batches written here in the published layouts, digits as pictures."
import os, pickle
from pathlib import Path
import numpy as np, pandas as pd, pytest, torch
from PIL import Image
from sklearn.datasets import load_digits
from ld_nbdev.data import get_dataset
from ld_nbdev.imagenet import (ilsvrc_files, load_imagenet, load_imagenet32, load_imagenet64, imagenet_eval_tfm,
                               imagenet_train_tfm)
from conftest import cli, one_line_error

DIGITS = load_digits()
WNIDS = ['n01530575', 'n01443537', 'n01484850']  # LOC_synset_mapping.txt's order, not sorted: the class order to keep
BASE = ['--ipc', '1', '--students', '1', '--epochs', '2', '--quiet', '--cpu']


def picture(i, px=32) -> Image.Image:
    "Digit `i` as an RGB picture whose three channels differ (the digit, it upside down, its negative), `px` square."
    a = (DIGITS.images[i] * 255 / 16).astype(np.uint8)
    return Image.fromarray(np.stack([a, a[::-1], 255 - a], -1)).resize((px, px), Image.NEAREST)


def write_ilsvrc(root, flat=True, mapping=True, n_train=3, n_val=2) -> Path:
    "An ILSVRC-2012 tree: train/<wnid>/<wnid>_<i>.JPEG; val flat beside LOC_val_solution.csv, or in val/<wnid>/."
    root = Path(root); root.mkdir(parents=True, exist_ok=True); rows, j = [], 0
    if mapping:
        lines = [f'{w} tench, Tinca tinca {k}\n' for k, w in enumerate(WNIDS)]
        (root / 'LOC_synset_mapping.txt').write_text(''.join(lines))
    for k, w in enumerate(WNIDS):
        (root / 'train' / w).mkdir(parents=True)
        for i in range(n_train): picture(10 * i + k).save(root / 'train' / w / f'{w}_{i}.JPEG')
        for i in range(n_val):
            j += 1; name = f'ILSVRC2012_val_{j:08d}'
            d = root / 'val' if flat else root / 'val' / w
            d.mkdir(parents=True, exist_ok=True)
            picture(500 + 10 * i + k).save(d / f'{name}.JPEG')
            rows.append((name, f'{w} 12 30 200 220 {w} 3 3 20 20'))
    if flat:
        pd.DataFrame(rows, columns=['ImageId', 'PredictionString']).to_csv(root / 'LOC_val_solution.csv', index=False)
    return root


def decoded(f) -> torch.Tensor:
    return torch.from_numpy(np.array(Image.open(f).convert("RGB"))).permute(2, 0, 1)


def test_ilsvrc_flat_val_with_loc_files(tmp_path):
    root = write_ilsvrc(tmp_path)
    ds = load_imagenet(root, use_cache=False)
    assert ds['train'].classes == WNIDS and ds['test'].classes == WNIDS  # the mapping's order
    assert ds['train'].y.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    files = ilsvrc_files(root)
    for x, f in zip(ds['train'].x, [f for fs in files['train'].values() for f in fs]): assert torch.equal(x, decoded(f))
    sol = pd.read_csv(root / 'LOC_val_solution.csv')
    want = {r.ImageId: WNIDS.index(r.PredictionString.split()[0]) for r in sol.itertuples()}
    got = {f.stem: k for k, fs in enumerate(files['val'].values()) for f in fs}
    assert got == want
    for x, f, y in zip(ds['test'].x, [f for fs in files['val'].values() for f in fs], ds['test'].y):
        assert torch.equal(x, decoded(f)) and y == want[f.stem]


def test_ilsvrc_val_in_class_folders_sorted_without_mapping(tmp_path):
    root = write_ilsvrc(tmp_path, flat=False, mapping=False)
    ds = load_imagenet(root, size=(16, 16), use_cache=False)
    assert ds['train'].classes == sorted(WNIDS)
    assert ds['test'].counts().tolist() == [2, 2, 2] and ds['test'].x.shape == (6, 3, 16, 16)
    first = ilsvrc_files(root)['val'][sorted(WNIDS)[0]][0]
    assert first.parent.name == sorted(WNIDS)[0]


def test_ilsvrc_kaggle_nesting(tmp_path):
    "Kaggle's copy: the images under ILSVRC/Data/CLS-LOC/, the LOC files beside ILSVRC/."
    flat = write_ilsvrc(tmp_path / 'a')
    nested = tmp_path / 'k' / 'ILSVRC' / 'Data' / 'CLS-LOC'; nested.mkdir(parents=True)
    for d in ('train', 'val'): (flat / d).rename(nested / d)
    for f in ('LOC_synset_mapping.txt', 'LOC_val_solution.csv'): (flat / f).rename(tmp_path / 'k' / f)
    ds = load_imagenet(tmp_path / 'k', max_per_class=1, use_cache=False)
    assert ds['train'].classes == WNIDS and ds['test'].y.tolist() == [0, 1, 2]


def planar(i, px):
    "Digit `i`'s picture as the release stores it: one row, the R plane then G then B, each row-major; and the picture."
    img = np.asarray(picture(i, px))
    return np.concatenate([img[..., c].reshape(-1) for c in range(3)]), img


def write_batches(root, px, per_batch=6, batches=2, c=3, protocol=2) -> Path:
    root = Path(root); root.mkdir(parents=True, exist_ok=True)
    for name, off in [*((f'train_data_batch_{b + 1}', b * per_batch) for b in range(batches)), ('val_data', 900)]:
        d = {'data': np.stack([planar(off + i, px)[0] for i in range(per_batch)]),
             'labels': [i % c + 1 for i in range(per_batch)]}
        if name != 'val_data': d['mean'] = d['data'].mean(0)
        (root / name).write_bytes(pickle.dumps(d, protocol=protocol))
    return root


@pytest.mark.parametrize('px,protocol', [(32, 2), (64, pickle.HIGHEST_PROTOCOL)])
def test_downsampled_batches(tmp_path, px, protocol):
    root = write_batches(tmp_path, px, protocol=protocol)
    ds = (load_imagenet32 if px == 32 else load_imagenet64)(root)
    assert ds['train'].x.shape == (12, 3, px, px) and ds['train'].x.dtype == torch.uint8
    assert ds['train'].y.tolist() == [0, 1, 2] * 4  # labels 1, 2, 3 counted from 0, batch 1 before batch 2
    for k in (0, 7): assert np.array_equal(ds['train'].x[k].permute(1, 2, 0).numpy(), planar(k, px)[1])
    assert np.array_equal(ds['test'].x[5].permute(1, 2, 0).numpy(), planar(905, px)[1])
    load = load_imagenet32 if px == 32 else load_imagenet64
    assert load(root, max_per_class=1)['train'].counts().tolist() == [1, 1, 1]


def test_downsampled_class_names_from_map_clsloc(tmp_path):
    root = write_batches(tmp_path, 32)
    (root / 'map_clsloc.txt').write_text(''.join(f'{w} {k + 1} name_{k}\n' for k, w in enumerate(WNIDS)))
    assert load_imagenet32(root)['train'].classes == WNIDS


class Payload:
    "What a hostile pickle carries: a call of os.system, made while it loads unless the reader refuses it."
    def __init__(self, f): self.f = f
    def __reduce__(self): return (os.system, (f'touch {self.f}',))


def test_pickle_payload_refused_unrun(tmp_path):
    root = write_batches(tmp_path / 'b', 32)
    marker = tmp_path / 'ran'
    (root / 'train_data_batch_2').write_bytes(pickle.dumps({'data': np.zeros((1, 3072), np.uint8), 'labels': [1],
                                                            'mean': Payload(marker)}))
    one_line_error(*cli('baseline', '--dataset', 'imagenet32', '--data', root, *BASE, '--out', tmp_path / 'o')[::2],
                   'train_data_batch_2: refused to unpickle posix.system', 'ld_run baseline')
    assert not marker.exists() and not (tmp_path / 'o').exists()


def test_datasets_by_name_from_data_or_environment(tmp_path, monkeypatch):
    b64, tree = write_batches(tmp_path / 'i64', 64), write_ilsvrc(tmp_path / 'ilsvrc')
    assert len(get_dataset('imagenet64', str(b64))['train']) == 12
    monkeypatch.setenv('LD_NBDEV_IMAGENET64', str(b64)); monkeypatch.setenv('LD_NBDEV_IMAGENET', str(tree))
    assert len(get_dataset('imagenet64', max_per_class=2)['test']) == 6
    assert get_dataset('imagenet')['train'].classes == WNIDS


def _missing_val_class(root):
    sol = pd.read_csv(root / 'LOC_val_solution.csv')
    gone = sol[sol.PredictionString.str.startswith(WNIDS[2])]
    for i in gone.ImageId: (root / 'val' / f'{i}.JPEG').unlink()
    sol.drop(gone.index).to_csv(root / 'LOC_val_solution.csv', index=False)

def _unlabelled(root): picture(7).save(root / 'val' / 'ILSVRC2012_val_00000099.JPEG')
def _unknown_wnid(root):
    sol = pd.read_csv(root / 'LOC_val_solution.csv'); sol.loc[1, 'PredictionString'] = 'n99999999 1 1 5 5'
    sol.to_csv(root / 'LOC_val_solution.csv', index=False)
def _no_solution(root): (root / 'LOC_val_solution.csv').unlink()
def _truncated(root):
    f = root / 'train' / WNIDS[1] / f'{WNIDS[1]}_2.JPEG'; f.write_bytes(f.read_bytes()[:200])


@pytest.mark.parametrize('spoil,msg', [
    (_missing_val_class, f"no val images of class ['{WNIDS[2]}']"),
    (_unlabelled, 'ILSVRC2012_val_00000099.JPEG: not in LOC_val_solution.csv, so its class is unknown'),
    (_unknown_wnid, "line 3: ILSVRC2012_val_00000002 is labelled 'n99999999'"),
    (_no_solution, 'their classes are read from'),
    (_truncated, f'{WNIDS[1]}_2.JPEG: not a readable image (corrupt or truncated)'),
])
def test_ilsvrc_bad_input(tmp_path, empty_cache, spoil, msg):
    root = write_ilsvrc(tmp_path / 'tree'); spoil(root)
    code, _, err = cli('baseline', '--dataset', 'imagenet', '--data', root, *BASE, '--out', tmp_path / 'o')
    one_line_error(code, err, msg, 'ld_run baseline')
    assert not (tmp_path / 'o').exists() and not list(empty_cache.rglob('*.pt'))  # nothing decoded into the cache


@pytest.mark.parametrize('spoil,msg', [
    (lambda r: (r / 'train_data_batch_1').rename(r / 'other'), 'train_data_batch_1 is missing'),
    (lambda r: write_batches(r, 64), 'is this the 64 px release? pick the matching --dataset'),
    (lambda r: write_batches(r, 32, c=4, batches=1) and (r / 'val_data').write_bytes(pickle.dumps(
        {'data': np.zeros((2, 3072), np.uint8), 'labels': [1, 2]})), 'no val images of class [3]'),
    (lambda r: (r / 'val_data').write_bytes(pickle.dumps({'data': np.zeros((3, 3072), np.uint8), 'labels': [1, 2]})),
     'val_data: expected data of N rows of uint8 and N labels, got data uint8 (3, 3072) and (2,) labels'),
])
def test_downsampled_bad_input(tmp_path, spoil, msg):
    root = write_batches(tmp_path / 'b', 32); spoil(root)
    code, _, err = cli('baseline', '--dataset', 'imagenet32', '--data', root, *BASE, '--out', tmp_path / 'o')
    one_line_error(code, err, msg, 'ld_run baseline')


def test_reference_transforms():
    x = torch.randint(0, 256, (3, 3, 256, 320), dtype=torch.uint8)  # short side already 256: resizing leaves it be
    assert torch.equal(imagenet_eval_tfm()(x), x[..., 16:240, 48:272])  # the centre 224
    assert imagenet_eval_tfm()(picture(0, 300)).size == (224, 224)
    torch.manual_seed(0)
    out = imagenet_train_tfm(32)(x[:1].expand(6, -1, -1, -1))
    assert out.shape == (6, 3, 32, 32) and out.dtype == torch.uint8
    assert len({o.numpy().tobytes() for o in out}) == 6  # each copy of one picture got its own crop
