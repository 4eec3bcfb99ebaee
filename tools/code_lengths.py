#!/usr/bin/env python3
"""File and function lengths of src/ at a git revision (or the working tree), for architecture reviews.

    tools/code_lengths.py [REV]      e.g. tools/code_lengths.py 3401e1b

Functions are the definitions that open at column 0 and close with a '}' at column 0 in .cpp files
(the project does not indent namespace bodies), so methods defined inside class bodies in headers
are not counted. Prints the summary table and the ten longest files and functions.
"""
import statistics
import subprocess
import sys
from pathlib import Path


def files_at(rev):
    if rev is None:
        root = Path(__file__).resolve().parent.parent
        return {str(p.relative_to(root)): p.read_text(errors="replace") for p in (root / "src").rglob("*")
                if p.suffix in (".cpp", ".h")}
    names = subprocess.run(["git", "ls-tree", "-r", "--name-only", rev, "src"], capture_output=True, text=True,
                           check=True).stdout.split()
    return {n: subprocess.run(["git", "show", f"{rev}:{n}"], capture_output=True, text=True, check=True).stdout
            for n in names if n.endswith((".cpp", ".h"))}


def functions(text):
    out, start, name = [], None, ""
    for i, line in enumerate(text.split("\n")):
        if start is None and line and not line[0].isspace() and line.rstrip().endswith("{") and "(" in line \
                and not line.startswith(("namespace", "struct", "class", "enum", "union", "extern", "#")) \
                and "=" not in line.split("(")[0]:
            start, name = i, line.split("(")[0].split()[-1]
        elif start is not None and line.startswith("}"):
            out.append((i - start + 1, name))
            start = None
    return out


def main():
    rev = sys.argv[1] if len(sys.argv) > 1 else None
    files = files_at(rev)
    lengths = sorted(((t.count("\n"), n) for n, t in files.items()), reverse=True)
    funcs = sorted(((n, f, name) for f, t in files.items() if f.endswith(".cpp") for n, name in functions(t)),
                   reverse=True)
    fl = [n for n, _, _ in funcs]
    print(f"revision: {rev or 'working tree'}")
    print("| | files | lines | longest file | files > 400 lines | functions | median | p90 | longest | > 60 lines |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    p90 = sorted(fl)[int(0.9 * (len(fl) - 1))]
    print(f"| {rev or 'now'} | {len(files)} | {sum(n for n, _ in lengths)} | {lengths[0][0]} | "
          f"{sum(n > 400 for n, _ in lengths)} | {len(fl)} | {statistics.median(fl):.0f} | {p90} | {fl[0]} | "
          f"{sum(n > 60 for n in fl)} |")
    print("longest files:", ", ".join(f"{n} {f}" for n, f in lengths[:10]))
    print("longest functions:", ", ".join(f"{n} {f}:{name}" for n, f, name in funcs[:10]))


if __name__ == "__main__":
    main()
