"BENCHMARKS.md is written a section at a time, each benchmark's between its own markers."
import re
from pathlib import Path
from ld_nbdev.core import atomic_write

ROOT = Path(__file__).resolve().parent.parent


def write_section(name:str, text:str, md=ROOT / 'BENCHMARKS.md'):
    "Put `text` between the markers of section `name` in `md` (appended, with its markers, the first time)."
    mark = (f'<!-- {name}: begin -->', f'<!-- {name}: end -->')
    old, new = Path(md).read_text(), f'{mark[0]}\n{text}{mark[1]}'
    pat = re.compile(re.escape(mark[0]) + '.*?' + re.escape(mark[1]), re.S)
    out = pat.sub(lambda _: new, old) if pat.search(old) else old.rstrip('\n') + '\n\n' + new + '\n'
    atomic_write(md, lambda f: Path(f).write_text(out))
