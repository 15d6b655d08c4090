"""The CIFAR-10 main job (`ld_run baseline`, the CPU preset) from a cold cache, timed once per precision setting.

Each run starts from an empty ld_nbdev cache (data decoded, expert trained, every student trained) and an empty
compiler cache, as a newcomer's first run does, in a fresh process. The CSV keeps one row per run; BENCHMARKS.md's
section is rendered from it. Run it with nothing else on the machine.

    python benchmarks/main_job.py                        # --precision auto (the default) and fp32, one run each
    python benchmarks/main_job.py --precision auto       # only the default
    python benchmarks/main_job.py --render               # BENCHMARKS.md's section again, from the CSV
    python benchmarks/main_job.py --quick                # a dry run on digits (checks the script, records nothing)
"""
import argparse, json, os, shutil, subprocess, sys, tempfile, time
from datetime import date
from pathlib import Path
import pandas as pd
sys.path.insert(0, str(Path(__file__).parent))
from sections import write_section

ROOT = Path(__file__).resolve().parent.parent
CSV = ROOT/'benchmarks'/'main_job.csv'


def one_run(precision:str, quick:bool=False) -> dict:
    "Time `ld_run baseline --precision PRECISION` from empty caches in a new process; its row."
    tmp = Path(tempfile.mkdtemp(prefix='main_job_'))
    env = dict(os.environ, LD_NBDEV_CACHE=str(tmp/'cache'), TORCHINDUCTOR_CACHE_DIR=str(tmp/'inductor'))
    args = ['baseline', '--precision', precision, '--out', str(tmp/'out'), '--quiet']
    if quick: args += ['--dataset', 'digits', '--ipc', '1', '--students', '1', '--epochs', '5', '--expert_epochs', '1']
    exe = shutil.which('ld_run', path=str(Path(sys.executable).parent)) or 'ld_run'
    t0 = time.time()
    subprocess.run([exe, *args], check=True, env=env)
    wall = time.time() - t0
    run = json.loads((tmp/'out'/'run.json').read_text())
    summ = pd.read_csv(tmp/'out'/'summary.csv')
    shutil.rmtree(tmp, ignore_errors=True)
    acc = '; '.join(f'IPC {r.ipc} {r["labels"]} {r.acc_mean:.1f} ± {r.acc_std:.1f}' for _, r in summ.iterrows())
    return dict(asked=precision, ran=run['protocol']['precision'], compile=run['protocol']['compile'], wall_s=round(wall, 1),
                dataset=run['dataset'], ipc=' '.join(map(str, run['protocol']['ipc'])), students=run['protocol']['students'],
                epochs=str(run['protocol']['epochs']),
                accuracy=acc, date=str(date.today()), commit=run.get('commit'), dirty=run.get('dirty'),
                cpu=run.get('cpu'), threads=run.get('threads'), torch=run.get('torch'))


def section(df:pd.DataFrame) -> str:
    "BENCHMARKS.md's section: each run's wall time, and the default's against float32's from the same day."
    lines = ['## The CIFAR-10 main job from a cold cache', '',
             '`ld_run baseline` with the CPU preset (CIFAR-10, IPC 1 and 10, 3 students per kind of label, checkpoint and lr '
             'chosen on validation), from an empty ld_nbdev cache and an empty compiler cache: decoding, the expert, every '
             'student. One run per row (`benchmarks/main_job.py`).', '',
             '| --precision | ran as | compiled | wall (min) | students (test %, mean ± std) | date | commit |',
             '|---|---|---|---:|---|---|---|']
    for _, r in df.iterrows():
        lines.append(f'| {r.asked} | {r.ran} | {r.compile} | {r.wall_s / 60:.1f} | {r.accuracy} | {r.date} | '
                     f'`{str(r.commit)[:7]}` |')
    last = df[df.date == df.date.max()].set_index('asked')
    if {'auto', 'fp32'} <= set(last.index):
        lines += ['', f'On {df.date.max()}, the default took {last.wall_s["auto"] / last.wall_s["fp32"]:.2f} of the float32 '
                  f'eager run\'s time on this machine ({last.cpu["auto"]}, {last.threads["auto"]} threads).']
    return '\n'.join(lines) + '\n'


def render():
    "Write the section into BENCHMARKS.md between its markers (appended the first time)."
    write_section('main_job', section(pd.read_csv(CSV)))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--precision', nargs='+', default=['auto', 'fp32'], choices=['auto', 'fp32', 'bf16'])
    p.add_argument('--render', action='store_true', help="only write BENCHMARKS.md's section from the CSV")
    p.add_argument('--quick', action='store_true', help='a dry run on digits: checks the script, records nothing')
    a = p.parse_args()
    if not a.render:
        rows = [one_run(prec, a.quick) for prec in a.precision]
        if a.quick: return print(pd.DataFrame(rows).to_string())
        df = pd.concat([pd.read_csv(CSV), pd.DataFrame(rows)]) if CSV.exists() else pd.DataFrame(rows)
        df.to_csv(CSV, index=False)
    render()


if __name__ == '__main__': main()
