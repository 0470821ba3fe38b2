#!/usr/bin/env python3
# SPDX-License-Identifier: MPL-2.0
"""The include/call graph between the files of one folder tree, and its circles.

A node is a file (with --modules, `x.c` together with its `x.h`). There is an arrow A -> B when
A includes B by the name the build resolves, or when A calls a function (or uses a variable)
that B defines without `static`. A header calls nothing, so a circle is a circle of calls. The arrows that run "back up" are
those inside a circle that go against the best order found for its members (a greedy
feedback-arc-set order), i.e. how many arrows would have to go for the graph to have no circle.

    tools/depgraph.py server                      # figures and the circles
    tools/depgraph.py clients --exclude web       # leave a subfolder out
    tools/depgraph.py server --max-circle 3       # exit 1 when a circle has more than 3 files
"""
import argparse
import os
import re
import sys

DEF_RE = re.compile(r'^(?!static\b)(?:[A-Za-z_][\w \t\*]*?[\s\*])?([A-Za-z_]\w*)\s*\(([^;]*)$')
VAR_RE = re.compile(r'^(?!static\b)(?:const\s+)?(?:struct\s+)?\w+[\w \t\*]*?\b([A-Za-z_]\w*)\s*(?:\[[^\]]*\])*\s*=')
INCLUDE_RE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
IDENT_RE = re.compile(r'\b([A-Za-z_]\w*)\b')
KEYWORDS = {'if', 'for', 'while', 'switch', 'return', 'sizeof', 'else', 'do'}


def strip_comments_and_strings(text):
    text = re.sub(r'/\*.*?\*/', lambda m: '\n' * m.group(0).count('\n'), text, flags=re.S)
    text = re.sub(r'//[^\n]*', '', text)
    return re.sub(r'"(?:\\.|[^"\\\n])*"', '""', text)


def modules_of(root, by_file, exclude):
    mods = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if os.path.relpath(os.path.join(folder, d), root) not in exclude]
        for name in files:
            if name.endswith(('.c', '.h')):
                path = os.path.join(folder, name)
                rel = os.path.relpath(path, root)
                mods.setdefault(rel if by_file else rel[:-2], []).append(path)
    return mods


def definitions(mods):
    defined = {}
    for mod, paths in mods.items():
        for path in paths:
            if not path.endswith('.c'):
                continue
            with open(path, encoding='utf-8') as f:
                text = strip_comments_and_strings(f.read())
            for line in text.split('\n'):
                if line[:1].isspace() or line.startswith('#'):
                    continue
                m = DEF_RE.match(line) or VAR_RE.match(line)
                if m and m.group(1) not in KEYWORDS:
                    defined.setdefault(m.group(1), mod)
    return defined


def header_index(mods):
    """Header base name -> module, for includes written without a folder (the build's -I)."""
    index = {}
    for mod, paths in mods.items():
        for path in paths:
            if path.endswith('.h'):
                index.setdefault(os.path.basename(path), mod)
                index.setdefault(mod if mod.endswith('.h') else mod + '.h', mod)
    return index


def arrows(mods, defined, headers):
    edges = {m: set() for m in mods}
    for mod, paths in mods.items():
        for path in paths:
            with open(path, encoding='utf-8') as f:
                raw = f.read()
            for line in raw.split('\n'):
                m = INCLUDE_RE.match(line)
                if not m:
                    continue
                inc = m.group(1)
                here = os.path.normpath(os.path.join(os.path.dirname(mod), inc))
                here = here if here in mods else here[:-2]
                target = here if here in mods else headers.get(inc, headers.get(os.path.basename(inc)))
                if target and target != mod:
                    edges[mod].add(target)
            if path.endswith('.c'):
                for ident in set(IDENT_RE.findall(strip_comments_and_strings(raw))):
                    target = defined.get(ident)
                    if target and target != mod:
                        edges[mod].add(target)
    return edges


def circles(edges):
    """Strongly connected components (Tarjan, iterative), largest first."""
    index, low, on_stack, stack, out = {}, {}, set(), [], []
    counter = [0]
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = counter[0]
        counter[0] += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, it = work[-1]
            nxt = next(it, None)
            if nxt is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        comp.append(w)
                        if w == node:
                            break
                    out.append(sorted(comp))
            elif nxt not in index:
                index[nxt] = low[nxt] = counter[0]
                counter[0] += 1
                stack.append(nxt)
                on_stack.add(nxt)
                work.append((nxt, iter(sorted(edges[nxt]))))
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
    return sorted(out, key=len, reverse=True)


def back_arrows(comp, edges):
    """Arrows inside one circle that run against a greedy (Eades et al.) order of its members."""
    members = set(comp)
    sub = {m: {t for t in edges[m] if t in members} for m in comp}
    left, order_head, order_tail = set(comp), [], []
    while left:
        changed = True
        while changed:
            changed = False
            for m in sorted(left):
                if not any(t in left for t in sub[m]):
                    order_tail.insert(0, m)
                    left.discard(m)
                    changed = True
                elif not any(m in sub[s] for s in left if s != m):
                    order_head.append(m)
                    left.discard(m)
                    changed = True
        if left:
            best = max(sorted(left), key=lambda m: sum(t in left for t in sub[m]) -
                       sum(m in sub[s] for s in left))
            order_head.append(best)
            left.discard(best)
    pos = {m: i for i, m in enumerate(order_head + order_tail)}
    return sum(1 for m in comp for t in sub[m] if pos[t] < pos[m])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('root')
    ap.add_argument('--modules', action='store_true',
                    help='one node per .c/.h pair instead of per file')
    ap.add_argument('--exclude', action='append', default=[],
                    help='a subfolder (relative to root) to leave out; may repeat')
    ap.add_argument('--layers', default='',
                    help='folders (or single files) from the bottom up, comma-separated; files elsewhere are '
                         'the top: lists the arrows that run from a lower layer to a higher one')
    ap.add_argument('--max-upward', type=int, default=-1,
                    help='exit 1 when more arrows than this run upward between layers')
    ap.add_argument('--max-circle', type=int, default=0,
                    help='exit 1 when a circle has more files than this')
    ap.add_argument('--max-back', type=int, default=-1,
                    help='exit 1 when more arrows than this run back up')
    args = ap.parse_args()
    mods = modules_of(args.root, not args.modules, args.exclude)
    edges = arrows(mods, definitions(mods), header_index(mods))
    comps = [c for c in circles(edges) if len(c) > 1]
    n_arrows = sum(len(t) for t in edges.values())
    n_back = sum(back_arrows(c, edges) for c in comps)
    c_files = sum(1 for p in mods.values() for f in p if f.endswith('.c'))
    print(f'{args.root}: {len(mods)} {"modules" if args.modules else "files"} ({c_files} .c files), {n_arrows} arrows')
    print(f'largest circle: {len(comps[0]) if comps else 1} files; '
          f'{len(comps)} circles; {n_back} arrows run back up')
    for c in comps:
        print(f'  circle of {len(c)}: {" ".join(c)}')
    failed = False
    if args.layers:
        order = args.layers.split(',')

        def level(node):
            if node in order:
                return order.index(node)
            top = node.split('/')[0] if '/' in node else ''
            return order.index(top) if top in order else len(order)
        upward = sorted((a, b) for a, tos in edges.items() for b in tos if level(b) > level(a))
        print(f'layers {" < ".join(order)} < the rest: {len(upward)} arrows run upward')
        for a, b in upward:
            print(f'  {a} -> {b}')
        if args.max_upward >= 0 and len(upward) > args.max_upward:
            print(f'FAIL: {len(upward)} arrows run upward (at most {args.max_upward})')
            failed = True
    if args.max_circle and comps and len(comps[0]) > args.max_circle:
        print(f'FAIL: a circle of {len(comps[0])} files (at most {args.max_circle})')
        failed = True
    if args.max_back >= 0 and n_back > args.max_back:
        print(f'FAIL: {n_back} arrows run back up (at most {args.max_back})')
        failed = True
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
