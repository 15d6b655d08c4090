"""Many students at once on a GPU: `train_students(stack=True)` against one after another (`stack=False`).

Run on a machine with CUDA: `python benchmarks/many_students_gpu.py OUT.csv`. Random CIFAR-sized images and soft labels;
every student trains the same `StudentConfig` (ConvNetD3, DSA, batch 256). Each method gets one warm-up call, then the
two alternate for `ROUNDS` rounds; the median is kept. CUDA is synchronised before every clock reading."""
import os, platform, subprocess, sys, time
import pandas as pd, torch
from ld_nbdev.core import seeded_gen
from ld_nbdev.student import StudentConfig, train_students

ROUNDS = 2
CASES = ((1, 5, 150), (10, 5, 150), (50, 5, 50))  # (IPC, students, epochs)

def timed(f) -> float:
    torch.cuda.synchronize(); t = time.perf_counter(); f(); torch.cuda.synchronize()
    return time.perf_counter() - t

def commit() -> str | None:
    if os.environ.get('LD_NBDEV_COMMIT'): return os.environ['LD_NBDEV_COMMIT']
    return subprocess.run(['git', 'rev-parse', 'HEAD'], capture_output=True, text=True).stdout.strip() or None

def main(out):
    assert torch.cuda.is_available(), 'this benchmark needs CUDA'
    dev, rows = torch.device('cuda'), []
    for ipc, n, epochs in CASES:
        g = seeded_gen(0)
        x = torch.randn(10 * ipc, 3, 32, 32, generator=g).to(dev)
        labs = torch.softmax(torch.randn(n, 10 * ipc, 10, generator=g) * 2, -1).to(dev)
        cfg = StudentConfig(epochs=epochs)
        fs = {m: (lambda s=s: train_students(x, labs, cfg, seeds=range(n), stack=s)) for m, s in
              (('one after another', False), ('stacked', True))}
        for f in fs.values(): f()
        ts = {m: [] for m in fs}
        for _ in range(ROUNDS):
            for m, f in fs.items(): ts[m].append(timed(f))
        for m, v in ts.items():
            rows.append(dict(ipc=ipc, n=n, epochs=epochs, method=m, s=float(pd.Series(v).median()),
                             ms_per_student_epoch=1000 * float(pd.Series(v).median()) / (n * epochs)))
        print(rows[-2:], flush=True)
    df = pd.DataFrame(rows)
    seq = df[df.method == 'one after another'].set_index('ipc').s
    df['speedup'] = df.ipc.map(seq) / df.s
    df = df.assign(gpu=torch.cuda.get_device_name(), torch=torch.__version__, python=platform.python_version(),
                   commit=commit(), rounds=ROUNDS)
    df.to_csv(out, index=False)
    print(df[['ipc', 'n', 'epochs', 'method', 'ms_per_student_epoch', 'speedup']].to_string())

if __name__ == '__main__': main(sys.argv[1] if len(sys.argv) > 1 else 'many_students_gpu.csv')
