"Every committed record under results/ still reads back to the finding it gave before the experiment kit (tests/data/findings.json)."
import json
from pathlib import Path
import pytest
from ld_nbdev.cli import load_experiments
from ld_nbdev.records import load_record

ROOT = Path(__file__).resolve().parent.parent
FINDINGS = json.loads((ROOT / 'tests' / 'data' / 'findings.json').read_text())


@pytest.mark.parametrize('name', sorted(FINDINGS))
def test_record_gives_the_same_finding(name):
    want = FINDINGS[name]
    rec = load_record(ROOT / 'results' / name)
    assert rec is not None, f'results/{name}: no ledger'
    assert rec.partial == want['partial'] and int((rec.rows.status == 'ok').sum()) == want['students']
    assert load_experiments()[want['experiment']].finding(rec) == want['finding']


def test_every_analysis_record_is_held():
    "A record committed without its finding held here is a record this test would not protect."
    held = {n for n in FINDINGS}
    records = {d.name for d in (ROOT / 'results').iterdir() if (d / 'ledger.csv').exists() and (d / 'rows.csv').exists()}
    assert records <= held, sorted(records - held)
