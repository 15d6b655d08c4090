"""Many students at once on a GPU: `train_students(stack=True)` against one after another (`stack=False`) and against a
hand-written eager loop of the paper's shape (`compile_speed.hand_loop`: one student, batch 256, DSA).

Run on a machine with CUDA: `python benchmarks/many_students_gpu.py OUT.csv [--compile]`; `--dry-run` runs a tiny
version on the CPU (for tests: it checks the script, it measures nothing worth keeping). Random CIFAR-sized images and
soft labels; every student trains the same `StudentConfig` (ConvNetD3, DSA, batch 256). Each method gets one warm-up
call, then they alternate for `ROUNDS` rounds; the median is kept. CUDA is synchronised before every clock reading.
The stack holds every student of a case (`train_students` packs as many as memory allows)."""
import argparse, platform, sys, time
from pathlib import Path
import pandas as pd, torch
sys.path.insert(0, str(Path(__file__).parent))
from compile_speed import hand_loop
from ld_nbdev.core import seeded_gen
from ld_nbdev.student import StudentConfig, train_students
from ld_nbdev.protocol import versions

ROUNDS = 2
CASES = ((1, 5, 150), (10, 5, 150), (50, 5, 50))  # (IPC, students, epochs)


def timed(f) -> float:
    if torch.cuda.is_available(): torch.cuda.synchronize()
    t = time.perf_counter(); f()
    if torch.cuda.is_available(): torch.cuda.synchronize()
    return time.perf_counter() - t


def main(out, dry=False, compile_=False):
    dev = torch.device('cpu' if dry else 'cuda')
    assert dry or torch.cuda.is_available(), 'this benchmark needs CUDA (or --dry-run)'
    cases, rounds, rows = (((1, 2, 2),) if dry else CASES), (1 if dry else ROUNDS), []
    for ipc, n, epochs in cases:
        g = seeded_gen(0)
        x = torch.randn(10 * ipc, 3, 32, 32, generator=g).to(dev)
        labs = torch.softmax(torch.randn(n, 10 * ipc, 10, generator=g) * 2, -1).to(dev)
        cfg = StudentConfig(epochs=epochs, compile=compile_)
        fs = {'one after another': lambda: train_students(x, labs, cfg, seeds=range(n), stack=False),
              'stacked': lambda: train_students(x, labs, cfg, seeds=range(n), stack=True),
              'eager hand-written loop': lambda: [hand_loop(x, labs[i], epochs, i) for i in range(n)]}
        for f in fs.values(): f()
        ts = {m: [] for m in fs}
        for _ in range(rounds):
            for m, f in fs.items(): ts[m].append(timed(f))
        for m, v in ts.items():
            s = float(pd.Series(v).median())
            rows.append(dict(ipc=ipc, n=n, epochs=epochs, method=m, s=s, ms_per_student_epoch=1000 * s / (n * epochs),
                             students_per_s=n / s))
        print(rows[-3:], flush=True)
    df = pd.DataFrame(rows)
    ref = df[df.method == 'eager hand-written loop'].set_index('ipc').s
    df['speedup_vs_eager_loop'] = df.ipc.map(ref) / df.s
    v = versions()
    df = df.assign(device=torch.cuda.get_device_name() if dev.type == 'cuda' else 'cpu (dry run)', compile=compile_,
                   torch=torch.__version__, python=platform.python_version(), commit=v['commit'], dirty=v['dirty'], rounds=rounds)
    df.to_csv(out, index=False)
    print(df[['ipc', 'n', 'epochs', 'method', 'ms_per_student_epoch', 'speedup_vs_eager_loop']].to_string())
    return df


if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('out', nargs='?', default='many_students_gpu.csv')
    p.add_argument('--dry-run', action='store_true', help='a tiny run on the CPU that checks the script')
    p.add_argument('--compile', action='store_true', help='students through torch.compile')
    a = p.parse_args()
    main(a.out, a.dry_run, a.compile)
