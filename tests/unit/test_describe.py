"""The frozen pathway that `crs pathway` prints (pathway/described.py) is exactly what the code generates."""

import json

from pathway import described
from pathway.describe import REGENERATE, describe, generated_module, mermaid, table_rows

STALE = f"pathway/described.py is stale: the pathway changed in the code. Regenerate it: {REGENERATE}"


def test_the_frozen_document_is_what_describe_generates() -> None:
    # compared as the JSON `crs pathway --format json` prints, so key order and types count too
    assert json.dumps(described.DOCUMENT) == json.dumps(describe(), default=str), STALE


def test_the_frozen_table_rows_and_drawing_are_what_the_code_generates() -> None:
    assert described.TRANSITIONS == table_rows(), STALE
    assert described.MERMAID == mermaid(), STALE


def test_the_frozen_module_is_exactly_the_generated_text() -> None:
    """Catches hand edits too (and a generator whose formatting changed)."""
    from cli.pathway_doc import TARGET

    assert TARGET.read_text(encoding="utf-8") == generated_module(), STALE


def test_the_document_is_plain_json_data() -> None:
    """Lists, dicts, strings, numbers, booleans and None only: what json.loads gives back."""
    assert json.loads(json.dumps(described.DOCUMENT)) == described.DOCUMENT
