"""This CPU's limit, measured in one run: bfloat16 and compiled training and scoring against the hand-written eager
float32 loop and against the matrix-product rates of the same machine.

    python benchmarks/precision_speed.py [--out benchmarks/precision_speed.csv] [--rounds 2] [--quick]
    python benchmarks/precision_speed.py --render      # BENCHMARKS.md's section again, from the CSV

CIFAR-10-shaped random data (3 x 32 x 32, 10 classes; speed does not depend on the values). In one process, one
after another, methods alternating within each round, medians over rounds:
- the float32 and bfloat16 rates of a 4096 x 4096 matrix product (GFLOP/s);
- a student epoch at IPC 1, 10 and 50: the hand-written eager float32 loop of `compile_speed.py` against the library's
  student eager and compiled, in float32 and under bfloat16 autocast;
- scoring (images/s on 10,000 images): `predict_logits` as the sweep used it before (eager float32, batch 1024), eager
  bfloat16, and the compiled `Scorer` in float32 and bfloat16 at batches from 16 to 1024 (the fastest bfloat16 batch is then the
  scorer's batch for the rest of the run, and `SCORE_BS` is held to it);
- a whole student as the sweep runs it (`train_job`: training, then test and validation scoring) at IPC 1 (300 epochs)
  and IPC 10 (200 epochs), before (eager float32) and now (compiled bfloat16), and from that students per hour;
- the achieved GFLOP/s of training (IPC 50 epochs) and scoring, from the FLOPs `torch.utils.flop_counter` counts;
- an expert's training throughput (DSA, batch 256) in the same four settings.
`--quick` is a dry run (a few epochs, small inputs) that checks the script runs.
"""
import argparse, json, math, os, platform, statistics, subprocess, sys, tempfile, time
from pathlib import Path
import pandas as pd, torch
from torch.utils.flop_counter import FlopCounterMode
sys.path.insert(0, str(Path(__file__).resolve().parent))
from compile_speed import hand_loop, timed, expert_images_per_s
from sections import write_section
from ld_nbdev.core import seeded_gen, atomic_csv
from ld_nbdev import models
from ld_nbdev.models import get_model, predict_logits, Scorer
from ld_nbdev.labels import soft_ce
from ld_nbdev.student import StudentConfig, train_student
from ld_nbdev.sweep import Job, train_job
from ld_nbdev.protocol import versions

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = {'eager fp32': (False, 'fp32'), 'eager bf16': (False, 'bf16'), 'compiled fp32': (True, 'fp32'), 'compiled bf16': (True, 'bf16')}


def matmul_gflops(dtype, n=4096, reps=3):
    a, b = (torch.randn(n, n, generator=seeded_gen(i)).to(dtype) for i in (0, 1))
    a @ b  # warm-up
    return 2 * n ** 3 / statistics.median(timed(lambda: a @ b) for _ in range(reps)) / 1e9


def data(ipc):
    x = torch.randn(ipc * 10, 3, 32, 32, generator=seeded_gen(ipc))
    return x, torch.softmax(torch.randn(ipc * 10, 10, generator=seeded_gen(ipc + 1)), 1)


def train_flops_per_image():
    "FLOPs of one training step (forward and backward) of the ConvNet, per image."
    m, x = get_model('convnet', 3, 10, 32), torch.randn(64, 3, 32, 32)
    with FlopCounterMode(display=False) as fc: soft_ce(m(x), torch.full((64, 10), 0.1)).backward()
    return fc.get_total_flops() / 64


def score_flops_per_image():
    m, x = get_model('convnet', 3, 10, 32).eval(), torch.randn(64, 3, 32, 32)
    with FlopCounterMode(display=False) as fc, torch.no_grad(): m(x)
    return fc.get_total_flops() / 64


def first_students(ipc, ep, compile_, precision, n):
    "Seconds of the first and second whole student of a sweep in a fresh process with an empty inductor cache: what compiling costs once."
    with tempfile.TemporaryDirectory() as d:
        r = subprocess.run([sys.executable, __file__, '--first', str(ipc), str(ep), str(int(compile_)), precision, str(n), str(models.SCORE_BS)],
                           capture_output=True,
                           text=True, env={**os.environ, 'TORCHINDUCTOR_CACHE_DIR': d}, check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def _first(ipc, ep, compile_, precision, n, bs):
    x, y = data(ipc)
    xs = torch.randn(n, 3, 32, 32, generator=seeded_gen(7))
    ev = {'test': (xs, torch.randint(10, (n,), generator=seeded_gen(8))), 'valid': (xs[:n // 5], torch.randint(10, (n // 5,), generator=seeded_gen(9)))}
    job = lambda r: Job(x, y[None], StudentConfig(epochs=ep, compile=compile_, precision=precision), [r], ['test'])
    models.SCORE_BS = bs
    print(json.dumps([timed(lambda: train_job(job(r), ev)) for r in (0, 1)]))


def main(out, rounds, quick):
    rows, v = [], versions()
    add = lambda measure, method, value, unit, **kw: rows.append(dict(measure=measure, method=method, value=round(value, 4), unit=unit, **kw))
    for dt, name in ((torch.float32, 'fp32'), (torch.bfloat16, 'bf16')):
        add('matmul', name, matmul_gflops(dt, 1024 if quick else 4096), 'GFLOP/s')
    print(rows, flush=True)

    # student epochs: every setting compiles (when asked) before the timed rounds
    epochs = {1: 150, 10: 20, 50: 4} if not quick else {1: 2, 10: 2, 50: 1}
    for ipc, ep in epochs.items():
        x, y = data(ipc)
        for c, p in SETTINGS.values():
            if c: train_student(x, y, StudentConfig(epochs=min(ep, 4), compile=c, precision=p))
        t = {k: [] for k in ['hand-written eager fp32', *SETTINGS]}
        for r in range(rounds):
            t['hand-written eager fp32'].append(timed(lambda: hand_loop(x, y, ep, r)) / ep)
            for k, (c, p) in SETTINGS.items():
                t[k].append(timed(lambda: train_student(x, y, StudentConfig(epochs=ep, compile=c, precision=p), seed=r)) / ep)
        for k, ts in t.items(): add('student_epoch', k, statistics.median(ts) * 1000, 'ms', ipc=ipc, epochs=ep)
        print(rows[-5:], flush=True)

    # scoring: 10,000 test images
    n = 1000 if quick else 10000
    xs = torch.randn(n, 3, 32, 32, generator=seeded_gen(7))
    m = get_model('convnet', 3, 10, 32)
    ways = {'predict_logits eager fp32 bs1024': lambda: predict_logits(m, xs),
            'predict_logits eager bf16 bs1024': lambda: predict_logits(m, xs, precision='bf16')}
    for p, sizes in (('fp32', (64, 256, 1024)), ('bf16', (16, 32, 64, 128, 256, 1024))):
        for bs in sizes:
            s = Scorer(m, p, bs); s(m, xs[:bs])  # compiles
            ways[f'Scorer {p} bs{bs}'] = lambda s=s: s(m, xs)
    for k, f in ways.items(): f()
    for k, f in ways.items():
        add('scoring', k, n / statistics.median(timed(f) for _ in range(max(rounds, 2))), 'images/s', images=n)
    sc = [r for r in rows if r['method'].startswith('Scorer bf16')]
    models.SCORE_BS = int(max(sc, key=lambda r: r['value'])['method'].split('bs')[-1])  # the whole students below score at it
    add('score_bs', 'fastest bfloat16 scoring batch', models.SCORE_BS, 'images')
    print(rows[-10:], flush=True)

    # a whole student as the sweep trains and scores it: test set and validation split scored after training
    ev = {'test': (xs, torch.randint(10, (n,), generator=seeded_gen(8))), 'valid': (xs[:n // 5], torch.randint(10, (n // 5,), generator=seeded_gen(9)))}
    whole = {1: 300, 10: 200} if not quick else {1: 2, 10: 2}
    for ipc, ep in whole.items():
        x, y = data(ipc)
        for k in ('eager fp32', 'compiled bf16'):
            c, p = SETTINGS[k]
            job = lambda r: Job(x, y[None], StudentConfig(epochs=ep, compile=c, precision=p), [r], ['test'])
            ts = [timed(lambda: train_job(job(r), ev)) for r in range(rounds)]
            add('whole_student', k, statistics.median(ts), 's', ipc=ipc, epochs=ep)
            if c:
                first, second = first_students(ipc, ep, c, p, n)
                add('first_student_extra', k, first - second, 's', ipc=ipc, epochs=ep)
    print(rows[-4:], flush=True)

    fl_train, fl_score = train_flops_per_image(), score_flops_per_image()
    add('flops', 'training step, per image', fl_train / 1e9, 'GFLOP')
    add('flops', 'scoring, per image', fl_score / 1e9, 'GFLOP')

    ni = 256 if quick else 2560
    for k, (c, p) in SETTINGS.items():
        add('expert', k, statistics.median(expert_images_per_s(ni, c, precision=p, aug='dsa') for _ in range(rounds)), 'images/s', images=ni)
    print(rows[-4:], flush=True)

    df = pd.DataFrame(rows).assign(threads=torch.get_num_threads(), cpu=platform.processor() or platform.machine(),
                                   torch=torch.__version__, python=platform.python_version(), commit=v['commit'], dirty=v['dirty'],
                                   date=time.strftime('%Y-%m-%d'), quick=quick)
    if out: atomic_csv(df, out)
    return df


TARGETS = dict(scoring=3.0, whole_ipc1=0.4, epoch_ipc10=0.5, train_share=0.4)


def ratios(df):
    "The four ratios the benchmark is held to, from its CSV."
    def g(measure, method, ipc=None):
        d = df[(df.measure == measure) & (df.method == method)]
        return (d if ipc is None else d[d.ipc == ipc]).value.iloc[0]
    sc = df[(df.measure == 'scoring') & df.method.str.startswith('Scorer bf16')]
    best = sc.loc[sc.value.idxmax()]
    ep50 = g('student_epoch', 'compiled bf16', ipc=50) / 1000
    train_rate = g('flops', 'training step, per image') * 500 / ep50
    score_rate = g('flops', 'scoring, per image') * best.value
    return dict(
        scoring=best.value / g('scoring', 'predict_logits eager fp32 bs1024'), best_score_bs=int(best.method.split('bs')[-1]),
        whole_ipc1=g('whole_student', 'compiled bf16', ipc=1) / g('whole_student', 'eager fp32', ipc=1),
        whole_ipc10=g('whole_student', 'compiled bf16', ipc=10) / g('whole_student', 'eager fp32', ipc=10),
        epoch_ipc10=g('student_epoch', 'compiled bf16', ipc=10) / g('student_epoch', 'hand-written eager fp32', ipc=10),
        train_gflops=train_rate, score_gflops=score_rate, bf16_gflops=g('matmul', 'bf16'), fp32_gflops=g('matmul', 'fp32'),
        train_share=train_rate / g('matmul', 'bf16'), score_share=score_rate / g('matmul', 'bf16'),
        per_hour={(ipc, k): 3600 / g('whole_student', k, ipc=ipc) for ipc in (1, 10) for k in ('eager fp32', 'compiled bf16')})


def section(df) -> str:
    "BENCHMARKS.md's section on precision and compiled scoring, from the benchmark's CSV."
    r, r0 = ratios(df), df.iloc[0]
    ok = lambda k, le=True: 'met' if (r[k] <= TARGETS[k] if le else r[k] >= TARGETS[k]) else 'missed'
    ep = df[df.measure == 'student_epoch'].pivot(index='ipc', columns='method', values='value')
    cols = ['hand-written eager fp32', *SETTINGS]
    sc = df[df.measure == 'scoring']
    ex = df[df.measure == 'expert'].set_index('method').value
    wh = df[df.measure == 'whole_student'].pivot(index='ipc', columns='method', values='value')
    wh_ep = df[df.measure == 'whole_student'].groupby('ipc').epochs.first()
    fx = df[df.measure == 'first_student_extra'].pivot(index='ipc', columns='method', values='value')
    return f"""
## bfloat16 and compiled scoring (CPU)

`benchmarks/precision_speed.py` on {r0.date} (commit `{str(r0.commit)[:7]}`{' with uncommitted changes' if r0.dirty is True or r0.dirty == 'True' else ''},
torch {r0.torch}, {r0.threads} threads, {r0.cpu}), everything in one run; CIFAR-sized random inputs, medians over rounds.
Raw figures: `benchmarks/precision_speed.csv`. Matrix product 4096 x 4096 on this machine: {r['fp32_gflops']:.0f} GFLOP/s in
float32, {r['bf16_gflops']:.0f} in bfloat16.

| what | measured | target | |
|---|---:|---:|---|
| scoring, best compiled bfloat16 (batch {r['best_score_bs']}) / `predict_logits` eager float32 | {r['scoring']:.2f}x | ≥ {TARGETS['scoring']}x | {ok('scoring', False)} |
| a whole IPC 1 student ({int(wh_ep[1])} epochs, then test and validation scoring), compiled bfloat16 / eager float32 | {r['whole_ipc1']:.2f} | ≤ {TARGETS['whole_ipc1']} | {ok('whole_ipc1')} |
| a student epoch at IPC 10, compiled bfloat16 / hand-written eager float32 loop | {r['epoch_ipc10']:.2f} | ≤ {TARGETS['epoch_ipc10']} | {ok('epoch_ipc10')} |
| training (IPC 50 epochs, compiled bfloat16), achieved / bfloat16 matrix-product rate | {r['train_gflops']:.0f} GFLOP/s, {100 * r['train_share']:.0f} % | ≥ {100 * TARGETS['train_share']:.0f} % | {ok('train_share', False)} |
| scoring (compiled bfloat16), achieved / bfloat16 matrix-product rate | {r['score_gflops']:.0f} GFLOP/s, {100 * r['score_share']:.0f} % | | |

Milliseconds per student epoch (batch 256, DSA, SGD momentum, soft labels; the FLOPs of DSA are not counted above):

| IPC | {' | '.join(cols)} |
|---:|{'---:|' * len(cols)}
""" + '\n'.join(f"| {ipc:.0f} | " + ' | '.join(f'{row[c]:.1f}' for c in cols) + ' |' for ipc, row in ep.iterrows()) + f"""

Scoring, images per second ({int(sc.images.iloc[0])} images):

| path | images/s |
|---|---:|
""" + '\n'.join(f'| {m} | {v:.0f} |' for m, v in zip(sc.method, sc.value)) + f"""

A whole student as a sweep trains and scores it (`train_job`), seconds, and students per hour of a CIFAR-10 sweep:

| IPC | epochs | eager float32 | compiled bfloat16 | ratio | students / hour before | now |
|---:|---:|---:|---:|---:|---:|---:|
""" + '\n'.join(f"| {ipc:.0f} | {int(wh_ep[ipc])} | {row['eager fp32']:.1f} | "
                f"{row['compiled bf16']:.1f} | {row['compiled bf16'] / row['eager fp32']:.2f} | {r['per_hour'][(ipc, 'eager fp32')]:.0f} | "
                f"{r['per_hour'][(ipc, 'compiled bf16')]:.0f} |" for ipc, row in wh.iterrows()) + f"""

Expert training throughput (DSA, batch 256, one validation pass), images per second: """ + ', '.join(f'{k} {v:.0f}' for k, v in ex.items()) + f""".

Compilation is paid once per process and shape, by the first student of a sweep; the rounds above run after it. The
first student's extra seconds (its time less a later one's), against the seconds compiled bfloat16 saves on each later
student (a fresh process with an empty inductor cache): """ + '; '.join(f"IPC {ipc:.0f}: {fx.loc[ipc, 'compiled bf16']:.1f} s once, "
                  f"{row['eager fp32'] - row['compiled bf16']:.1f} s saved on each student, " + (
                  f"so compiling has paid for itself by student {math.ceil(fx.loc[ipc, 'compiled bf16'] / (row['eager fp32'] - row['compiled bf16']))}"
                  if row['eager fp32'] > row['compiled bf16'] else 'so here compiling never pays')
                  for ipc, row in wh.iterrows()) + accuracy_note() + '\n'


def accuracy_note(folder=ROOT/'results/cifar10_precision') -> str:
    "What bfloat16 does to the students' accuracy, from the committed `precision` record (its table), or a pointer to it."
    f = Path(folder)/'table.csv'
    if not f.exists(): return '.\n\nbfloat16\'s effect on accuracy: the `precision` analysis has no committed CIFAR-10 record yet.'
    t = pd.read_csv(f)
    return (".\n\nbfloat16's effect on accuracy (`results/cifar10_precision`, the same students in both precisions; test %, "
            'paired difference bfloat16 - float32): ' + '; '.join(
                f"IPC {r.ipc} {r.labels.split(' ')[0]}: {r.fp32_mean:.1f} ± {r.fp32_std:.1f} against {r.bf16_mean:.1f} ± {r.bf16_std:.1f}, "
                f"{r.diff_mean:+.2f} ({'within' if r.within else 'outside'} the spread)" for r in t.itertuples()) + '.')


def render(csv=ROOT/'benchmarks/precision_speed.csv', md=ROOT/'BENCHMARKS.md'):
    "Write the section into BENCHMARKS.md between its markers (appended the first time)."
    write_section('precision_speed', section(pd.read_csv(csv)), md)


if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--out', default='benchmarks/precision_speed.csv')
    p.add_argument('--rounds', type=int, default=2)
    p.add_argument('--quick', action='store_true', help='a dry run: a few epochs, small inputs, nothing written unless --out is given')
    p.add_argument('--first', nargs=6, help=argparse.SUPPRESS)  # one fresh process's first two students
    p.add_argument('--render', action='store_true', help="only write BENCHMARKS.md's section from the CSV")
    a = p.parse_args()
    if a.first: _first(int(a.first[0]), int(a.first[1]), bool(int(a.first[2])), a.first[3], int(a.first[4]), int(a.first[5])); sys.exit()
    if a.render: render(); sys.exit()
    df = main(None if a.quick and a.out == 'benchmarks/precision_speed.csv' else a.out, 1 if a.quick else a.rounds, a.quick)
    print(section(df))
