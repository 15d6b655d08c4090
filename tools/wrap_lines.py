"""Wrap the code lines of notebooks (or Python files) that are longer than the house limit, without changing what runs.

Three moves, tried in order on each long line:
- a one-line docstring becomes a triple-quoted one, wrapped;
- a trailing comment moves to its own lines just above (fastcore's `docments` reads a comment there too);
- code breaks after a comma inside brackets (or between the words of a string literal), continued under the bracket.
Every changed cell is checked to parse to the same syntax tree (docstrings compared by their words).

    python tools/wrap_lines.py nbs/*.ipynb nbs/analyses/*.ipynb      # rewrite in place; prints what is still long
    python tools/wrap_lines.py --check nbs/*.ipynb                   # exit 1 if an exported line is too long
"""
import ast, io, json, re, sys, textwrap, tokenize
from pathlib import Path

LIMIT = 120


def _norm(tree):
    "The tree with every docstring's whitespace collapsed, dumped for comparison."
    for n in ast.walk(tree):
        body = getattr(n, 'body', None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str):
            body[0].value.value = ' '.join(body[0].value.value.split())
    return ast.dump(tree)


def _docstring(line):
    "A long one-line docstring as wrapped triple-quoted lines, or None."
    m = re.fullmatch(r'(\s*)([rR]?)"([^"\\]*)"\s*', line)
    if not m or '"""' in line: return None
    ind, pre, text = m.groups()
    if '\\' in text: return None
    body = textwrap.wrap(text, LIMIT - len(ind) - 3, break_long_words=False, break_on_hyphens=False)
    if len(body) < 2: return None
    lines = [f'{ind}{pre}"""{body[0]}'] + [f'{ind}{b}' for b in body[1:-1]] + [f'{ind}{body[-1]}"""']
    if len(lines[-1]) > LIMIT: lines[-1:] = [f'{ind}{body[-1]}', f'{ind}"""']
    return lines


def _tokens(src):
    return list(tokenize.generate_tokens(io.StringIO(src).readline))


def _comment(lines, i, toks):
    "Move the trailing comment of line `i` above it, wrapped; True if moved."
    line = lines[i]
    cs = [t for t in toks if t.type == tokenize.COMMENT and t.start[0] == i + 1]
    if not cs: return False
    c = cs[0]
    code = line[:c.start[1]].rstrip()
    if not code.strip(): return False  # a comment line of its own: wrap it
    ind = re.match(r'\s*', line).group()
    text = c.string.lstrip('#').strip()
    wrapped = textwrap.wrap(text, LIMIT - len(ind) - 2, break_long_words=False, break_on_hyphens=False)
    lines[i:i + 1] = [f'{ind}# {w}' for w in wrapped] + [code]
    return True


def _wrap_comment_line(lines, i):
    m = re.fullmatch(r'(\s*)#(?!\|)\s?(.*)', lines[i])
    if not m: return False
    ind, text = m.groups()
    wrapped = textwrap.wrap(text, LIMIT - len(ind) - 2, break_long_words=False, break_on_hyphens=False)
    if len(wrapped) < 2: return False
    lines[i:i + 1] = [f'{ind}# {w}' for w in wrapped]
    return True


def _break_code(lines, i, toks):
    "Break line `i` after the last comma (inside brackets) that leaves the head within the limit; True if broken."
    line, depth_cols, best = lines[i], [], None
    for t in toks:
        if t.start[0] != i + 1 or t.end[0] != i + 1: continue
        if t.type == tokenize.OP and t.string in '([{': depth_cols.append(t.start[1])
        elif t.type == tokenize.OP and t.string in ')]}':
            if depth_cols: depth_cols.pop()
        elif t.type == tokenize.OP and t.string == ',' and depth_cols and t.end[1] <= LIMIT:
            rest = line[t.end[1]:].strip()
            if rest and not rest.startswith('#'): best = (t.end[1], depth_cols[-1] + 1)
    if best is None: return False
    cut, col = best
    head, tail = line[:cut].rstrip(), line[cut:].strip()
    if col + len(tail) > LIMIT and col > len(re.match(r'\s*', line).group()) + 8:
        col = len(re.match(r'\s*', line).group()) + 4  # a hanging indent where aligning would not fit
    lines[i:i + 1] = [head, ' ' * col + tail]
    return True


def _break_string(lines, i, toks):
    "Split the string literal that crosses the limit on line `i` in two adjacent literals at a space; True if split."
    line = lines[i]
    for t in toks:
        if t.type != tokenize.STRING or t.start[0] != i + 1 or t.end[0] != i + 1: continue
        if not (t.start[1] < LIMIT < t.end[1]) or _depth_at(toks, t.start) == 0: continue
        m = re.match(r'([rRbBfF]*)(["\'])', t.string)
        if not m or t.string.startswith(m.group(1) + m.group(2) * 3): return False
        pre, q = m.groups()
        body = t.string[len(pre) + 1:-1]
        col0 = t.start[1] + len(pre) + 1
        spaces = [k for k, ch in enumerate(body) if ch == ' ' and col0 + k + 2 <= LIMIT and k > 0]
        if 'f' in pre.lower(): spaces = [k for k in spaces if body[:k].count('{') == body[:k].count('}')]
        if not spaces: return False
        k = spaces[-1] + 1
        ind = t.start[1]
        lines[i:i + 1] = [line[:t.start[1]] + pre + q + body[:k] + q, ' ' * ind + pre + q + body[k:] + q + line[t.end[1]:]]
        return True
    return False


def _depth_at(toks, pos):
    "How many brackets are open just before the position `pos` (line, column)."
    depth = 0
    for t in toks:
        if t.start >= pos: break
        if t.type == tokenize.OP and t.string in '([{': depth += 1
        elif t.type == tokenize.OP and t.string in ')]}': depth -= 1
    return depth


def _reindent(lines, i, toks):
    "Move a continuation line (inside brackets) left, to four spaces past the line above's indentation; True if moved."
    if i == 0 or _depth_at(toks, (i + 1, 0)) == 0: return False
    line = lines[i]
    col = len(re.match(r'\s*', lines[i - 1]).group()) + 4
    if col >= len(line) - len(line.lstrip()) or col + len(line.strip()) > LIMIT: return False
    lines[i] = ' ' * col + line.strip()
    return True


def wrap_source(src):
    "The source with its long lines wrapped (the same syntax tree), and how many lines are still long."
    try: before = _norm(ast.parse(src))
    except SyntaxError: return src, sum(len(l) > LIMIT for l in src.splitlines())
    lines = src.split('\n')
    for _ in range(400):
        long = [i for i, l in enumerate(lines) if len(l) > LIMIT]
        if not long: break
        text = '\n'.join(lines)
        try: toks = _tokens(text)
        except (tokenize.TokenError, IndentationError, SyntaxError): break
        changed = False
        for i in long:
            trial = list(lines)
            doc = _docstring(trial[i])
            moves = []
            if doc is not None: moves.append(lambda t, d=doc: t.__setitem__(slice(i, i + 1), d) or True)
            moves += [lambda t: _reindent(t, i, toks), lambda t: _comment(t, i, toks), lambda t: _wrap_comment_line(t, i),
                      lambda t: _break_code(t, i, toks),
                      lambda t: _break_string(t, i, toks)]
            for mv in moves:
                t = list(lines)
                if not mv(t): continue
                new = '\n'.join(t)
                try: ok = _norm(ast.parse(new)) == before
                except SyntaxError: ok = False
                if ok: lines, changed = t, True; break
            if changed: break
        if not changed: break
    return '\n'.join(lines), sum(len(l) > LIMIT for l in lines)


def _cells(nb):
    for c in nb['cells']:
        if c['cell_type'] == 'code': yield c


def main(argv):
    check = '--check' in argv
    paths = [Path(a) for a in argv if a != '--check']
    left = 0
    for p in paths:
        if p.suffix == '.py':
            src = p.read_text()
            new, n = wrap_source(src)
            if not check and new != src: p.write_text(new)
            left += n
            if n: print(f'{p}: {n} line(s) still over {LIMIT}')
            continue
        nb = json.loads(p.read_text())
        dirty = False
        for c in _cells(nb):
            src = ''.join(c['source'])
            if not src.lstrip().startswith('#| export') and not src.lstrip().startswith('#|export'): continue
            if not any(len(l) > LIMIT for l in src.splitlines()): continue
            new, n = wrap_source(src)
            left += n
            if n: print(f'{p} cell {c.get("id")}: {n} line(s) still over {LIMIT}')
            if new != src and not check:
                c['source'] = new.splitlines(keepends=True)
                dirty = True
        if dirty: p.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + '\n')
    if check:
        long = 0
        for p in paths:
            if p.suffix != '.ipynb': continue
            for c in _cells(json.loads(p.read_text())):
                s = ''.join(c['source'])
                if s.lstrip().startswith('#| export'): long += sum(len(l) > LIMIT for l in s.splitlines())
        print(f'{long} exported line(s) over {LIMIT}')
        return 1 if long else 0
    return 0


if __name__ == '__main__': sys.exit(main(sys.argv[1:]))
