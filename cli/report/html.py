"""The QA report as one self-contained HTML file: inline CSS, inline SVG, no scripts, no network.

Every value from the record passes through `escape` (html.escape, quotes too, after cli.text.visible
shows control and bidi characters as escapes, HAZARDS H22), so a note can never become markup nor
reorder or rewrite what is shown, in a browser or printed to a terminal. A grade
not assessed reads "not assessed" with what was missing (cli/text.py), never a dash or 0. A
superseded or voided entry stays in the timeline, struck (<del>), naming the event that replaced it.
"""

from html import escape as _html_escape
from typing import Any

from cli.report.corrections import is_struck, override_text, standing_text, target_text
from cli.report.data import inputs_and_note
from cli.report.svg import timeline_svg
from cli.text import as_text, grade_value, missing_by_domain, summary_value, visible, who

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:1100px;
color:#1f2933;padding:0 1rem}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #d2d6dc}
table{border-collapse:collapse;width:100%;margin:.5rem 0}th,td{border:1px solid #d2d6dc;padding:.3rem .45rem;
text-align:left;vertical-align:top}th{background:#f3f4f6}tr.deviation td{background:#fff7e6}
.ok{color:#166534;font-weight:600}.na{color:#92400e;font-style:italic}
.bad{color:#b91c1c;font-weight:700}.muted{color:#6b7280}
.pill{display:inline-block;padding:0 .5rem;border-radius:.6rem;background:#eef2ff}
svg .bg{fill:#fff}svg .grid{stroke:#e5e7eb;stroke-width:1}svg .tick{font-size:11px;fill:#4b5563}
svg .axis{font-size:12px;fill:#374151}svg .mark{font-size:11px;font-weight:700;fill:#1f2933}
tr.struck td{color:#6b7280}tr.struck del{text-decoration-thickness:2px}tr.late td{background:#eef6ff}
footer{margin-top:2rem;font-style:italic;color:#6b7280}
"""

STATUS_CLASS = {"met": "ok", "done": "ok", "missed": "bad", "missing": "bad"}


def escape(text: str) -> str:
    """Record text as HTML text: nothing hidden (control, bidi), nothing markup."""
    return _html_escape(visible(text))


def _text(value: Any) -> str:
    return '<span class="muted">—</span>' if value is None else escape(as_text(value))


def _grade(value: Any) -> str:
    """A grade cell; not assessed is marked (class na) so it never reads as a normal value."""
    return f'<span class="na">{escape(grade_value(value))}</span>' if value is None else escape(grade_value(value))


def _status(value: str) -> str:
    return f'<span class="{STATUS_CLASS.get(value, "")}">{escape(value)}</span>'


def _table(headers: list[str], rows: list[list[str]], classes: list[str] | None = None) -> str:
    if not rows:
        return '<p class="muted">None.</p>'
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = []
    for index, row in enumerate(rows):
        css = f' class="{classes[index]}"' if classes and classes[index] else ""
        body.append(f"<tr{css}>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _row_class(row: dict[str, Any]) -> str:
    """A timeline row's classes: deviation (amber), late entry (blue), struck (no longer stands)."""
    return " ".join(name for name, on in (("deviation", row["deviation"]), ("late", row.get("late")),
                                          ("struck", is_struck(row))) if on)


def render_html(data: dict[str, Any]) -> str:
    policy = data["policy"]
    summary = _table(["measure", "value"], [[escape(k.replace("_", " ")), _text(summary_value(k, v))]
                                            for k, v in data["summary"].items()])
    timeline = _table(
        ["seq", "clinical time", "record time", "actor", "kind", "state", "what", "stands"],
        [[_text(r["seq"]), _text(r["at"]), _text(r["recorded_at"]), _text(who(r["actor"], r.get("login"))),
          _text(r["kind"]),
          _text(f"{r['from_state'] or '∅'} → {r['to_state']}"),
          f"<del>{_text(r['summary'])}</del>" if is_struck(r) else _text(r["summary"]), _text(standing_text(r))]
         for r in data["timeline"]],
        [_row_class(r) for r in data["timeline"]])
    corrections = _table(
        ["seq", "kind", "target", "clinical time", "record time", "actor", "reason", "before → after", "override"],
        [[_text(r["seq"]), _text(r["kind"]), _text(target_text(r)), _text(r["at"]), _text(r["recorded_at"]),
          _text(r["actor"]), _text(r["reason"]), _text(r["before_after"]), _text(override_text(r))]
         for r in data["corrections"]]) if data["corrections"] else \
        '<p class="muted">none — no correction, void or late entry is on record.</p>'

    grades = _table(
        ["seq", "time", "CRS", "ICANS", "fever", "CRS decided by", "ICANS decided by", "missing", "inputs"],
        [[_text(g["seq"]), _text(g["at"]), _grade(g["crs_grade"]), _grade(g["icans_grade"]), _text(g["fever"]),
          _text(g["crs_decided_by"]), _text(g["icans_decided_by"]),
          _text(missing_by_domain(g.get("crs_missing", []), g.get("icans_missing", []))), _text(inputs_and_note(g))]
         for g in data["grades"]])
    doses = _table(
        ["seq", "time", "drug", "dose mg", "limit mg", "% of limit", "24 h total / limit mg", "within limits",
         "limit basis"],
        [[_text(d["seq"]), _text(d["at"]), _text(d["drug"]), _text(d["dose_mg"]), _text(d["limit_mg"]),
          _text(d["percent_of_limit"]), f"{_text(d['total_24h_mg'])} / {_text(d['limit_24h_mg'])}",
          _status("met" if d["within_limits"] else "missed") if d["within_limits"] is not None else _text(None),
          _text(d["limit_basis"])] for d in data["doses"]],
        ["deviation" if d["deviation"] else "" for d in data["doses"]])
    guards = _table(
        ["guard", "from", "to", "hours", "target", "status", "detail"],
        [[_text(g["guard"]), _text(g["from"]), _text(g["to"]), _text(g["hours"]), _text(g["target"]),
          _status(g["status"]), _text(g["detail"])] for g in data["timed_guards"]])
    deviations = _table(
        ["seq", "time", "step", "rules passed", "reason", "actor"],
        [[_text(d["seq"]), _text(d["at"]), _text(d["what"]), _text(d["rules"]), _text(d["reason"]),
          _text(d["actor"])] for d in data["deviations"]])
    refusals = _table(
        ["clinical time", "record time", "actor", "tried", "rules", "breaks seq", "message"],
        [[_text(r["at"]), _text(r["recorded_at"]), _text(who(r["actor"], r.get("login"))), _text(r["tried"]),
          _text(r["rules"]),
          _text(r.get("breaks_seq")), _text(r["message"])] for r in data["refusals"]])
    actions = _table(
        ["action", "required because", "since", "done at", "status"],
        [[_text(a["action"]), _text(a["required_because"]), _text(a["required_since"]), _text(a["done_at"]),
          _status(a["status"])] for a in data["supportive_actions"]])
    closing = "".join(f"; {label} {escape(str(data[key]))}" for key, label in
                      (("resolved_at", "resolved"), ("closed_at", "closed")) if data.get(key))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>QA report — episode {escape(data['episode'])}</title>
<style>{CSS}</style></head>
<body>
<h1>QA report — episode {escape(data['episode'])}</h1>
<p>Patient <span class="pill">{escape(data['patient'])}</span> · {_text(data['weight_kg'])} kg ·
{_text(data['age_years'])} years · policy {escape(policy['name'])} v{escape(policy['version'])} ·
state <strong>{escape(data['state'])}</strong></p>
<p class="muted">Opened {escape(data['opened_at'])}; last event {escape(data['last_event_at'])}{closing}.
{data['events']} events; last hash <code>{_text(data['last_hash'])}</code>.</p>
<h2>Summary</h2>{summary}
<h2>Grades and doses over time</h2>
{timeline_svg(data)}
<h2>Timeline</h2><p class="muted">Clinical time is when it happened; record time is when it was written.
Rows shaded amber are deviations, blue late entries; struck entries were superseded or voided and stay on
record.</p>{timeline}
<h2>Corrections</h2><p class="muted">Each correction, void and late entry, in the order recorded.</p>{corrections}
<h2>Grades</h2>{grades}
<h2>Doses against their limits</h2>{doses}
<h2>Timed guards</h2>{guards}
<h2>Deviations</h2>{deviations}
<h2>Refused attempts</h2>{refusals}
<h2>Required supportive actions (clinical basis §6, §8, §9)</h2>{actions}
<footer>{escape(data['disclaimer'])}</footer>
</body></html>
"""
