"""`python -m bench.compare BEFORE.json [MORE.json ...] AFTER.json`: a markdown table of two runs.

Rows are matched by benchmark and measure name; several BEFORE files are merged (the first file
that has a measure wins), so a re-run of one benchmark can complete an earlier run.
"""

import json
import sys
from pathlib import Path
from typing import Any

from bench.core import fmt


def rows(paths: list[str]) -> dict[tuple[str, str], dict[str, Any]]:
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for path in paths:
        for row in json.loads(Path(path).read_text())["rows"]:
            merged.setdefault((row["bench"], row["name"]), row)
    return merged


def table(before: dict[tuple[str, str], dict[str, Any]], after: dict[tuple[str, str], dict[str, Any]]) -> str:
    out = ["| benchmark | measure | before | before ratio | after | after ratio | goal | status after |",
           "|---|---|---|---|---|---|---|---|"]
    for key, new in after.items():
        old = before.get(key)

        def ratio(row: dict[str, Any] | None) -> str:
            return "-" if row is None or row["ratio"] is None else f"{row['ratio']:.2f}x"

        out.append(f"| {key[0]} | {key[1]} | {fmt(old['figure'], old['unit']) if old else '-'} | {ratio(old)} "
                   f"| {fmt(new['figure'], new['unit'])} | {ratio(new)} | {new['goal'] or '-'} | {new['status']} |")
    return "\n".join(out)


def main(argv: list[str]) -> None:
    if len(argv) < 2:
        raise SystemExit(__doc__)
    print(table(rows(argv[:-1]), rows(argv[-1:])))


if __name__ == "__main__":
    main(sys.argv[1:])
