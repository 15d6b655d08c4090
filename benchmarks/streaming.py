"""Streaming at scale, measured in one run: memory and images/s of experts and scoring through streamed files as the
tree grows, against the rate the same loader decodes at; and the CIFAR-10 expert through the float and streamed paths.

    python benchmarks/streaming.py [--sizes 10000 100000 300000] [--batches 10] [--cifar_epochs 2]
                                   [--tree_dir DIR] [--keep_trees] [--out benchmarks/streaming.csv] [--quick]
    python benchmarks/streaming.py --render      # BENCHMARKS.md's section again, from the CSV
    python benchmarks/streaming.py --parts cifar10   # one part again; the CSV keeps the other part's rows

For each size, an ILSVRC-2012 tree (train/<wnid>/*.JPEG, val/ flat beside LOC_val_solution.csv and
LOC_synset_mapping.txt) of that many 64 px training images (and a twentieth as many val images) is written from
CIFAR-10's images (`tools/imagenet_tree.py`: ten classes, upscaled, repeated where needed), then measured in a fresh
process (so that no peak carries over from a smaller tree), with an empty cache:
- indexing (`stream_dataset('imagenet', tree)`: every file listed and its header read) and `prepare(backing='stream')`
  (every file decoded once: the statistics, and the check that each file decodes), in seconds;
- decode only: images/s of the expert's own loader (`StreamDL`, shuffled, batch 256: decoding in `DataLoader` workers
  and preprocessing) with no model, the most any training through it can reach on this machine;
- expert training: images/s of the library's expert (`expert_learner`: ConvNet, flips, SGD) on the same loader;
- scoring: images/s of `predict_logits` on streamed training images;
  each over a fixed number of batches (`--batches`, after one warm-up batch), not whole epochs;
- peak resident memory of the process (`getrusage`), and of its largest decoding worker; and what the index itself
  takes (the process's resident memory before and after indexing).
Then the CIFAR-10 expert (`ExpertConfig`, checkpoints at epochs only) through `backing='float'` (decoded tensors) and
`backing='stream'` (the JPEG files), each in a fresh process: seconds and test accuracy per epoch, and seconds before
the first epoch (decoding, or indexing and the statistics pass). Trees are written to a temporary folder (or
`--tree_dir`) and removed after their size is measured unless `--keep_trees`. `--quick` is a dry run (tiny trees, a few
batches, 20 CIFAR-10 images a class) that writes nothing unless `--out` is given.
"""
import argparse, json, os, platform, resource, shutil, subprocess, sys, tempfile, time
from itertools import chain, islice
from pathlib import Path
import pandas as pd, torch

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / 'tools'), str(ROOT / 'benchmarks')]
from imagenet_tree import write_tree, CIFAR10
from sections import write_section
from fastai.callback.core import Callback, CancelFitException
from ld_nbdev.core import atomic_csv, pick_device
from ld_nbdev.data import get_dataset, prepare, stream_dataset, StreamDL, StreamImages
from ld_nbdev.expert import ExpertConfig, expert_learner, train_expert
from ld_nbdev.models import predict_logits
from ld_nbdev.protocol import versions

SIZES, QUICK_SIZES = (10_000, 100_000, 300_000), (200, 400)


def peak_mb() -> dict:
    "Peak resident memory so far of this process and of its largest finished child (a decoding worker), in MB."
    kb = lambda who: resource.getrusage(who).ru_maxrss  # kilobytes on Linux
    return dict(rss_main_mb=kb(resource.RUSAGE_SELF) / 1024, rss_worker_mb=kb(resource.RUSAGE_CHILDREN) / 1024)


def rss_mb() -> float:
    "Resident memory of this process now, in MB."
    return int(Path('/proc/self/statm').read_text().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2**20


def rate(batches, n:int, skip:int=1) -> float:
    "Images/s over `n` batches of `batches` (an iterable of tuples led by images) after `skip` warm-up ones."
    it = iter(batches)
    for _ in islice(it, skip): pass
    t0, images = time.perf_counter(), 0
    for b in islice(it, n): images += len(b[0])
    return images / (time.perf_counter() - t0)


def epochs_of(dl):
    "The batches of `dl`, epoch after epoch, without end."
    return chain.from_iterable(iter(lambda: dl, None))


def now(device) -> float:
    "The time once `device` has finished the work queued on it."
    if torch.device(device).type == 'cuda': torch.cuda.synchronize(device)
    return time.perf_counter()


class Timed(Callback):
    "Time `n` training batches after `skip` warm-up ones (images counted as the loader gives them), then stop the fit."
    order = 0  # before any callback that shards the batch
    def __init__(self, n:int, skip:int=1): self.n, self.skip, self.i, self.images = n, skip, 0, 0
    def before_batch(self):
        if self.training and self.i >= self.skip: self.images += len(self.xb[0])
    def after_batch(self):
        if not self.training: return
        self.i += 1
        if self.i == self.skip: self.t0 = now(self.xb[0].device)
        if self.i == self.skip + self.n:
            self.s = now(self.xb[0].device) - self.t0
            self.rate = self.images / self.s
            raise CancelFitException()


def measure_tree(tree:str, n_batches:int, bs:int) -> dict:
    "Everything measured on one tree, in this (fresh) process."
    out, device = {}, pick_device()
    t0, m0 = time.perf_counter(), rss_mb()
    ds = stream_dataset('imagenet', tree)
    out['index_s'], out['index_mb'] = time.perf_counter() - t0, rss_mb() - m0
    t0 = time.perf_counter()
    sp = prepare(ds, device=device, backing='stream')
    out['prepare_s'] = time.perf_counter() - t0
    out['train_images'], out['val_images'] = len(ds['train']), len(ds['test'])
    dl = StreamDL(sp.train.x, sp.train.y, bs=bs, shuffle=True, seed=0)
    out['decode_images_per_s'] = rate(epochs_of(dl), n_batches)
    timed = Timed(n_batches)
    learn = expert_learner(sp, ExpertConfig(bs=bs), cbs=[timed])
    with learn.no_bar(), learn.no_logging(): learn.fit(-(-(n_batches + 1) // len(learn.dls.train)) + 1)
    out['expert_images_per_s'] = timed.rate
    m = n_batches * bs
    xs = StreamImages(sp.train.x.fs.subset(torch.arange(min(m, len(sp.train)))), sp.pre, device, sp.train.x.workers)
    t0 = time.perf_counter(); predict_logits(learn.model.eval(), xs, bs=bs)
    out['score_images_per_s'] = len(xs) / (time.perf_counter() - t0)
    return {**out, **peak_mb(), 'workers': sp.train.x.workers, 'device': str(device)}


class EpochTimes(Callback):
    "Seconds of each epoch: training, validation and the checkpoint's scoring."
    def before_fit(self): self.s = []
    def before_epoch(self): self.t0 = time.perf_counter()
    def after_epoch(self): self.s.append(time.perf_counter() - self.t0)


def measure_cifar(backing:str, epochs:int, max_per_class:int|None) -> dict:
    "The CIFAR-10 expert through `backing`, in this (fresh) process: seconds before and of each epoch, test accuracy."
    t0 = time.perf_counter()
    ds = stream_dataset('cifar10', max_per_class=max_per_class) if backing == 'stream' else \
        get_dataset('cifar10', max_per_class=max_per_class)
    sp = prepare(ds, device=pick_device(), backing=backing)
    before = time.perf_counter() - t0
    times = EpochTimes()
    with tempfile.TemporaryDirectory() as d:
        t = train_expert(sp, ExpertConfig(epochs=epochs, steps=()), root=d, show=False, cbs=[times])
        acc = t.manifest.set_index('epoch').test_acc
    return dict(before_s=before, epoch_s=times.s, test_acc=[float(acc[e]) for e in range(1, epochs + 1)],
                train_images=len(sp.train), **peak_mb())


def fresh(*args) -> dict:
    "This script's `args` run in a new process with an empty cache: the JSON it prints last."
    with tempfile.TemporaryDirectory() as cache:
        r = subprocess.run([sys.executable, __file__, *map(str, args)], capture_output=True, text=True,
                           env={**os.environ, 'LD_NBDEV_CACHE': cache})
    if r.returncode: raise SystemExit(f'streaming.py {" ".join(map(str, args))} failed:\n{r.stderr[-3000:]}')
    return json.loads(r.stdout.strip().splitlines()[-1])


def main(out, sizes, n_batches, bs, cifar_epochs, cifar_per_class, tree_dir, keep, parts=('tree', 'cifar10')):
    rows, v = [], versions()
    if 'tree' not in parts: sizes = ()
    if 'cifar10' not in parts: cifar_epochs = 0
    add = lambda part, measure, value, unit, **kw: rows.append(dict(part=part, measure=measure, value=value, unit=unit,
                                                                    **kw))
    base = Path(tree_dir) if tree_dir else Path(tempfile.mkdtemp(prefix='ld_streaming_'))
    try:
        for n in sizes:
            tree = base / f'ilsvrc_{n}'
            t0 = time.perf_counter()
            if not (tree / 'LOC_val_solution.csv').exists():  # written last: the tree is whole
                write_tree(tree, n, max(10, n // 20), size=64)
            add('tree', 'write_s', time.perf_counter() - t0, 's', size=n)
            r = fresh('--one_tree', tree, n_batches, bs)
            for k, u in (('index_s', 's'), ('index_mb', 'MB'), ('prepare_s', 's'), ('decode_images_per_s', 'images/s'),
                         ('expert_images_per_s', 'images/s'), ('score_images_per_s', 'images/s'),
                         ('rss_main_mb', 'MB'), ('rss_worker_mb', 'MB'), ('train_images', 'images'),
                         ('val_images', 'images')):
                add('tree', k, r[k], u, size=n, workers=r['workers'], device=r['device'], batches=n_batches, bs=bs)
            print(rows[-10:], flush=True)
            if not keep: shutil.rmtree(tree)
    finally:
        if not keep and not tree_dir: shutil.rmtree(base, ignore_errors=True)
    if cifar_epochs:
        for b in ('float', 'stream'):
            r = fresh('--one_cifar', b, cifar_epochs, cifar_per_class or 0)
            add('cifar10', 'before_s', r['before_s'], 's', backing=b, train_images=r['train_images'])
            add('cifar10', 'rss_main_mb', r['rss_main_mb'], 'MB', backing=b, train_images=r['train_images'])
            for e, (s, a) in enumerate(zip(r['epoch_s'], r['test_acc']), 1):
                add('cifar10', 'epoch_s', s, 's', backing=b, epoch=e, train_images=r['train_images'])
                add('cifar10', 'test_acc', a, 'fraction', backing=b, epoch=e, train_images=r['train_images'])
            print(rows[-2 * cifar_epochs:], flush=True)
    df = pd.DataFrame(rows).assign(threads=torch.get_num_threads(), cores=len(os.sched_getaffinity(0)),
                                   cpu=platform.processor() or platform.machine(), torch=torch.__version__,
                                   commit=v['commit'], dirty=v['dirty'], date=time.strftime('%Y-%m-%d'))
    kept = None
    if out:
        kept = pd.read_csv(out) if Path(out).exists() and set(parts) != {'tree', 'cifar10'} else None
        atomic_csv(df if kept is None else pd.concat([kept[~kept.part.isin(parts)], df], ignore_index=True), out)
    return df if kept is None else pd.read_csv(out)


def section(df) -> str:
    "BENCHMARKS.md's section on streaming, from the benchmark's CSV."
    r0, t = df.iloc[0], df[df.part == 'tree']
    w = t.pivot(index='size', columns='measure', values='value').sort_index()
    info = t.dropna(subset=['workers']).iloc[0]
    dirty = ' with uncommitted changes' if str(r0.dirty) == 'True' else ''
    cols = ['training images', 'indexing (s)', 'index (MB)', 'prepare: every file decoded once (s)',
            'decode only (images/s)', 'expert training (images/s)', '/ decode', 'scoring (images/s)', '/ decode',
            'peak RSS, process (MB)', 'peak RSS, largest worker (MB)']
    text = f"""
## Streaming at scale (CPU)

`benchmarks/streaming.py` on {r0.date} (commit `{str(r0.commit)[:7]}`{dirty}, torch {r0.torch}, {r0.cores} cores,
{r0.threads} threads, {int(info.workers)} decoding workers, device {info.device}), one run. Trees in the ILSVRC-2012
layout of 64 px JPEGs made from CIFAR-10's images (`tools/imagenet_tree.py`), each measured in a fresh process. Rates
are over {int(info.batches)} batches of {int(info.bs)} after one warm-up batch; decode only is the expert's own loader
(workers decoding, preprocessing) with no model, the most training through it can reach here. Raw figures:
`benchmarks/streaming.csv`.

| {' | '.join(cols)} |
|{'---:|' * len(cols)}
""" + '\n'.join(f'| {int(r.train_images):,} | {r.index_s:.1f} | {r.index_mb:.0f} | {r.prepare_s:.1f} | '
                f'{r.decode_images_per_s:.0f} | '
                f'{r.expert_images_per_s:.0f} | {r.expert_images_per_s / r.decode_images_per_s:.2f} | '
                f'{r.score_images_per_s:.0f} | {r.score_images_per_s / r.decode_images_per_s:.2f} | '
                f'{r.rss_main_mb:.0f} | {r.rss_worker_mb:.0f} |' for _, r in w.iterrows()) + '\n'
    if len(w) > 1:
        grow = w.rss_main_mb.iloc[-1] - w.rss_main_mb.iloc[0]
        per = grow / (w.train_images.iloc[-1] - w.train_images.iloc[0]) * 1000 * 1024
        text += f"""
From {int(w.train_images.iloc[0]):,} to {int(w.train_images.iloc[-1]):,} training images the process's peak RSS grows
by {grow:.0f} MB ({per:.1f} KB per 1,000 training images; the index alone by
{w.index_mb.iloc[-1] - w.index_mb.iloc[0]:.0f} MB), its largest worker's by
{w.rss_worker_mb.iloc[-1] - w.rss_worker_mb.iloc[0]:.0f} MB.
"""
    c = df[df.part == 'cifar10']
    if len(c):
        e = c[c.measure.isin(['epoch_s', 'test_acc'])].pivot_table(index='epoch', columns=['measure', 'backing'],
                                                                     values='value')
        pre = c[c.measure == 'before_s'].set_index('backing').value
        rss = c[c.measure == 'rss_main_mb'].set_index('backing').value
        text += f"""
The CIFAR-10 expert ({int(c.train_images.iloc[0]):,} training images, `ExpertConfig` defaults, a checkpoint scored each
epoch; measured on {c.date.iloc[0]}, commit `{str(c.commit.iloc[0])[:7]}`, with nothing else running)
through decoded float tensors and through the streamed JPEG files, each in a fresh process: seconds and test
accuracy per epoch.

| epoch | float (s) | stream (s) | stream / float | float test % | stream test % |
|---:|---:|---:|---:|---:|---:|
""" + '\n'.join(f"| {int(ep)} | {r[('epoch_s', 'float')]:.1f} | {r[('epoch_s', 'stream')]:.1f} | "
                f"{r[('epoch_s', 'stream')] / r[('epoch_s', 'float')]:.2f} | {100 * r[('test_acc', 'float')]:.2f} | "
                f"{100 * r[('test_acc', 'stream')]:.2f} |" for ep, r in e.iterrows()) + f"""

Before the first epoch: {pre['float']:.1f} s for the float path (decoding into tensors), {pre['stream']:.1f} s for the
stream (indexing, every file decoded once); peak RSS {rss['float']:.0f} MB and {rss['stream']:.0f} MB.
"""
    return text


def render(csv=ROOT / 'benchmarks/streaming.csv', md=ROOT / 'BENCHMARKS.md'):
    "Write the section into BENCHMARKS.md between its markers (appended the first time)."
    write_section('streaming', section(pd.read_csv(csv)), md)


if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--out', default='benchmarks/streaming.csv')
    p.add_argument('--sizes', type=int, nargs='+', default=None, help=f'training images per tree (default {SIZES})')
    p.add_argument('--batches', type=int, default=None, help='batches timed per rate (default 10; --quick 2)')
    p.add_argument('--bs', type=int, default=None, help='batch size (default 256; --quick 32)')
    p.add_argument('--cifar_epochs', type=int, default=2, help='epochs of each CIFAR-10 expert (0: skip that part)')
    p.add_argument('--tree_dir', default=None, help='write the trees here (default: a temporary folder)')
    p.add_argument('--keep_trees', action='store_true', help='leave the trees in place')
    p.add_argument('--parts', nargs='+', choices=('tree', 'cifar10'), default=['tree', 'cifar10'],
                   help='measure only these parts (the CSV keeps the rows of the others)')
    p.add_argument('--quick', action='store_true', help='a dry run on tiny trees; writes nothing unless --out is given')
    p.add_argument('--render', action='store_true', help="only write BENCHMARKS.md's section from the CSV")
    p.add_argument('--one_tree', nargs=3, help=argparse.SUPPRESS)  # one tree measured in a fresh process
    p.add_argument('--one_cifar', nargs=3, help=argparse.SUPPRESS)  # one CIFAR-10 expert in a fresh process
    a = p.parse_args()
    if a.one_tree: print(json.dumps(measure_tree(a.one_tree[0], int(a.one_tree[1]), int(a.one_tree[2])))); sys.exit()
    if a.one_cifar:
        print(json.dumps(measure_cifar(a.one_cifar[0], int(a.one_cifar[1]), int(a.one_cifar[2]) or None))); sys.exit()
    if a.render: render(); sys.exit()
    if not (CIFAR10 / 'train').is_dir(): p.error(f'CIFAR-10 is not at {CIFAR10}: the trees are made of its images')
    q = a.quick
    df = main(None if q and a.out == p.get_default('out') else a.out, a.sizes or (QUICK_SIZES if q else SIZES),
              a.batches or (2 if q else 10), a.bs or (32 if q else 256),
              min(a.cifar_epochs, 1) if q else a.cifar_epochs, 20 if q else None, a.tree_dir, a.keep_trees, a.parts)
    print(section(df))
