"""Write an ILSVRC-2012-layout tree of any size from CIFAR-10's images, repeated where needed, for benchmarks.

    python tools/imagenet_tree.py OUT --train 100000 --val 5000 [--size 64] [--classes 10] [--workers N]
    python tools/imagenet_tree.py OUT --sample 100     # CIFAR-10's first 100 images a class and split, to carry along

train/<wnid>/<wnid>_<i>.JPEG, and val/ flat beside LOC_val_solution.csv and LOC_synset_mapping.txt, as the release
has them. Class c shows CIFAR-10 class c mod 10 (its training images for train/, its test images for val/), each
upscaled (bilinear) to `size` px and saved as a JPEG; with more images than CIFAR-10 has, its images repeat. What the
images show does not matter to what the benchmarks measure (memory, decoding and training rates). On a machine
without CIFAR-10, `--cifar10 DIR` takes any folder in its layout (train/<class>/, test/<class>/), such as a `--sample`
of it made where it is.
"""
import argparse, csv, os, shutil, sys
from multiprocessing import Pool
from pathlib import Path
from PIL import Image

CIFAR10 = Path.home() / '.fastai' / 'data' / 'cifar10'
CLASSES = ('airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck')
# CIFAR-10's classes as ImageNet synsets near them; beyond ten classes, made-up wnids of the same form
WNIDS = ('n02690373', 'n02814533', 'n01530575', 'n02123045', 'n02430045', 'n02085620', 'n01641577', 'n02389026',
         'n03095699', 'n03417042')


def wnids(classes:int) -> list:
    return [WNIDS[c] if c < len(WNIDS) else f'n9{c:07d}' for c in range(classes)]


def _sources(cifar:Path, split:str) -> list:
    "CIFAR-10's files of `split`, one sorted list per class."
    d = Path(cifar) / split
    if not d.is_dir(): raise SystemExit(f'imagenet_tree: {d} not found: extract CIFAR-10 there or pass --cifar10 DIR')
    return [sorted((d / c).iterdir()) for c in CLASSES]


def _write(job):
    src, dst, size = job
    with Image.open(src) as im: im.convert('RGB').resize((size, size), Image.BILINEAR).save(dst, quality=90)


def jobs(out:Path, n_train:int, n_val:int, size:int, classes:int, cifar:Path):
    "The (source, destination, size) of every image, and the val solution rows; folders made."
    ws, tr, te = wnids(classes), _sources(cifar, 'train'), _sources(cifar, 'test')
    todo, rows, groups = [], [], -(-classes // 10)  # classes that show one CIFAR-10 class take turns at its images
    for c, w in enumerate(ws):
        (out / 'train' / w).mkdir(parents=True, exist_ok=True)
        src = tr[c % 10]
        todo += [(src[(i * groups + c // 10) % len(src)], out / 'train' / w / f'{w}_{i}.JPEG', size)
                 for i in range(n_train // classes + (c < n_train % classes))]
    (out / 'val').mkdir(parents=True, exist_ok=True)
    for k in range(n_val):
        c, name = k % classes, f'ILSVRC2012_val_{k + 1:08d}'
        src = te[c % 10]
        todo.append((src[k // classes % len(src)], out / 'val' / f'{name}.JPEG', size))
        rows.append((name, f'{ws[c]} 0 0 {size - 1} {size - 1}'))  # the whole image as the box, as the release has
    return todo, rows


def write_tree(out, n_train:int, n_val:int, size:int=64, classes:int=10, cifar=CIFAR10, workers:int|None=None) -> Path:
    "An ILSVRC-2012 tree of `n_train` training and `n_val` val images of `size` px and `classes` classes, in `out`."
    out = Path(out)
    if classes < 2 or n_train < 2 * classes or n_val < classes:
        raise SystemExit('imagenet_tree: need --classes >= 2, --train >= 2 per class and --val >= 1 per class')
    todo, rows = jobs(out, n_train, n_val, size, classes, Path(cifar))
    with Pool(workers or len(os.sched_getaffinity(0))) as p:
        for _ in p.imap_unordered(_write, todo, chunksize=256): pass
    (out / 'LOC_synset_mapping.txt').write_text(''.join(f'{w} class {c}\n' for c, w in enumerate(wnids(classes))))
    with open(out / 'LOC_val_solution.csv', 'w', newline='') as f:  # last: a tree with it is whole
        w = csv.writer(f); w.writerow(['ImageId', 'PredictionString']); w.writerows(rows)
    return out


def sample(out, per_class:int, cifar=CIFAR10) -> Path:
    "The first `per_class` images of each CIFAR-10 class and split, copied into `out` in CIFAR-10's layout."
    for split in ('train', 'test'):
        for c, fs in zip(CLASSES, _sources(cifar, split)):
            (Path(out) / split / c).mkdir(parents=True, exist_ok=True)
            for f in fs[:per_class]: shutil.copy2(f, Path(out) / split / c / f.name)
    return Path(out)


if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('out', help='folder to write the tree into (a new one)')
    p.add_argument('--train', type=int, help='training images')
    p.add_argument('--val', type=int, help='val images')
    p.add_argument('--sample', type=int, default=None, help="only copy this many of CIFAR-10's images a class to OUT")
    p.add_argument('--size', type=int, default=64, help='side in pixels')
    p.add_argument('--classes', type=int, default=10)
    p.add_argument('--cifar10', default=str(CIFAR10), help="CIFAR-10's folder (train/, test/)")
    p.add_argument('--workers', type=int, default=None, help='writing processes (default: every core)')
    a = p.parse_args()
    if Path(a.out).exists() and any(Path(a.out).iterdir()): p.error(f'{a.out}: not empty; give a new folder')
    if a.sample:
        sample(a.out, a.sample, a.cifar10)
        sys.exit(print(f'copied {a.sample} images a class and split to {a.out}'))
    if a.train is None or a.val is None: p.error('--train and --val: give both (or --sample)')
    write_tree(a.out, a.train, a.val, a.size, a.classes, a.cifar10, a.workers)
    print(f'wrote {a.train} training and {a.val} val images of {a.size} px to {a.out}')
