"""The CIFAR-10 expert record: accuracy per epoch of the official-recipe experts, against the paper's Table 7.

Reads `trajectory_lr<LR>.csv` here (written by `probe.py` when an expert finishes, or copied from the cache while it
trains, then named `trajectory_lr<LR>.partial.csv`) and the lr 5e-4 expert of `../cifar10_table2_official`; writes
`expert.md` and `expert_accuracy.png`.

    python benchmarks/cifar10_expert/record.py
    python benchmarks/cifar10_expert/record.py --snapshot   # first copy the trajectories of experts still training
"""
import argparse, json, re, shutil
from pathlib import Path
import matplotlib; matplotlib.use('Agg')
import matplotlib.pyplot as plt, pandas as pd, seaborn as sns

HERE = Path(__file__).parent
PAPER = pd.DataFrame(dict(ipc=[1, 10, 50, 100], epoch=[20, 44, 128, 164], test_acc=[56.0, 65.1, 74.9, 76.5]))  # Table 7
OFFICIAL = HERE.parent/'cifar10_table2_official'/'expert_trajectory.csv'
ROW = HERE.parent/'cifar10_table2_row'
FULL = HERE.parent/'cifar10_full_data'/'curve.csv'  # the full-data calibration (#35 item 2)
PAPER_FULL = 81.5  # the Table 2 row's run, whose expert is the chosen lr's continued


def snapshot():
    "Copy the trajectory of each probed expert still training (its `.partial` cache folder) next to this script."
    info = json.loads((HERE/'probe.json').read_text()) if (HERE/'probe.json').exists() else {}
    from ld_nbdev.core import cache_dir
    for f in (cache_dir()/'experts').glob('convnet-*.partial/trajectory.csv'):
        lr = _lr_of(f.parent)
        if lr is not None and not (HERE/f'trajectory_lr{lr:g}.csv').exists():
            shutil.copy(f, HERE/f'trajectory_lr{lr:g}.partial.csv')
    return info


def _lr_of(folder:Path):
    "The learning rate of the expert training in `folder`, from its resume state (None if not an official-recipe expert)."
    import torch
    try: s = torch.load(folder/'resume.pt', map_location='cpu', weights_only=True)['settings']
    except Exception: return None
    if s.get('mom') != 0.0 or s.get('wd') != 0.0 or s.get('aug') != 'dsa': return None
    return float(s['lr'])


def trajectories() -> pd.DataFrame:
    "Every expert's checkpoints after whole epochs: lr, epoch, valid and test accuracy (%), whether it is still training."
    parts = []
    for f in sorted(HERE.glob('trajectory_lr*.csv')):
        lr = float(re.match(r'trajectory_lr([0-9.e-]+?)(\.partial)?\.csv', f.name).group(1))
        parts.append(pd.read_csv(f).assign(lr=lr, partial=f.name.endswith('.partial.csv')))
    if OFFICIAL.exists(): parts.append(pd.read_csv(OFFICIAL).assign(lr=5e-4, partial=False))
    row = ROW/'expert_trajectory.csv'
    if row.exists():  # the chosen expert trained on by that run: it replaces the probe's shorter copy of itself
        lr = json.loads((ROW/'config.json').read_text())['expert_lr']
        longer = pd.read_csv(row).assign(lr=lr, partial=False)
        parts = [d for d in parts if d.lr.iloc[0] != lr or d.epoch.max() >= longer.epoch.max()]
        if all(d.lr.iloc[0] != lr for d in parts): parts.append(longer)
    df = pd.concat(parts, ignore_index=True)
    df = df[(df.epoch == df.epoch.round()) & (df.epoch > 0)]
    return df.assign(epoch=df.epoch.astype(int), valid=df.valid_acc * 100, test=df.test_acc * 100)[
        ['lr', 'epoch', 'valid', 'test', 'partial']]


def first_reaching(df:pd.DataFrame, scale:float=1.) -> pd.DataFrame:
    """Per expert and per row of Table 7: the first epoch whose test accuracy reaches the paper's expert's (times
    `scale`)."""
    rows = []
    for lr, d in df.groupby('lr'):
        for _, p in PAPER.iterrows():
            hit = d[d.test >= p.test_acc * scale]
            rows.append(dict(lr=lr, ipc=p.ipc, paper_epoch=p.epoch, paper_test=p.test_acc, epochs_trained=d.epoch.max(),
                             first_epoch=hit.epoch.min() if len(hit) else None))
    return pd.DataFrame(rows)


def reach_table(df:pd.DataFrame, scale:float=1., head:str='paper: test') -> list:
    "Markdown rows: per row of Table 7, the first epoch each expert reaches the paper's test accuracy times `scale`."
    lrs = sorted(df.lr.unique())
    lines = [f'| IPC | paper: epoch | {head} | ' + ' | '.join(f'lr {lr:g}' for lr in lrs) + ' |',
             '|---|---:|---:|' + '---:|' * len(lrs)]
    cell = lambda r: f'{int(r.first_epoch)}' if pd.notna(r.first_epoch) else f'not by {int(r.epochs_trained)}'
    for ipc, d in first_reaching(df, scale).groupby('ipc'):
        d = d.set_index('lr')
        lines.append(f'| {int(ipc)} | {int(d.paper_epoch.iloc[0])} | {d.paper_test.iloc[0] * scale:.1f} | '
                     + ' | '.join(cell(d.loc[lr]) for lr in lrs) + ' |')
    return lines


def markdown(df:pd.DataFrame) -> str:
    lines = ['# CIFAR-10 experts by the official recipe, against the paper\'s Table 7', '',
             'ConvNetD3 on CIFAR-10 (JPEG copy), plain SGD (no momentum, no weight decay), batch 256, DSA, ZCA, bfloat16 '
             'compiled on the CPU; 4 % of the training set held out for validation. Accuracy (%) after whole epochs; '
             '"partial": still training when this record was written.', '',
             '| expert lr | epochs trained | best valid | its epoch | its test | partial |', '|---|---:|---:|---:|---:|---|']
    for lr, d in df.groupby('lr'):
        b = d.loc[d.valid.idxmax()]
        lines.append(f'| {lr:g} | {d.epoch.max()} | {b.valid:.1f} | {b.epoch} | {b.test:.1f} | {bool(d.partial.any())} |')
    both = int(df.groupby('lr').epoch.max().min())  # the epochs every probed expert has trained
    at = df[df.epoch <= both].groupby('lr').valid.max()
    lines += ['', f'Chosen on validation: lr {at.idxmax():g}, the best validation accuracy within the {both} epochs every '
              'expert trained (' + ', '.join(f'lr {lr:g}: {v:.1f} %' for lr, v in at.items()) + '). The test set played '
              'no part.']
    lines += ['', "The first epoch at which each expert's test accuracy reaches that of the paper's expert at the epoch "
              'Table 7 labels with (lr 5e-4 in the paper):', '', *reach_table(df)]
    if FULL.exists():  # the same, with the paper's experts scaled to our data's full-data accuracy
        full = pd.read_csv(FULL).test_acc.iloc[-1] * 100
        k = full / PAPER_FULL
        lines += ['', f'Calibrated: a ConvNetD3 on all of our training data reaches {full:.1f} % (`../cifar10_full_data`), '
                  f"the paper's {PAPER_FULL} %. Scaled by that ratio ({k:.3f}), the paper's experts stand at "
                  + ' / '.join(f'{a * k:.1f}' for a in PAPER.test_acc) + ' % for IPC ' + ' / '.join(map(str, PAPER.ipc))
                  + '; the first epoch each of ours reaches that:', '', *reach_table(df, k, 'scaled test')]
    return '\n'.join(lines) + '\n'


def figure(df:pd.DataFrame):
    fig, ax = plt.subplots(figsize=(7, 4))
    sns.lineplot(df.assign(expert=df.lr.map(lambda v: f'lr {v:g}')), x='epoch', y='test', hue='expert', ax=ax)
    ax.scatter(PAPER.epoch, PAPER.test_acc, marker='x', color='k', label="paper's expert (Table 7)", zorder=3)
    ax.set(xscale='log', xlabel='expert epoch', ylabel='expert test accuracy (%)',
           title='CIFAR-10 experts, official recipe (CPU, bf16)')
    ax.legend()
    return fig


def main():
    a = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    a.add_argument('--snapshot', action='store_true', help='first copy the trajectories of experts still training')
    o = a.parse_args()
    if o.snapshot: snapshot()
    df = trajectories()
    (HERE/'expert.md').write_text(markdown(df))
    figure(df).savefig(HERE/'expert_accuracy.png', dpi=120, bbox_inches='tight')
    print((HERE/'expert.md').read_text())


if __name__ == '__main__': main()
