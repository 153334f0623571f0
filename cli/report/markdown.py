"""The QA report as Markdown: tables a reviewer can read in a terminal, a wiki or a pull request.

A grade not assessed reads "not assessed" with what was missing (cli/text.py), never a dash or 0.
A superseded or voided entry stays in the timeline, struck through, with the seq that replaced it.

Every value from the record goes through `md` (HAZARDS H22): a Markdown viewer renders HTML and
links, so a note like `<script>`, `<img onerror=...>` or `[x](javascript:...)` must arrive as text.
`md` shows control and bidi characters as escapes (cli.text.visible, also for a terminal), writes
`&`, `<`, `>` as entities and backslash-escapes what could start a link, an image, code, emphasis,
a strike or a table cell. A stored value never starts a line (it is always after a prefix or in a
table cell, and a newline is escaped), so it cannot make a heading, a quote or a list.
"""

import re
from typing import Any

from cli.report.corrections import is_struck, override_text, standing_text, target_text
from cli.report.data import inputs_and_note
from cli.text import as_text, grade_value, missing_by_domain, summary_value, visible, who

#: Backslash first (a stored backslash must not escape our escapes), then link, image, code, emphasis,
#: strike and table syntax.
_MD_PUNCTUATION = re.compile(r"[\\`*\[\]~|!]")
#: `(` right after a `]` (already escaped): `](` never stays together, so no link target survives.
_LINK_TARGET = re.compile(r"(?<=\])\(")
#: `_` opens or closes emphasis unless it stands between two letters or digits (`dose_mg`, `TOCI_MAX_DOSES`).
_EMPHASIS = re.compile(r"(?<![^\W_])_|_(?![^\W_])")
_PATIENT_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/-]*")  # what pathway.commands accepts: safe in a code span


class _Markdown(str):
    """Text that is Markdown already (its record parts escaped by `md`): a table cell takes it as it is."""


def md(value: Any) -> str:
    """A record value as Markdown text that renders exactly as the value, never as markup or a link."""
    text = visible(as_text(value)).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MD_PUNCTUATION.sub(lambda found: "\\" + found.group(0), text)
    return _EMPHASIS.sub(r"\\_", _LINK_TARGET.sub(r"\\(", text))


def _cell(value: Any) -> str:
    return value if isinstance(value, _Markdown) else md(value)


def _table(headers: list[str], rows: list[list[Any]]) -> list[str]:
    if not rows:
        return ["_None._", ""]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in rows]
    return lines + [""]


def render_markdown(data: dict[str, Any]) -> str:
    summary = data["summary"]
    policy = data["policy"]
    lines = [
        f"# QA report — episode {md(data['episode'])}",
        "",
        f"Patient {_patient(data['patient'])} · {data['weight_kg']:g} kg · {data['age_years']:g} years · "
        f"policy {md(policy['name'])} v{md(policy['version'])} · state **{md(data['state'])}**",
        "",
        f"Opened {md(data['opened_at'])}; last event {md(data['last_event_at'])}"
        + (f"; resolved {md(data['resolved_at'])}" if data.get("resolved_at") else "")
        + (f"; closed {md(data['closed_at'])}" if data.get("closed_at") else "") + ".",
        "",
        "## Summary",
        "",
    ]
    lines += _table(["measure", "value"], [[key.replace("_", " "), summary_value(key, value)]
                                           for key, value in summary.items()])
    lines += ["## Timeline", "", "Clinical time is when it happened; record time is when it was written. Every "
              "recorded event is listed; one superseded or voided is struck through and names the event that "
              "replaced it.", ""]
    lines += _table(["seq", "clinical time", "record time", "actor", "kind", "state", "what", "stands",
                     "deviation"],
                    [[r["seq"], r["at"], r["recorded_at"], who(r["actor"], r.get("login")), r["kind"],
                      f"{r['from_state'] or '∅'} → {r['to_state']}", _struck(r), standing_text(r), r["deviation"]]
                     for r in data["timeline"]])
    lines += _corrections(data["corrections"])
    lines += ["## Grades over time", ""]
    lines += _table(["seq", "time", "CRS", "ICANS", "fever", "CRS decided by", "ICANS decided by", "missing",
                     "inputs"],
                    [[g["seq"], g["at"], grade_value(g["crs_grade"]), grade_value(g["icans_grade"]), g["fever"],
                      g["crs_decided_by"], g["icans_decided_by"],
                      missing_by_domain(g.get("crs_missing", []), g.get("icans_missing", [])), inputs_and_note(g)]
                     for g in data["grades"]])
    lines += ["## Doses against their limits", ""]
    lines += _table(["seq", "time", "drug", "dose mg", "limit mg", "% of limit", "24 h total mg", "24 h limit mg",
                     "within limits", "deviation", "limit basis"],
                    [[d["seq"], d["at"], d["drug"], d["dose_mg"], d["limit_mg"], d["percent_of_limit"],
                      d["total_24h_mg"], d["limit_24h_mg"], d["within_limits"], d["deviation"], d["limit_basis"]]
                     for d in data["doses"]])
    lines += ["## Timed guards", ""]
    lines += _table(["guard", "from", "to", "hours", "target", "status", "detail"],
                    [[g["guard"], g["from"], g["to"], g["hours"], g["target"], g["status"].upper(), g["detail"]]
                     for g in data["timed_guards"]])
    lines += ["## Deviations", ""]
    lines += _table(["seq", "time", "step", "rules passed", "reason", "actor"],
                    [[d["seq"], d["at"], d["what"], d["rules"], d["reason"], d["actor"]] for d in data["deviations"]])
    lines += ["## Refused attempts", ""]
    lines += _table(["clinical time", "record time", "actor", "tried", "rules", "breaks seq", "message"],
                    [[r["at"], r["recorded_at"], who(r["actor"], r.get("login")), r["tried"], r["rules"],
                      r.get("breaks_seq"),
                      r["message"]] for r in data["refusals"]])
    lines += ["## Required supportive actions (clinical basis §6, §8, §9)", ""]
    lines += _table(["action", "required because", "since", "done at", "status"],
                    [[a["action"], a["required_because"], a["required_since"], a["done_at"], a["status"].upper()]
                     for a in data["supportive_actions"]])
    lines += ["---", "", f"_{md(data['disclaimer'])}_", ""]
    return "\n".join(lines)


def _patient(ref: Any) -> str:
    """The pseudonymous reference in a code span; anything else a record might hold, as escaped text."""
    text = str(ref)
    return f"`{text}`" if _PATIENT_REF.fullmatch(text) else md(text)


def _struck(row: dict[str, Any]) -> str:
    """The timeline's "what", struck through when it no longer stands (kept, never hidden)."""
    what = md(row["summary"])
    return _Markdown(f"~~{what}~~") if is_struck(row) and what else _Markdown(what)


def _corrections(rows: list[dict[str, Any]]) -> list[str]:
    """Who corrected, voided or entered late what, when and why, before → after, and which recorded
    events an override passed; "none" when the record has none."""
    lines = ["## Corrections", "", "Each correction, void and late entry, in the order recorded; the original "
             "entries stay on record (struck in the timeline).", ""]
    if not rows:
        return lines + ["_none — no correction, void or late entry is on record._", ""]
    return lines + _table(
        ["seq", "kind", "target", "clinical time", "record time", "actor", "reason", "before → after", "override"],
        [[r["seq"], r["kind"], target_text(r), r["at"], r["recorded_at"], r["actor"], r["reason"], r["before_after"],
          override_text(r)] for r in rows])

