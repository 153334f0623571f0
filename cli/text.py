"""One plain-text form for any value shown to a person (terminal, Markdown and HTML reports).

Grades get their own words: a grade that was not assessed (None, CONTRACT v2) is always shown as
"not assessed" — never "None", never a dash that reads as "nothing wrong", never 0.

Stored text is shown through `visible` (HAZARDS H22): a control character, ESC, a bidi override or
a line break in a record (written by hand or by an older version) is shown as its escape (`\\x1b`,
`\\u202e`, `\\n`), so it can never clear a screen, reorder a line or fake a new one.
"""

from collections.abc import Iterable
from typing import Any

NOT_ASSESSED = "not assessed"

#: Unicode categories never shown raw: controls (C0 and C1, ESC, DEL, newline), format characters
#: (bidi overrides and isolates, zero-width characters), surrogates, private use, unassigned, and the
#: line and paragraph separators. (cli/values.py refuses the first five in new input.)
HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})

#: The inputs a grade can be missing (pathway.grading `missing`), in a person's words; a test checks
#: these are exactly the names the core uses (pathway.recommend.MISSING_TEXT), so none shows raw.
MISSING_WORDS: dict[str, str] = {
    "temp_c": "temperature",
    "o2_device": "oxygen support",
    "ice_score": "ICE score",
    "capd_score": "CAPD",
    "consciousness": "level of consciousness",
}


def visible(text: str) -> str:
    """`text` with each character of HIDDEN_CATEGORIES written as its Python escape (`\\x1b`, `\\u202e`, `\\n`).

    One rule for the terminal, the reports and the error sentences, so none can be rewritten by a
    record; ordinary text (any script, emoji, spaces) is left as it is.
    """
    if text.isprintable():  # the common case; every hidden character is unprintable
        return text
    import unicodedata

    return "".join(ch.encode("unicode_escape").decode("ascii") if unicodedata.category(ch) in HIDDEN_CATEGORIES
                   else ch for ch in text)


def visible_json(dumped: str) -> str:
    """JSON text with each hidden character (which json.dumps leaves raw when not ensure_ascii: DEL, C1,
    bidi overrides) written as a JSON escape: the same JSON value, with nothing raw for a terminal."""
    if dumped.isascii() and "\x7f" not in dumped:
        return dumped
    import json
    import unicodedata

    # a raw newline is the layout of indented JSON (json.dumps escapes every control character inside strings)
    return "".join(json.dumps(ch)[1:-1] if ch != "\n" and unicodedata.category(ch) in HIDDEN_CATEGORIES else ch
                   for ch in dumped)


def visible_all(value: Any) -> Any:
    """A JSON-like payload with every string in it (keys too) passed through `visible`, for a human view."""
    if isinstance(value, str):
        return visible(value)
    if isinstance(value, dict):
        return {visible_all(k): visible_all(v) for k, v in value.items()}
    if isinstance(value, list):
        return [visible_all(v) for v in value]
    if isinstance(value, tuple):
        return tuple(visible_all(v) for v in value)
    return value


def as_text(value: Any) -> str:
    """None as a dash, booleans as yes/no, floats without trailing zeros, lists and dicts inline."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(as_text(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={as_text(v)}" for k, v in value.items())
    return str(value)


def grade_value(grade: Any) -> str:
    """A grade in a table cell: `3`, or `not assessed` for None."""
    return NOT_ASSESSED if grade is None else as_text(grade)


def grade_text(grade: Any) -> str:
    """A grade in a sentence: `grade 3`, or `not assessed` for None."""
    return NOT_ASSESSED if grade is None else f"grade {as_text(grade)}"


def missing_text(names: Iterable[Any]) -> str:
    """What an assessment lacks, e.g. `temperature, oxygen support` (unknown names shown as they are)."""
    return ", ".join(MISSING_WORDS.get(str(name), str(name)) for name in names)


def missing_by_domain(crs_missing: Iterable[Any], icans_missing: Iterable[Any]) -> str | None:
    """`CRS: temperature; ICANS: ICE score`, or None when both assessments are complete."""
    parts = [f"{name}: {missing_text(items)}" for name, items in (("CRS", list(crs_missing)),
                                                                  ("ICANS", list(icans_missing))) if items]
    return "; ".join(parts) or None


def summary_value(key: str, value: Any) -> Any:
    """A report summary figure for a person: a grade maximum with no assessed grade is "not assessed"."""
    return grade_value(value) if key.endswith("_grade") else value


def diff_text(before: dict[str, Any] | None, after: dict[str, Any] | None) -> str:
    """What a correction changed, input by input: `dose_mg 56 → 560; temp_c 38.6 → —` (— : not recorded)."""
    before, after = before or {}, after or {}
    parts = [f"{name} {as_text(before.get(name))} → {as_text(after.get(name))}"
             for name in sorted(set(before) | set(after)) if before.get(name) != after.get(name)]
    return "; ".join(parts) or "no input changed"


def change_text(change: dict[str, Any]) -> str:
    """One correction, void or late entry (pathway.history.Change.as_json) in a few words, e.g.
    `seq 3 (give) superseded by seq 5: dose_mg 56 → 560`."""
    kind, seq, target = change.get("kind"), change.get("seq"), change.get("target_seq")
    what = change.get("target_kind")
    if kind == "correct":
        return f"seq {target} ({what}) superseded by seq {seq}: {diff_text(change.get('before'), change.get('after'))}"
    if kind == "void":
        return f"seq {target} ({what}) voided by seq {seq}: entered in error"
    return f"seq {seq} ({what}) is a late entry: charted after the fact, at a clinical time before later events"


def who(actor: Any, login: Any) -> str:
    """Who acted, and who the system says wrote it when that is someone else: `nurse-a`, or
    `Dr House (login alice)`. The login is the authenticated identity (persistence/identity.py); a row
    from before crs kept one (login None) shows the actor alone."""
    if login is None or login == actor:
        return str(actor)
    return f"{actor} (login {login})"
