"""The report's view of corrections, voids and late entries: what stands, and what changed. Pure.

QA must see both the record as written and the record as it stands (CLINICAL §10): every other
section of the report judges the *effective* history (pathway.history: superseded and voided
entries out, corrected values in, late entries at their clinical time, all re-decided by the
pathway's own rules), while the timeline keeps every stored event and marks what replaced what.
The effective history is re-derived here from the stored events, never taken from the snapshot,
so the report says what the record itself makes stand.
"""

from dataclasses import dataclass, field
from typing import Any, Sequence

from cli.text import as_text
from pathway.events import Event
from pathway.history import Change, changes, is_change
from pathway.history import effective_history

#: What is shown for an input that one side of a change did not record.
NOT_RECORDED = "not recorded"


@dataclass(frozen=True)
class Effective:
    """The history that stands, and the bookkeeping the timeline marks.

    `events` are the open event then every standing entry in clinical-time order, re-decided; an
    entry's `seq` is the stored event whose values stand (for a corrected entry: its correction),
    `places` maps it to the seq of the entry it stands for (the original's place in time)."""

    events: list[Event]
    places: dict[int, int] = field(default_factory=dict)
    superseded_by: dict[int, int] = field(default_factory=dict)
    voided_by: dict[int, int] = field(default_factory=dict)
    late: frozenset[int] = frozenset()


def effective(events: Sequence[Event]) -> Effective:
    """The effective history of stored events; without any change event, the events themselves.

    A history that no longer re-decides (a forged or broken record) is an integrity failure (exit 5),
    as everywhere else (pathway.history.episode_of): a report must not present it as standing."""
    if not events or not any(is_change(e) for e in events):
        return Effective(list(events), {e.seq: e.seq for e in events})
    history, redecided = effective_history(events)
    places = {history.opening.seq: history.opening.seq}
    places.update({event.seq: entry.place for entry, event in zip(history.entries, redecided.events)})
    late = frozenset(e.seq for e in events if e.kind not in ("correct", "void") and e.data.get("late") is True)
    return Effective([history.opening, *redecided.events], places, dict(history.superseded_by),
                     dict(history.voided_by), late)


def _inputs(values: dict[str, Any] | None) -> str:
    return ", ".join(f"{k} {as_text(v)}" for k, v in sorted((values or {}).items())) or NOT_RECORDED


def before_after(change: Change) -> str:
    """The change in a person's words: `dose_mg 56 → 560` for a correction (only what differs; an input
    removed reads `→ not recorded`), `<inputs> → voided` for a void, `not recorded → <inputs>` for a
    late entry (nothing stood at that time before it)."""
    if change.kind == "void":
        return f"{_inputs(change.before)} → voided"
    if change.kind == "late":
        return f"{NOT_RECORDED} → {_inputs(change.after)}"
    before, after = change.before or {}, change.after or {}
    parts = [f"{name} {as_text(before[name]) if name in before else NOT_RECORDED} → "
             f"{as_text(after[name]) if name in after else NOT_RECORDED}"
             for name in sorted(set(before) | set(after)) if before.get(name) != after.get(name)
             or (name in before) != (name in after)]
    return "; ".join(parts) or "no input changed"


def override_text(row: dict[str, Any]) -> str | None:
    """`<reason> (<actor>): passed #7 TOCI_MAX_DOSES; #9 ...`, or None when no override was needed."""
    override = row.get("override")
    if not override:
        return None
    passed = "; ".join(f"#{seq} {', '.join(rules)}" for seq, rules in sorted(
        row.get("overrides", {}).items(), key=lambda item: int(item[0])))
    return f"{override['reason']} ({override['actor']})" + (f": passed {passed}" if passed else "")


def correction_rows(events: Sequence[Event]) -> list[dict[str, Any]]:
    """Every correction, void and late entry, in the order recorded: who, when, why, before -> after,
    and the override with the recorded events it passed (`overrides`: seq -> rules)."""
    rows = []
    for change in changes(events):
        row = change.as_json()
        row["before_after"] = before_after(change)
        rows.append(row)
    return rows


def counts(rows: list[dict[str, Any]]) -> dict[str, int]:
    """The summary's figures: corrections, voids and late entries on record."""
    return {"corrections": sum(1 for r in rows if r["kind"] == "correct"),
            "voids": sum(1 for r in rows if r["kind"] == "void"),
            "late_entries": sum(1 for r in rows if r["kind"] == "late")}


def standing_text(row: dict[str, Any]) -> str:
    """One timeline row's place in what stands: `stands`, `superseded by #4`, `voided by #8`,
    `late entry`, `corrects #3`, `voids #6`."""
    if row.get("superseded_by") is not None:
        return f"superseded by #{row['superseded_by']}"
    if row.get("voided_by") is not None:
        return f"voided by #{row['voided_by']}"
    if row["kind"] == "correct":
        return f"corrects #{row['target_seq']}"
    if row["kind"] == "void":
        return f"voids #{row['target_seq']}"
    return "late entry" if row.get("late") else "stands"


def is_struck(row: dict[str, Any]) -> bool:
    """A timeline row whose values no longer stand (superseded or voided): shown struck, never hidden."""
    return row.get("superseded_by") is not None or row.get("voided_by") is not None


def target_text(row: dict[str, Any]) -> str:
    """What a change is about: `#3 (give)`, or `new give` for a late entry."""
    if row["target_seq"] is None:
        return f"new {row['target_kind']}"
    return f"#{row['target_seq']} ({row['target_kind']})"
