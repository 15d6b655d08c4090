"""Write a small ILSVRC-2012 tree (train/<wnid>/*.JPEG, val/ beside LOC_val_solution.csv) from CIFAR-10 or digits."""
import argparse, csv, sys
from pathlib import Path
import numpy as np
from PIL import Image

# CIFAR-10's classes as the ImageNet synsets nearest to them, so the tree reads like ILSVRC (any distinct wnids would
# do)
WNIDS = {'airplane': 'n02690373', 'automobile': 'n02814533', 'bird': 'n01530575', 'cat': 'n02123045',
         'deer': 'n02430045', 'dog': 'n02085620', 'frog': 'n01641577', 'horse': 'n02389026', 'ship': 'n03095699',
         'truck': 'n03417042'}


def cifar10_images(root:Path, split:str, n:int) -> dict:
    "The first `n` images of each class of CIFAR-10's `split` folder (fastai's JPEG copy), as `{class: [PIL images]}`."
    d = root/split
    if not d.is_dir(): sys.exit(f'make_imagenet_tree: {d} not found: extract CIFAR-10 there (fastai '
                                f'untar_data(URLs.CIFAR)) '
                                'or pass --cifar10 DIR or --source digits')
    return {c: [Image.open(f).convert('RGB') for f in sorted((d/c).iterdir())[:n]] for c in WNIDS}


def digits_images(split:str, n:int) -> dict:
    "The first `n` images of each of scikit-learn's digits 0 to 9 (the first or second half of the set), as RGB images."
    from sklearn.datasets import load_digits
    x, y = load_digits(return_X_y=True)
    half = len(y) // 2
    x, y = (x[:half], y[:half]) if split == 'train' else (x[half:], y[half:])
    img = lambda v: Image.fromarray((v.reshape(8, 8) * 255 / 16).astype(np.uint8)).convert('RGB')
    return {c: [img(v) for v in x[y == i][:n]] for i, c in enumerate(WNIDS)}


def write_tree(out:Path, train:dict, val:dict, size:int, flat_val:bool=True):
    "Write `train` and `val` (`{class: [images]}`) as an ILSVRC-2012 tree under `out`, each image resized to `size` px."
    (out/'LOC_synset_mapping.txt').write_text(''.join(f'{WNIDS[c]} {c}\n' for c in train))
    rows, k = [], 0
    for c, ims in train.items():
        (out/'train'/WNIDS[c]).mkdir(parents=True, exist_ok=True)
        for i, im in enumerate(ims):
            im.resize((size, size), Image.BICUBIC).save(out/'train'/WNIDS[c]/f'{WNIDS[c]}_{i}.JPEG', quality=95)
    for c, ims in val.items():
        for im in ims:
            k += 1
            name = f'ILSVRC2012_val_{k:08d}'
            d = out/'val' if flat_val else out/'val'/WNIDS[c]
            d.mkdir(parents=True, exist_ok=True)
            im.resize((size, size), Image.BICUBIC).save(d/f'{name}.JPEG', quality=95)
            # the whole image as the box, as the published file has
            rows.append((name, f'{WNIDS[c]} 0 0 {size - 1} {size - 1}'))
    if flat_val:
        with open(out/'LOC_val_solution.csv', 'w', newline='') as f:
            w = csv.writer(f); w.writerow(['ImageId', 'PredictionString']); w.writerows(rows)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('--out', required=True, help='folder to write the tree into (must not exist or be empty)')
    p.add_argument('--per_class', type=int, default=30, help='training images per class')
    p.add_argument('--val_per_class', type=int, default=10, help='val images per class')
    p.add_argument('--size', type=int, default=64,
                   help='side of the written images in pixels (upscaled from the source)')
    p.add_argument('--source', choices=('cifar10', 'digits'), default='cifar10',
                   help="CIFAR-10's images or scikit-learn's digits")
    p.add_argument('--cifar10', default=str(Path.home()/'.fastai'/'data'/'cifar10'),
                   help="CIFAR-10's folder (train/, test/)")
    p.add_argument('--val_folders', action='store_true',
                   help='val/<wnid>/ folders instead of a flat val/ and LOC_val_solution.csv')
    a = p.parse_args(argv)
    out = Path(a.out).expanduser()
    if a.per_class < 1 or a.val_per_class < 1 or a.size < 8:
        p.error('--per_class and --val_per_class must be >= 1 and --size >= 8')
    if out.exists() and any(out.iterdir()): p.error(f'--out {out}: the folder is not empty; give a new one')
    out.mkdir(parents=True, exist_ok=True)
    if a.source == 'cifar10': train, val = (cifar10_images(Path(a.cifar10).expanduser(), s, n)
                                            for s, n in (('train', a.per_class), ('test', a.val_per_class)))
    else: train, val = digits_images('train', a.per_class), digits_images('val', a.val_per_class)
    write_tree(out, train, val, a.size, flat_val=not a.val_folders)
    print(f'wrote {sum(map(len, train.values()))} training and {sum(map(len, val.values()))} val images of {a.size} px '
          f'to {out}')


if __name__ == '__main__': main()
