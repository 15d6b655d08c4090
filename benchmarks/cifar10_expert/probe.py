"""Train (or resume) CIFAR-10 experts with the official recipe at one learning rate and keep their per-epoch accuracy.

The expert is the one `ld_run table2 --zca --compile --precision bf16 --expert_mom 0 --expert_wd 0 --expert_aug dsa
--expert_lr LR --expert_epochs E` trains: same data, split, settings and cache key, so that run finds it (a longer run
continues it). Its checkpoints stay in the cache; this folder keeps `trajectory_lr<LR>.csv` (validation and test
accuracy after every epoch) and `probe.json` (how it was made).

    python benchmarks/cifar10_expert/probe.py --lr 0.01 --epochs 30
"""
import argparse, json, platform, shutil, time
from pathlib import Path
import torch
from ld_nbdev.core import pick_device
from ld_nbdev.protocol import Protocol, bench_for, versions

HERE = Path(__file__).parent

def main():
    a = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    a.add_argument('--lr', type=float, required=True)
    a.add_argument('--epochs', type=int, required=True)
    a.add_argument('--dataset', default='cifar10')
    a.add_argument('--max_per_class', type=int, default=None)
    a.add_argument('--out', default=str(HERE))
    o = a.parse_args()
    p = Protocol(dataset=o.dataset, max_per_class=o.max_per_class, ipc=(10,), zca=True, compile=True, precision='bf16',
                 expert_epochs=o.epochs, expert_lr=o.lr, expert_mom=0.0, expert_wd=0.0, expert_aug='dsa')
    t0 = time.time()
    bench = bench_for(p, pick_device(), show=True)
    traj = next(iter(bench.experts.values()))
    out = Path(o.out); out.mkdir(parents=True, exist_ok=True)
    df = traj.manifest.assign(lr=o.lr)
    df.to_csv(out/f'trajectory_lr{o.lr:g}.csv', index=False)
    info = json.loads((out/'probe.json').read_text()) if (out/'probe.json').exists() else {}
    info[f'{o.lr:g}'] = dict(expert=traj.name, epochs=o.epochs, settings=traj.meta | {'classes': None},
                             wall_s_this_call=round(time.time() - t0), device='cpu', cpu=platform.processor() or platform.machine(),
                             threads=torch.get_num_threads(), **versions())
    (out/'probe.json').write_text(json.dumps(info, indent=1, default=str))
    print(df[['epoch', 'valid_acc', 'test_acc']].tail(5).to_string())

if __name__ == '__main__': main()
