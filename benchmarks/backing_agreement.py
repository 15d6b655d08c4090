"""Experts through the backings that keep bytes against the float path: does each land within the spread of the float
path's seeds at every checkpoint?

    python benchmarks/backing_agreement.py [--dataset cifar10] [--expert_epochs 30] [--seeds 0 1]
                                           [--backings uint8 memmap stream] [--out benchmarks/backing_agreement.csv]
                                           [--precision bf16 --compile]

Trains the float path's expert for each seed, and each other backing's expert for the first seed (the settings of
`ExpertConfig` otherwise), on one device; one row per expert and checkpoint (its valid and test accuracy), and a
column `within`: whether that checkpoint's test accuracy lies within the float seeds' range there, and `diff`: how far it
lies from the float path's expert of the same seed (percentage points), beside `spread`, the float seeds' range. `uint8` and
`memmap` hold the same data under one key, so the second reuses the first's cached expert (the same numbers).
"""
import argparse, sys, time
from pathlib import Path
import pandas as pd
sys.path.insert(0, str(Path(__file__).resolve().parent))
from sections import write_section
from ld_nbdev.core import atomic_csv, pick_device
from ld_nbdev.data import get_dataset, stream_dataset, prepare
from ld_nbdev.expert import ExpertConfig, train_expert
from ld_nbdev.protocol import versions


def experts(name, max_per_class, epochs, seeds, backings, device, precision='fp32', compile=False) -> pd.DataFrame:
    rows, decoded = [], get_dataset(name, max_per_class=max_per_class, show=True)
    for b in ('float', *backings):
        ds = stream_dataset(name, max_per_class=max_per_class) if b == 'stream' else decoded
        sp = prepare(ds, device=device, backing=b)
        for s in seeds if b == 'float' else seeds[:1]:
            t0 = time.perf_counter()
            t = train_expert(sp, ExpertConfig(epochs=epochs, seed=s, precision=precision, compile=compile), show=True)
            cols = ['backing', 'seed', 'step', 'epoch', 'valid_acc', 'test_acc']
            rows.append(t.manifest.assign(backing=b, seed=s)[cols].assign(expert_s=time.perf_counter() - t0))
    df = pd.concat(rows, ignore_index=True)
    spread = df[df.backing == 'float'].groupby('step').test_acc.agg(['min', 'max'])
    lo, hi = df.step.map(spread['min']), df.step.map(spread['max'])
    same = df[df.backing == 'float'].set_index(['seed', 'step']).test_acc
    ref = pd.Series([same.get((s, st)) for s, st in zip(df.seed, df.step)], index=df.index, dtype=float)
    return df.assign(within=(df.test_acc >= lo) & (df.test_acc <= hi), diff=100 * (df.test_acc - ref),
                     spread=100 * (hi - lo), precision=precision, compile=compile,
                     date=time.strftime('%Y-%m-%d'), **versions())


def section(df:pd.DataFrame) -> str:
    "BENCHMARKS.md's section: per backing, how far its expert lies from the float path's at each checkpoint."
    r0, f = df.iloc[0], df[df.backing == 'float']
    seeds = sorted(set(f.seed))
    others = df[df.backing != 'float']
    per = others.groupby('backing', sort=False).agg(checkpoints=('step', 'size'), within=('within', 'sum'),
                                                    max_abs_diff=('diff', lambda d: d.abs().max()))
    pre = f"{r0.precision}{', compiled' if str(r0.compile) == 'True' else ''}"
    text = f"""
## The backings against the float path (CIFAR-10 experts)

`benchmarks/backing_agreement.py` on {r0.date} (commit `{str(r0.commit)[:7]}`{' with uncommitted changes' if str(r0.dirty) == 'True' else ''}): the library's expert
(`ExpertConfig` defaults, {pre}, {int(f.epoch.max())} epochs, checkpoints after 10, 25, 50 and 100 steps and every
epoch) trained through the float path with seeds {', '.join(map(str, seeds))}, and through each other backing with seed {seeds[0]}.
A checkpoint is *within* when its test accuracy lies in the float seeds' range there; *|diff|* is how far it lies
from the float expert of the same seed. Raw figures: `benchmarks/backing_agreement.csv`.

| backing | checkpoints | within the float seeds' range | largest \|diff\| (points) | float seeds' range: median (points) |
|---|---:|---:|---:|---:|
""" + '\n'.join(f'| {b} | {int(r.checkpoints)} | {int(r.within)} | {r.max_abs_diff:.2f} | '
                f'{f.groupby("step").test_acc.agg(lambda a: 100 * (a.max() - a.min())).median():.2f} |'
                for b, r in per.iterrows()) + '\n'
    return text


if __name__ == '__main__':
    a = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    a.add_argument('--dataset', default='cifar10'); a.add_argument('--max_per_class', type=int, default=None)
    a.add_argument('--expert_epochs', type=int, default=30)
    a.add_argument('--seeds', type=int, nargs='+', default=[0, 1])
    a.add_argument('--backings', nargs='+', default=['uint8', 'memmap', 'stream'])
    a.add_argument('--out', default='benchmarks/backing_agreement.csv')
    a.add_argument('--precision', default='fp32', help="the experts' forward passes: fp32 or bf16")
    a.add_argument('--compile', action='store_true', help='train the experts through torch.compile')
    a.add_argument('--render', action='store_true', help="only write BENCHMARKS.md's section from --out")
    o = a.parse_args()
    if o.render: sys.exit(write_section('backing_agreement', section(pd.read_csv(o.out))))
    df = experts(o.dataset, o.max_per_class, o.expert_epochs, o.seeds, o.backings, pick_device(), o.precision,
                 o.compile)
    atomic_csv(df, o.out)
    print(df.drop(columns=list(versions())).to_string(index=False))
    print('every checkpoint within the float seeds\' spread:', bool(df.within.all()))
    print(section(df))
