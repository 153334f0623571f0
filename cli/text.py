"""One plain-text form for any value shown to a person (terminal, Markdown and HTML reports).

Grades get their own words: a grade that was not assessed (None, CONTRACT v2) is always shown as
"not assessed" — never "None", never a dash that reads as "nothing wrong", never 0.
"""

from collections.abc import Iterable
from typing import Any

NOT_ASSESSED = "not assessed"

#: The inputs a grade can be missing (pathway.grading `missing`), in a person's words; a test checks
#: these are exactly the names the core uses (pathway.recommend.MISSING_TEXT), so none shows raw.
MISSING_WORDS: dict[str, str] = {
    "temp_c": "temperature",
    "o2_device": "oxygen support",
    "ice_score": "ICE score",
    "capd_score": "CAPD",
    "consciousness": "level of consciousness",
}


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
