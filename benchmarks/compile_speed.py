"""Student epoch time on this machine: a hand-written eager PyTorch loop of the paper's shape (batch 256, DSA, SGD with
momentum, cross-entropy on soft labels, one student) against the library's student, eager and compiled.

    python benchmarks/compile_speed.py [--out benchmarks/compile_speed.csv] [--rounds 3] [--quick]

CIFAR-10-shaped data (3 x 32 x 32, 10 classes, random pixels and soft labels: speed does not depend on the values) at
IPC 1, 10 and 50. Each figure is the median over rounds of the steady-state time per epoch; the compiled student's
first-student overhead (compilation) is its own column. Beside them, an expert's training throughput (images per
second through `expert_learner`, flips, batch 256), eager and compiled. `--quick` is a dry run (for tests): IPC 1 only
(the other IPCs take the same path with a larger batch), 2 epochs, one round.
"""
import argparse, platform, statistics, time
import pandas as pd, torch
from ld_nbdev.core import seeded_gen, set_seed, sgd, atomic_csv
from ld_nbdev.models import get_model
from ld_nbdev.augment import dsa
from ld_nbdev.labels import soft_ce
from ld_nbdev.student import StudentConfig, train_student
from ld_nbdev.protocol import versions
from ld_nbdev.data import ImageSet, Splits
from ld_nbdev.expert import ExpertConfig, expert_learner


def hand_loop(x, y, epochs, seed=0):
    "The paper's student loop, written out: shuffled batches of 256, DSA, SGD (momentum 0.9, wd 5e-4), soft cross-entropy."
    set_seed(seed)
    m = get_model('convnet', 3, 10, 32).to(x.device)
    opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    g, order = seeded_gen(seed, x.device), seeded_gen(seed + 1)
    for _ in range(epochs):
        idx = torch.randperm(len(x), generator=order).to(x.device)
        for i in range(0, len(x), 256):
            j = idx[i:i + 256]
            loss = soft_ce(m(dsa(x[j], g)), y[j])
            opt.zero_grad(); loss.backward(); opt.step()
    return m


def timed(f):
    t = time.perf_counter(); f(); return time.perf_counter() - t


def expert_images_per_s(n, compile_, epochs=2, precision='fp32', aug='flip'):
    "Images per second of an expert epoch (`aug`, batch 256, `precision`) after the first, through `expert_learner`; random CIFAR-sized data."
    g = seeded_gen(0)
    s = ImageSet(torch.randn(n, 3, 32, 32, generator=g), torch.randint(10, (n,), generator=g), [str(i) for i in range(10)])
    small = s.subset(torch.arange(256))
    learn = expert_learner(Splits(s, small, small, None, 'bench'), ExpertConfig(epochs=1, compile=compile_, precision=precision, aug=aug))
    with learn.no_bar(), learn.no_logging():
        learn.fit(1)  # compiles, when asked to
        t = timed(lambda: learn.fit(epochs - 1))
    return n * (epochs - 1) / t


def main(out, rounds, quick):
    rows, v = [], versions()
    for ipc, epochs in ((1, 300),) if quick else ((1, 300), (10, 40), (50, 8)):
        epochs = 2 if quick else epochs
        x = torch.randn(ipc * 10, 3, 32, 32, generator=seeded_gen(ipc))
        y = torch.softmax(torch.randn(ipc * 10, 10, generator=seeded_gen(ipc + 1)), 1)
        first = timed(lambda: train_student(x, y, StudentConfig(epochs=epochs, compile=True), seed=0))  # compiles
        t = {k: [] for k in ('hand', 'eager', 'compiled')}
        for r in range(1 if quick else rounds):
            t['hand'].append(timed(lambda: hand_loop(x, y, epochs, r)) / epochs)
            t['eager'].append(timed(lambda: train_student(x, y, StudentConfig(epochs=epochs), seed=r)) / epochs)
            t['compiled'].append(timed(lambda: train_student(x, y, StudentConfig(epochs=epochs, compile=True), seed=r)) / epochs)
        med = {k: statistics.median(v) * 1000 for k, v in t.items()}
        rows.append(dict(ipc=ipc, epochs=epochs, rounds=len(t['hand']), hand_eager_ms=round(med['hand'], 1),
                         library_eager_ms=round(med['eager'], 1), library_compiled_ms=round(med['compiled'], 1),
                         compiled_vs_hand=round(med['compiled'] / med['hand'], 3), eager_vs_hand=round(med['eager'] / med['hand'], 3),
                         first_compiled_student_extra_s=round(first - med['compiled'] / 1000 * epochs, 1),
                         threads=torch.get_num_threads(), cpu=platform.processor() or platform.machine(), torch=torch.__version__,
                         commit=v['commit'], dirty=v['dirty']))
        print(rows[-1], flush=True)
    n = 512 if quick else 5120
    eager, comp = (statistics.median(expert_images_per_s(n, c) for _ in range(1 if quick else rounds)) for c in (False, True))
    df = pd.DataFrame(rows).assign(expert_eager_img_s=round(eager, 1), expert_compiled_img_s=round(comp, 1))
    print(dict(expert_eager_img_s=eager, expert_compiled_img_s=comp), flush=True)
    if out: atomic_csv(df, out)
    return df


if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--out', default='benchmarks/compile_speed.csv')
    p.add_argument('--rounds', type=int, default=3)
    p.add_argument('--quick', action='store_true', help='a dry run: IPC 1, 2 epochs, one round, nothing written unless --out is given')
    a = p.parse_args()
    main(None if a.quick and a.out == 'benchmarks/compile_speed.csv' else a.out, a.rounds, a.quick)
