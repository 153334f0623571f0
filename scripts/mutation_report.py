"""Write docs/mutation-report.md from the last `mutmut run` (make mutation), and say whether it passes.

Reads mutmut's own results (mutants/*.meta, through mutmut's API: the report cannot disagree with
`mutmut results`) and prints the score, every survivor with its change, and whether docs/SAFETY.md argues
it. The score is (killed + timeout) / (all mutants - skipped): a mutant no test reached counts as alive.
A survivor is argued when docs/SAFETY.md's survivor table has a row naming it whose change is the same
text as the mutant's (so an argument goes stale the moment the mutant it was written for changes).

Exit 0 when the score is at least MIN_SCORE and every survivor is argued; else 1.
Usage: python scripts/mutation_report.py [--seconds N]   (N: the run's wall time, printed in the report)
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from collections import Counter
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "docs" / "mutation-report.md"
SAFETY = ROOT / "docs" / "SAFETY.md"
MIN_SCORE = 90.0
ALIVE = ("survived", "no tests", "suspicious", "segfault", "not checked", "check was interrupted by user")
#: A survivor row of docs/SAFETY.md: | `name` | `change` | why |
ARGUED_ROW = re.compile(r"^\|\s*`(?P<name>[^`]+)`\s*\|\s*`(?P<change>[^`]+)`\s*\|\s*(?P<why>.+?)\s*\|\s*$")


def results() -> dict[str, str]:
    """mutant name -> status, as `mutmut results --all true` would print them."""
    from mutmut.mutation.data import SourceFileMutationData
    from mutmut.stats import status_by_exit_code
    from mutmut.utils.file_utils import walk_mutatable_files

    out: dict[str, str] = {}
    for path in walk_mutatable_files():
        data = SourceFileMutationData(path=path)
        data.load()
        for name, code in data.exit_code_by_key.items():
            out[name] = status_by_exit_code[code]
    return out


def change_of(name: str) -> str:
    """The mutant's change as one line: the removed and added source lines, stripped, joined by ' → '."""
    from mutmut.mutation.diff_apply import get_diff_for_mutant

    diff = get_diff_for_mutant(name)
    removed = [ln[1:].strip() for ln in diff.splitlines() if ln.startswith("-") and not ln.startswith("---")]
    added = [ln[1:].strip() for ln in diff.splitlines() if ln.startswith("+") and not ln.startswith("+++")]
    return " ".join(removed) + " → " + " ".join(added)


def argued(text: str) -> dict[str, str]:
    """mutant name -> the change its argument was written for."""
    return {m["name"]: m["change"] for line in text.splitlines() if (m := ARGUED_ROW.match(line))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=None, help="the run's wall time")
    args = parser.parse_args()
    os.chdir(ROOT)
    status = results()
    if not status:
        print("no mutation results: run `make mutation` first", file=sys.stderr)
        return 1
    counts = Counter(status.values())
    total, skipped = len(status), counts["skipped"]
    killed = counts["killed"] + counts["timeout"] + counts["caught by type check"]
    score = 100.0 * killed / max(1, total - skipped)
    alive = sorted(name for name, s in status.items() if s in ALIVE)
    arguments = argued(SAFETY.read_text()) if SAFETY.exists() else {}
    rows, unargued = [], 0
    for name in alive:
        change = change_of(name)
        ok = arguments.get(name) == change.replace("`", "'")
        unargued += not ok
        rows.append(f"| `{name}` | {status[name]} | `{change.replace('`', chr(39))}` | "
                    f"{'argued' if ok else '**not argued**'} |")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    by_module = Counter(name.split(".x")[0] for name in alive)
    lines = [
        "# Mutation report",
        "",
        "Written by `make mutation` (scripts/mutation_report.py); docs/SAFETY.md explains the method and argues",
        "each survivor. Do not edit by hand.",
        "",
        f"- tool: mutmut {version('mutmut')}, over pathway/ and states/ (pathway/described.py excluded: generated)",
        f"- commit: {commit or 'unknown'}",
        f"- mutants: {total}; killed {counts['killed']}, timeout {counts['timeout']}, "
        f"survived {counts['survived']}, no tests {counts['no tests']}, skipped {skipped}"
        + "".join(f", {k} {v}" for k, v in sorted(counts.items())
                  if k not in ("killed", "timeout", "survived", "no tests", "skipped")),
        f"- score: **{score:.1f}%** (killed + timeout over all mutants not skipped; required: {MIN_SCORE:g}%)",
        f"- wall time: {args.seconds / 60:.1f} min on {os.cpu_count()} cores" if args.seconds else "- wall time: not given",
        f"- survivors argued in docs/SAFETY.md: {len(alive) - unargued} of {len(alive)}",
        "",
        "## Survivors by module",
        "",
        "| module | survivors |",
        "| --- | ---: |",
        *[f"| {m} | {n} |" for m, n in sorted(by_module.items())],
        "",
        "## Survivors",
        "",
        "| mutant | status | change | in SAFETY.md |",
        "| --- | --- | --- | --- |",
        *rows,
        "",
    ]
    REPORT.write_text("\n".join(lines))
    print(f"mutation score {score:.1f}% ({killed} of {total - skipped} killed), {len(alive)} survivors, "
          f"{unargued} not argued; report: {REPORT.relative_to(ROOT)}")
    return 0 if score >= MIN_SCORE and unargued == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
