"""Write the tamper matrix into docs/trusted-record.md: every forgery of tests/support/forgeries.py and
which check catches it (plain `audit verify`, verify with a signed checkpoint, the step-time snapshot check).

The table is generated from the same registry the tests run (tests/persistence/test_checkpoint.py
`test_each_forgery_after_a_checkpoint` asserts each row on SQLite and PostgreSQL), so the document cannot
claim what the tests do not show; tests/persistence/test_tamper_matrix.py fails when it is stale.

    .venv/bin/python scripts/tamper_matrix.py          # rewrite the table
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "trusted-record.md"
START, END = "<!-- tamper-matrix -->", "<!-- /tamper-matrix -->"


def _first_sentence(doc: str | None) -> str:
    flat = " ".join((doc or "").split())
    match = re.match(r"(.+?[^.]\.)(\s|$)", flat)  # a full stop, not an ellipsis
    return (match.group(1) if match else flat).rstrip(".").replace("|", "\\|")


def matrix() -> str:
    """The Markdown table, one row per forgery, in name order."""
    sys.path.insert(0, str(ROOT))
    from tests.support.forgeries import FORGERIES

    rows = ["| forgery | what it forges | plain verify | verify with a checkpoint | step-time check |",
            "| --- | --- | :-: | :-: | :-: |"]
    for name, forge in sorted(FORGERIES.items()):
        plain = "caught" if forge.caught_by_plain else "passes"  # type: ignore[attr-defined]
        step = "refused" if forge.caught_at_step else "—"  # type: ignore[attr-defined]
        rows.append(f"| `{name}` | {_first_sentence(forge.__doc__)} | {plain} | caught | {step} |")
    return "\n".join(rows)


def with_matrix(text: str) -> str:
    """The document's text with the table between the markers replaced (markers added if only START is there)."""
    block = f"{START}\n\n{matrix()}\n\n{END}"
    if END in text:
        return re.sub(re.escape(START) + r".*?" + re.escape(END), lambda _: block, text, flags=re.S)
    return text.replace(START, block)


if __name__ == "__main__":
    DOC.write_text(with_matrix(DOC.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"wrote the tamper matrix to {DOC.relative_to(ROOT)}")
