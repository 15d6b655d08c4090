"""A ResNet-18 expert epoch through the stream on an ImageNet-sized synthetic tree, for the day a GPU is at hand:
images/s per GPU, against the rate its loader decodes at.

    python benchmarks/gpu_resnet18_epoch.py [--images 128000] [--classes 1000] [--bs 256] [--precision bf16]
                                            [--workers 16] [--batches N] [--tree_dir DIR] [--keep_tree]
                                            [--out benchmarks/gpu_resnet18_epoch.csv]
    torchrun --standalone --nproc_per_node 8 benchmarks/gpu_resnet18_epoch.py --images 1281167 --workers 12
    python benchmarks/gpu_resnet18_epoch.py --dry_run     # on the CPU, a tiny tree: checks that the script runs
    python benchmarks/gpu_resnet18_epoch.py --render      # BENCHMARKS.md's section, from the CSV

The tree is ILSVRC-2012's layout (train/<wnid>/*.JPEG; val/ flat beside LOC_val_solution.csv) of `--images` 224 px
JPEGs in `--classes` classes, made from CIFAR-10's images upscaled (`tools/imagenet_tree.py`; written once by rank 0
into `--tree_dir`, by default a folder in the temporary directory named by its size, and removed afterwards unless
`--keep_tree`; on a machine without CIFAR-10, carry a `tools/imagenet_tree.py --sample` of it and give `--cifar10`).
The expert is the library's: `expert_learner` with torchvision's ResNet-18, SGD (lr 0.1, momentum 0.9,
weight decay 1e-4) and torchvision's reference training augmentation (`imagenet_train_tfm`: a random resized crop to
224 and a flip, each image its own), batches decoded by `DataLoader` workers (`StreamDL`) and preprocessed on the GPU.
Under `torchrun` each process is one GPU and the batch is `--bs` images per process; every process loads the whole
batch and trains on its share (`ShardBatch`, as `ld_nbdev.distributed` trains), so its loader decodes `--bs` x
processes images a step. Measured, after one warm-up batch: an epoch (or `--batches` batches) of training, in images/s
of the group and per GPU; the loader alone (decode only, no model) for as many batches, per process; and the
statistics pass of `prepare` (every file decoded once). One row per measure in `--out`; rank 0 writes it.

What it costs: writing the tree encodes every image once (on every core), the statistics pass decodes every file
once, and the epoch is the table's epoch_s_estimate; `--keep_tree` spares the first two on the next run. Give
`--workers` the cores a process has (16 cores and 8 GPUs: 2 each): the decode-only rate is the most that training
through this loader can reach, so compare the training rate with it.
"""
import argparse, os, platform, shutil, sys, tempfile, time
from pathlib import Path
import pandas as pd, torch, torch.distributed as dist

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / 'tools'), str(Path(__file__).resolve().parent)]
from imagenet_tree import write_tree, CIFAR10
from sections import write_section
from streaming import Timed, rate, epochs_of, now
from fastai.callback.core import Callback
from ld_nbdev.core import atomic_csv
from ld_nbdev.data import prepare, stream_dataset, default_workers, StreamDL
from ld_nbdev.distributed import join_group, world, rank, ShardBatch, DataParallel
from ld_nbdev.expert import ExpertConfig, expert_learner
from ld_nbdev.imagenet import imagenet_train_tfm
from ld_nbdev.protocol import versions


class ReferenceAug(Callback):
    "torchvision's reference training augmentation of every training batch, each image its own crop and flip."
    order = 5  # where DSA runs: before the batch is shared out and before autocast
    def __init__(self, size:int): self.tfm = imagenet_train_tfm(size)
    def before_batch(self):
        if self.training: self.learn.xb = (self.tfm(self.xb[0]),)


def barrier():
    if dist.is_initialized(): dist.barrier()


def the_tree(a) -> Path:
    "The tree the options name, written by rank 0 unless it is there whole (with LOC_val_solution.csv, written last)."
    tree = Path(a.tree_dir or tempfile.gettempdir()) / f'ld_resnet18_tree_{a.images}_{a.classes}_{a.size}px'
    if rank() == 0 and not (tree / 'LOC_val_solution.csv').exists():
        shutil.rmtree(tree, ignore_errors=True)
        write_tree(tree, a.images, max(a.classes, a.images // 25), a.size, a.classes, a.cifar10, a.tree_workers)
    barrier()
    return tree


def measure(a) -> tuple:
    "The measures of one run (a frame, on every process) and the tree they were made on."
    dev = join_group(cpu=a.dry_run)
    rows, n = [], world()
    add = lambda measure, value, unit: rows.append(dict(measure=measure, value=value, unit=unit))
    t0 = time.perf_counter(); tree = the_tree(a); add('write_tree_s', time.perf_counter() - t0, 's')
    t0 = time.perf_counter()
    for r in range(min(n, 2)):  # rank 0 fits the statistics (every file decoded once), then the others read them
        if (rank() == 0) == (r == 0): sp = prepare(stream_dataset('imagenet', str(tree)), device=dev, backing='stream',
                                                    workers=a.workers)
        barrier()
    add('prepare_s', time.perf_counter() - t0, 's')
    bs = a.bs * n  # the batch the group trains on; each process gets `a.bs` of it
    dl = StreamDL(sp.train.x, sp.train.y, bs=bs, shuffle=True, seed=0)
    batches = min(a.batches or len(dl) - 1, len(dl) - 1)
    add('decode_images_per_s_per_process', rate(epochs_of(dl), batches), 'images/s')
    cfg = ExpertConfig(arch='resnet18', epochs=1, lr=0.1, mom=0.9, wd=1e-4, bs=bs, aug='none', precision=a.precision)
    timed = Timed(batches)
    cbs = [ReferenceAug(a.size), timed] + ([ShardBatch(), DataParallel()] if n > 1 else [])
    learn = expert_learner(sp, cfg, cbs=cbs)
    if a.channels_last: learn.model.to(memory_format=torch.channels_last)
    with learn.no_bar(), learn.no_logging(): learn.fit(1)
    add('train_images_per_s', timed.rate, 'images/s')
    add('train_images_per_s_per_gpu', timed.rate / n, 'images/s')
    add('timed_batches', batches, 'batches')
    add('epoch_s_estimate', len(sp.train) / timed.rate, 's')
    if dev.type == 'cuda': add('max_gpu_memory_gb', torch.cuda.max_memory_allocated(dev) / 2**30, 'GB')
    now(dev)
    v = versions()
    return pd.DataFrame(rows).assign(
        processes=n, bs_per_process=a.bs, workers=sp.train.x.workers, images=len(sp.train), classes=sp.c,
        size=a.size, precision=a.precision, device=torch.cuda.get_device_name(dev) if dev.type == 'cuda' else 'cpu',
        cpu=platform.processor() or platform.machine(), cores=len(os.sched_getaffinity(0)), torch=torch.__version__,
        commit=v['commit'], dirty=v['dirty'], date=time.strftime('%Y-%m-%d'), dry_run=a.dry_run), tree


def section(df) -> str:
    "BENCHMARKS.md's section on the ResNet-18 expert epoch, from the script's CSV (one run)."
    r, v = df.iloc[0], df.set_index('measure').value
    return f"""
## A ResNet-18 expert epoch through the stream (GPU)

`benchmarks/gpu_resnet18_epoch.py` on {r.date} (commit `{str(r.commit)[:7]}`, torch {r.torch}): {int(r.processes)} x
{r.device}, {int(r.cores)} cores, {int(r.workers)} decoding workers a process; {int(r.images):,} training images of
{int(r['size'])} px in {int(r.classes)} classes (CIFAR-10's images upscaled, the ILSVRC-2012 layout), batch
{int(r.bs_per_process)} a process, {r.precision}, torchvision's reference augmentation. Over {int(v.timed_batches)}
batches after one warm-up batch: {v.train_images_per_s:.0f} images/s trained by the group,
{v.train_images_per_s_per_gpu:.0f} per GPU (an epoch of ImageNet's 1,281,167 images at this rate:
{1281167 / v.train_images_per_s / 60:.0f} min); the loader alone decodes {v.decode_images_per_s_per_process:.0f}
images/s a process, so training runs at {v.train_images_per_s / v.decode_images_per_s_per_process:.2f} of what the
loader gives. The statistics pass over every file took {v.prepare_s:.0f} s. Raw figures:
`benchmarks/gpu_resnet18_epoch.csv`.
"""


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--images', type=int, default=128_000, help='training images in the tree (ImageNet has 1,281,167)')
    p.add_argument('--classes', type=int, default=1000)
    p.add_argument('--size', type=int, default=224, help='side of the images in pixels')
    p.add_argument('--bs', type=int, default=256, help='images per process in each batch')
    p.add_argument('--precision', choices=('fp32', 'bf16'), default='bf16')
    p.add_argument('--channels_last', action='store_true', help='the model in channels-last memory format')
    p.add_argument('--workers', type=int, default=None, help='decoding processes a process (default: its cores, <= 8)')
    p.add_argument('--tree_workers', type=int, default=None, help='processes writing the tree (default: every core)')
    p.add_argument('--batches', type=int, default=None, help='time this many batches, not the whole epoch')
    p.add_argument('--tree_dir', default=None, help='where the tree is written (default: the temporary directory)')
    p.add_argument('--keep_tree', action='store_true', help='leave the tree for the next run')
    p.add_argument('--cifar10', default=str(CIFAR10), help="CIFAR-10's folder (train/, test/), or a sample of it")
    p.add_argument('--out', default='benchmarks/gpu_resnet18_epoch.csv')
    p.add_argument('--render', action='store_true', help="only write BENCHMARKS.md's section from the CSV")
    p.add_argument('--dry_run', action='store_true',
                   help='on the CPU: 200 images of 32 px, 10 classes, batch 16, fp32, 2 batches; nothing written '
                        'unless --out is given')
    a = p.parse_args(argv)
    if a.render: return write_section('gpu_resnet18_epoch', section(pd.read_csv(a.out)))
    out = a.out
    if a.dry_run:
        a.images, a.classes, a.size, a.bs, a.precision, a.batches = 200, 10, 32, 16, 'fp32', 2
        a.workers = 1 if a.workers is None else a.workers
        out = None if a.out == p.get_default('out') else a.out
    df, tree = measure(a)
    n = int(df.processes.iloc[0])
    try:
        if rank() == 0:
            if out: atomic_csv(df, out)
            print(df[['measure', 'value', 'unit']].to_string(index=False))
            print(f'{df.device.iloc[0]}, {n} process(es), batch {a.bs} a process, {a.precision}')
    finally:
        barrier()
        if rank() == 0 and not a.keep_tree: shutil.rmtree(tree, ignore_errors=True)
        if dist.is_initialized(): dist.destroy_process_group()


if __name__ == '__main__': main()
