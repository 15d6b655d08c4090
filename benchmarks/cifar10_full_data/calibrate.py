"""The full-data calibration: a ConvNetD3 trained on CIFAR-10's whole training split with hard labels, by the students' recipe.

    python benchmarks/cifar10_full_data/calibrate.py [--epochs 40] [--max_per_class N] [--out DIR]
    python benchmarks/cifar10_full_data/calibrate.py --render     # full_data.md again, from curve.csv and run.json

The paper's Table 2 gives 81.5 % for full data on CIFAR-10 without saying how it was trained. This trains the network
the way this library trains every student (SGD, momentum 0.9, weight decay 5e-4, lr 0.01 cut by 0.3 at each quarter of
training, batch 256, DSA, ZCA: the recipe of the DC/DSA/MTT evaluation code) on the same training split the experts and
students draw from (CIFAR-10's JPEG copy, 4 % held out for validation, seed 0), in bfloat16 and compiled where that is
native. No setting is chosen: the learning rate and schedule are the student protocol's, fixed beforehand. After every
epoch the network is scored on validation and test, a row is added to `curve.csv` and the training state is saved, so a
killed run continues where it stopped (with the same schedule); `run.json` says how it was made, and `full_data.md`
what it reached.
"""
import argparse, json, platform, time
from pathlib import Path
import pandas as pd, torch
from fastai.callback.core import Callback
from ld_nbdev.core import atomic_csv, atomic_save, atomic_write, auto_precision, pick_device
from ld_nbdev.data import get_dataset, prepare
from ld_nbdev.labels import hard_labels
from ld_nbdev.models import accuracy_of, uncompiled
from ld_nbdev.protocol import versions
from ld_nbdev.student import ExactSched, StudentConfig, student_learner, student_sched

HERE = Path(__file__).parent
PAPER_FULL = 81.5  # the paper's Table 2: CIFAR-10, full data


def markdown(curve:pd.DataFrame, run:dict) -> str:
    "The record in words: the accuracy at the end, the curve's best validation epoch, the paper's figure beside."
    last, best = curve.iloc[-1], curve.loc[curve.valid_acc.idxmax()]
    done = int(last.epoch) >= run['epochs']
    r = run['recipe']
    return '\n'.join([
        '# CIFAR-10, full data: the calibration', '',
        f"A ConvNetD3 trained on the whole training split ({run['train_images']:,} images of CIFAR-10's JPEG copy; 4 % "
        f"held out for validation) with hard labels, by the students' recipe: {r['opt']}, lr {r['lr']} "
        f"({r['sched']}), momentum {r['mom']}, weight decay {r['wd']}, batch {r['bs']}, DSA, ZCA; {run['epochs']} "
        f"epochs, {run['precision']}{', compiled' if run['compile'] else ''}, on the {run['device']} ({run['cpu']}, "
        f"{run['threads']} threads), {curve.seconds.sum() / 60:.0f} min of training and scoring; commit `{str(run['commit'])[:7]}`. Nothing was "
        'chosen: the recipe is the student protocol, fixed beforehand.'
        + ('' if done else f" PARTIAL: {int(last.epoch)} of {run['epochs']} epochs when this was written."), '',
        '| | epoch | valid % | test % |', '|---|---:|---:|---:|',
        f'| final | {int(last.epoch)} | {100 * last.valid_acc:.1f} | {100 * last.test_acc:.1f} |',
        f'| best on validation | {int(best.epoch)} | {100 * best.valid_acc:.1f} | {100 * best.test_acc:.1f} |',
        f'| the paper (Table 2) | - | - | {PAPER_FULL} |', '',
        f"Our full-data figure is the final test accuracy, {100 * last.test_acc:.1f} %, "
        f"{100 * last.test_acc - PAPER_FULL:+.1f} points from the paper's {PAPER_FULL} %. A Table 2 cell reads as a "
        f"fraction of full data by dividing by it (the paper's by {PAPER_FULL}).", ''])


def render(out:Path):
    "Write `full_data.md` from `curve.csv` and `run.json` in `out`."
    (out/'full_data.md').write_text(markdown(pd.read_csv(out/'curve.csv'), json.loads((out/'run.json').read_text())))


class EveryEpoch(Callback):
    """After each epoch: score validation and test, add the row to the curve, save the training state and call `clock`
    (which keeps run.json's wall time current, so a killed run's record still counts its last epochs)."""
    order = 90
    def __init__(self, out:Path, sp, start:int, rows:list, cfg:StudentConfig, clock=lambda: None):
        self.out, self.sp, self.start, self.rows, self.cfg, self.clock = out, sp, start, rows, cfg, clock
    def before_epoch(self): self.t0 = time.perf_counter()
    def after_epoch(self):
        m, e = uncompiled(self.learn.model), self.start + self.epoch + 1
        score = lambda s: accuracy_of(m, s.x, s.y, precision=self.cfg.precision, compile=self.cfg.compile)
        self.rows.append(dict(epoch=e, train_loss=float(self.learn.recorder.losses[-1]), valid_acc=score(self.sp.valid),
                              test_acc=score(self.sp.test), seconds=time.perf_counter() - self.t0))
        atomic_save(dict(epoch=e, epochs=self.cfg.epochs, model=m.state_dict(), opt=self.learn.opt.state_dict(), rows=self.rows,
                         rng=torch.get_rng_state()), self.out/'state.pt')
        atomic_csv(pd.DataFrame(self.rows), self.out/'curve.csv')
        self.clock()
        print(self.rows[-1], flush=True)


def main():
    a = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    a.add_argument('--epochs', type=int, default=40)
    a.add_argument('--max_per_class', type=int, default=None, help='a quick check on a few images a class')
    a.add_argument('--out', default=str(HERE))
    a.add_argument('--render', action='store_true', help='only write full_data.md from the committed files')
    o = a.parse_args()
    if o.render: return render(Path(o.out))
    if o.epochs < 1: a.error(f'--epochs must be >= 1, got {o.epochs}')
    out, dev, t0 = Path(o.out), pick_device(), time.time()
    out.mkdir(parents=True, exist_ok=True)
    prec = auto_precision(dev) if o.max_per_class is None else 'fp32'
    cfg = StudentConfig(arch='convnet', epochs=o.epochs, lr=0.01, compile=prec == 'bf16', precision=prec)
    state = torch.load(out/'state.pt', weights_only=True) if (out/'state.pt').exists() else None
    if state is not None and state['epochs'] != o.epochs:
        a.error(f"--epochs {o.epochs}: the run in {out} trains {state['epochs']} epochs (its schedule depends on them); "
                f"give --epochs {state['epochs']}, or a new --out")
    if state is not None and state['epoch'] >= o.epochs: return print(f'{out}: already trained')
    sp = prepare(get_dataset('cifar10', max_per_class=o.max_per_class, show=True), valid_frac=0.04, zca=True, seed=0,
                 device=dev, backing='float')
    learn = student_learner(sp.train.x, hard_labels(sp.train.y, sp.c), cfg, seed=0, passes=1)
    start, rows = (state['epoch'], state['rows']) if state else (0, [])
    if state:
        uncompiled(learn.model).load_state_dict(state['model'])
        learn.create_opt(); learn.opt.load_state_dict(state['opt']); torch.set_rng_state(state['rng'])
    whole = student_sched(cfg)  # the schedule of the whole run, resumed at its position
    sched = lambda pos: whole((start + pos * (o.epochs - start)) / o.epochs)
    info = json.loads((out/'run.json').read_text()) if (out/'run.json').exists() else {}
    before = info.get('wall_s', 0)
    info.update(dataset='cifar10', max_per_class=o.max_per_class, train_images=len(sp.train), data_key=sp.key,
                recipe=dict(arch='convnet (ConvNetD3)', opt='SGD', lr=cfg.lr, mom=cfg.mom, wd=cfg.wd, bs=cfg.bs,
                            sched=f'x{cfg.gamma} at each 1/{cfg.phases} of training', dsa=cfg.dsa, zca=True,
                            labels='hard'),
                epochs=o.epochs, precision=prec, compile=cfg.compile, device=dev.type,
                cpu=platform.processor() or platform.machine(), threads=torch.get_num_threads(),
                wall_s=before, **versions())
    def clock():  # run.json with the wall time so far: this start's seconds added to the earlier starts'
        info['wall_s'] = before + round(time.time() - t0)
        atomic_write(out/'run.json', lambda f: Path(f).write_text(json.dumps(info, indent=1, default=str)))
    clock()  # what runs, before it runs
    learn.fit(o.epochs - start, cbs=[ExactSched({'lr': sched}), EveryEpoch(out, sp, start, rows, cfg, clock)])
    clock()
    render(out)


if __name__ == '__main__': main()
