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


def test_claim_one_per_family():
    """#35's finding: over the library-made sets evaluated with the recipe expert and labels chosen per image source,
    claim (1) per family of method and IPC reads back as committed (tests/data/family_finding.txt); the finding names
    every set it covers, so a record lost or changed fails here."""
    from ld_nbdev.analyses.evaluate import family_finding, family_margins
    recs = {d.name[len('cifar10_recipe_eval_'):]: r for d in sorted((ROOT / 'results').glob('cifar10_recipe_eval_*'))
            if (r := load_record(d)) is not None and not r.partial}  # a run committed partial joins once it finishes
    want = (ROOT / 'tests' / 'data' / 'family_finding.txt').read_text().strip()
    assert family_finding(family_margins(recs)) == want
