"""`crs pathway`: what it prints is what pathway/describe.py generates from the code, readable at any width."""

import json
import os
import subprocess
import sys

import pytest

from pathway.describe import describe, mermaid
from pathway.policy import HARD_LIMITS
from pathway.rules import RULES
from pathway.sources import SOURCES
from states import PATHWAY
from tests.cli.conftest import installed_crs


def test_json_is_the_generated_document(crs) -> None:  # type: ignore[no-untyped-def]
    assert crs("pathway", "--format", "json").json == json.loads(json.dumps(describe(), default=str))


def test_mermaid_is_the_generated_drawing(crs) -> None:  # type: ignore[no-untyped-def]
    assert crs("pathway", "--format", "mermaid").stdout.rstrip("\n") == mermaid().rstrip("\n")


@pytest.mark.parametrize("columns", [100, 160])
def test_the_table_names_everything_and_fits_the_width(crs, columns: int) -> None:  # type: ignore[no-untyped-def]
    table = crs("pathway", env={"COLUMNS": str(columns)})
    assert table.code == 0 and table.stderr == ""
    text = table.stdout
    for state in PATHWAY:
        assert state.value in text
    for name in [*RULES, *HARD_LIMITS.__dataclass_fields__, *SOURCES]:
        assert name in text, name
    for edge in {edge.trigger for spec in PATHWAY.values() for edge in spec.edges}:
        assert edge in text, edge
    assert max(len(line) for line in text.splitlines()) <= columns
    assert "─" in text and "│" in text  # boxed tables on a UTF-8 output


def _table_rows(text: str, title: str) -> list[list[str]]:
    """The rows of one boxed table, each cell's wrapped lines joined again with spaces."""
    block = text.split("\n" + title + "\n", 1)[1].split("\n\n", 1)[0]
    rows: list[list[list[str]]] = []
    for line in block.splitlines()[3:-1]:  # below the header rule, above the bottom rule
        cells = [cell.strip() for cell in line.split("│")[1:-1]]
        if cells[0]:
            rows.append([[] for _ in cells])
        for parts, cell in zip(rows[-1], cells):
            if cell:
                parts.append(cell)
    return [[" ".join(parts) for parts in row] for row in rows]


def test_wrapped_cells_read_back_word_for_word(crs) -> None:  # type: ignore[no-untyped-def]
    """At 100 columns the rule sentences wrap; joined again, each is its rule's sentence exactly."""
    rows = _table_rows(crs("pathway", env={"COLUMNS": "100"}).stdout, "Rules")
    assert [(row[0], row[2]) for row in rows] == [(rule.id, rule.sentence) for rule in RULES.values()]


def test_a_non_utf8_output_gets_plain_borders_not_an_error() -> None:
    env = {**os.environ, "PYTHONIOENCODING": "ascii", "NO_COLOR": "1"}
    done = subprocess.run([*installed_crs(), "pathway"], capture_output=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    text = done.stdout.decode("ascii")
    assert "+---" in text and "| TOCI_MIN_INTERVAL" in text
