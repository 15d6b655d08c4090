"Every committed ledger is in today's layout and files each student under its trial's key, so a resumed run retrains nothing."
import sys
from pathlib import Path
import pytest
from ld_nbdev.sweep import Ledger

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / 'tools'))
from migrate_records import trial_of  # noqa: E402  the one place a ledger row is read back as the trial it records

LEDGERS = sorted(p.relative_to(ROOT) for d in ('results', 'benchmarks') for p in (ROOT / d).rglob('ledger.csv'))


@pytest.mark.parametrize('path', LEDGERS, ids=str)
def test_each_row_is_filed_under_its_trials_key(path):
    lg = Ledger(ROOT / path)  # refused if not in today's layout
    assert len(lg) > 0
    assert [k for k, row in lg.rows.items() if trial_of(row).key != k] == []

