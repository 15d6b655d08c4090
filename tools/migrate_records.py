"""Rewrite the committed records (results/, benchmarks/) once into today's vocabulary, layout and trial keys.

Run once from the repository root: `python tools/migrate_records.py` (`--check` only reports). It
- gives every ledger today's columns (`precision` fp32, `compile` False, `opt` sgd, `sched` step, empty `valid_acc` /
  `class_acc` where an earlier version had none: what those students ran with);
- re-keys every trial with the uniform key (the hash of its whole record, precision included) and carries the new
  keys into every other CSV of the records that names trials (`rows.csv`, `selection.csv`, ...);
- renames the old columns of the analyses' frames (`labels` -> `recipe`, an expert's `recipe` -> `expert_recipe`);
- drops from each run's `config.json` the settings that moved from the shared protocol into one analysis's own
  settings, where the run's experiment does not have them, and writes down the precision (fp32) of runs from before
  it was a setting, now that the default is `auto`.
Every row's trial is rebuilt from the row and its old key checked before anything is written; a second run changes
nothing.
"""
import argparse, csv, io, json, sys
from dataclasses import fields
from pathlib import Path
from ld_nbdev.core import config_hash
from ld_nbdev.student import StudentConfig
from ld_nbdev.sweep import Trial, LEDGER_COLS
from ld_nbdev.cli import load_experiments
from ld_nbdev.protocol import Protocol

ROOTS = ('results', 'benchmarks')
MOVED = dict(swap_k=None, subjects=None, keep_k=None, expert_recipes=['ours', 'ours_dsa', 'official@0.1'])  # and their values
EARLIER = dict(precision='fp32', compile='False', valid_acc='', class_acc='', opt='sgd', sched='step')  # what a column an earlier version lacked held
SETTLED = dict(precision='fp32')  # settings whose default changed after runs that predate them: what those runs used
LATER = dict(opt='sgd', sched='step')  # student settings added after the first migration, and the value every earlier student had

def read_csv(f:Path) -> tuple:
    "The header and rows (dicts of text) of the CSV `f`."
    rows = list(csv.DictReader(io.StringIO(f.read_text())))
    return next(csv.reader(io.StringIO(f.read_text()))), rows

def csv_text(cols, rows) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, cols, lineterminator='\n')
    w.writeheader(); w.writerows(rows)
    return buf.getvalue()

def _typed(f, text:str):
    "A student setting's text as the value it was."
    kind = type(f.default)
    return text == 'True' if kind is bool else kind(text)

def trial_of(row:dict) -> Trial:
    "The trial a ledger row records, rebuilt (the row in today's layout)."
    cfg = StudentConfig(**{f.name: _typed(f, row[f.name]) for f in fields(StudentConfig)})
    return Trial(row['data'], int(row['ipc']), row['recipe'], json.loads(row['params']), row['experts'].split(), cfg,
                 int(row['seed']), row['images'], int(row['image_seed']), row['score'])

def keys_of(t:Trial, had:set) -> tuple:
    "The keys trial `t` may have had (float32 left precision out; a ledger without `compile` left it out too) and its key now."
    r = t.record()
    base = {k: v for k, v in r.items() if not (k in LATER and v == LATER[k])}  # the key of the first migration
    old = {k: v for k, v in base.items() if not (k == 'precision' and v == 'fp32')}
    before = [config_hash(old, 16), config_hash(base, 16)]
    if 'compile' not in had: before.append(config_hash({k: v for k, v in old.items() if k != 'compile'}, 16))
    return before, config_hash(r, 16)

def migrate_ledger(f:Path, renamed:dict) -> bool:
    "Today's layout and keys for the ledger `f`; old key -> new key into `renamed`; whether it changes."
    head, rows = read_csv(f)
    out = []
    for r in rows:
        r = {c: r.get(c, EARLIER.get(c, '')) for c in LEDGER_COLS}
        before, now = keys_of(trial_of(r), set(head))
        if r['key'] != now:
            if r['key'] not in before: sys.exit(f'{f}: row {r["key"]} is not the trial it records; nothing written')
            renamed[r['key']] = now
        out.append(dict(r, key=now))
    text = csv_text(LEDGER_COLS, out)
    return text != f.read_text(), text

def rekeyed(f:Path, renamed:dict) -> str|None:
    "The CSV `f` with its trial keys renamed and old column names replaced, or None where nothing changes."
    head, rows = read_csv(f)
    cols = list(head)
    analysis = (f.parent/'ledger.csv').exists() and not (f.parent/'results.csv').exists()  # the baseline's own words stay
    if {'labels', 'step'} <= set(cols) and analysis:  # an analysis's rows or cells, in the words of an earlier version
        cols = ['recipe' if c == 'labels' else 'expert_recipe' if c == 'recipe' else c for c in cols]
    rows = [dict(zip(cols, r.values())) for r in rows]
    if 'key' in cols: rows = [dict(r, key=renamed.get(r['key'], r['key'])) for r in rows]
    if cols == head and not any(r['key'] in renamed for r in read_csv(f)[1] if 'key' in r): return None
    return csv_text(cols, rows)

def experiment_of(folder:Path, names) -> str|None:
    "The experiment whose run the folder holds: as `run.json` says, else the longest registered name in the folder's."
    run = folder/'run.json'
    name = json.loads(run.read_text()).get('experiment') if run.exists() else None
    if name: return name
    tail = folder.name.split('_', 1)[-1]
    fits = [n for n in names if tail == n or tail.startswith(n + '_')]
    return max(fits, key=len) if fits else None

def migrated_config(f:Path, exps:dict) -> str|None:
    "`config.json` without the moved settings its experiment lacks, or None where nothing changes."
    c = json.loads(f.read_text())
    e = experiment_of(f.parent, exps)
    mine = {x.name for x in fields(exps[e].settings if e in exps else Protocol)} if e in exps or 'expert_epochs' in c else set()
    drop = [k for k in MOVED if k in c and k not in mine]
    add = {k: v for k, v in SETTLED.items() if k in mine and k not in c}  # a default that changed since the run
    if not drop and not add: return None
    return json.dumps({**{k: v for k, v in c.items() if k not in drop}, **add}, indent=1, default=str)

def main(check:bool=False):
    exps = load_experiments()
    files = {r: sorted(Path(r).rglob('*')) for r in ROOTS}
    files = [f for fs in files.values() for f in fs if f.is_file()]
    renamed, writes = {}, {}
    for f in files:
        if f.name == 'ledger.csv':
            changed, text = migrate_ledger(f, renamed)
            if changed: writes[f] = text
    for f in files:
        if f.suffix == '.csv' and f.name != 'ledger.csv' and (text := rekeyed(f, renamed)) is not None: writes[f] = text
        if f.name == 'config.json' and (text := migrated_config(f, exps)) is not None: writes[f] = text
    for f, text in writes.items():
        print(f'{"would rewrite" if check else "rewrote"} {f}')
        if not check: f.write_text(text)
    print(f'{len(renamed)} trial keys renamed, {len(writes)} files {"to rewrite" if check else "rewritten"}')

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--check', action='store_true', help='report what would change, write nothing')
    main(ap.parse_args().check)
