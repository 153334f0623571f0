"""`crs pathway`: the pathway itself, as pathway/describe.py generates it from the code.

It prints the frozen copy pathway/described.py: the library way of "generating at build time"
already (`make pathway-doc` writes it from states/ and pathway/; tests/unit/test_describe.py fails
while it is stale). Kept, measured 2026-12-02 (issue 13: 20 interleaved runs, CPU of the child):
`crs pathway` 108 / 151 ms min / median from the frozen copy, 307 / 363 ms generating it live
(pydantic, transitions and the policy load: ~2.8x); the same for --format json and mermaid.
The tables are drawn by cli/render.py `text_table`, not rich's Table: with rich 238 / 291 ms, with
text_table 125 / 159 ms (importing rich alone costs more than the goal, 1.5x `import typer`, leaves).
Needs no database and no pydantic (tests/cli/test_startup_imports.py checks sys.modules).
"""

import textwrap
from enum import StrEnum
from typing import Annotated, Any

import typer

from cli.context import settings
from cli.options import JsonFlag
from cli.render import bold, output_width, text_table, write_json, write_text


class PathwayFormat(StrEnum):
    TABLE = "table"
    MERMAID = "mermaid"
    JSON = "json"


def pathway(
    ctx: typer.Context,
    format: Annotated[PathwayFormat, typer.Option(
        "--format", metavar="table|mermaid|json",
        help="Tables for a person, a mermaid state diagram, or JSON.")] = PathwayFormat.TABLE,
    json_out: JsonFlag = False,
) -> None:
    """States, transitions, guards, rules with their IDs, limits and citations."""
    from pathway.described import DOCUMENT, MERMAID, TRANSITIONS

    config = settings(ctx, json_out)
    if format is PathwayFormat.MERMAID:
        if config.json:
            write_json({"format": "mermaid", "mermaid": MERMAID})
        else:
            write_text(MERMAID if MERMAID.endswith("\n") else MERMAID + "\n")
        return
    if format is PathwayFormat.JSON or config.json:
        write_json(DOCUMENT)
        return
    write_text(_tables(DOCUMENT, TRANSITIONS, output_width()))


def _tables(described: dict[str, Any], transitions: list[dict[str, Any]], width: int) -> str:
    """The states in order, then transitions, rules and hard limits as tables, then the sources."""
    states = [state["name"] for state in described.get("states", [])]
    parts = [bold(line) for line in textwrap.wrap("States: " + " → ".join(states), width, break_long_words=False,
                                                  break_on_hyphens=False, subsequent_indent="        ")]
    for title, rows in (("Transitions (every step also checks the step rules)", transitions),
                        ("Timers (clinical time only; a deadline shows as overdue once past)", _timer_rows(described)),
                        ("Recommendations by state (most urgent first; alternatives are one step)",
                         _recommend_rows(described)),
                        ("Supportive care in every open state (shown until recorded)",
                         [_recommend_row(r) for r in described.get("supportive_care", [])]),
                        ("Rules", described.get("rules")),
                        ("Hard limits (no policy or override passes them)", _limit_rows(described.get("hard_limits"))),
                        ("Policy (a site may change these, within the hard limits)",
                         [{"parameter": k, "value": v} for k, v in (described.get("policy") or {}).items()])):
        if not rows:
            continue
        columns = list(dict.fromkeys(key for row in rows for key in row))
        parts += ["", bold(title),
                  text_table(columns, [[_cell(row.get(column)) for column in columns] for row in rows], width)]
    sources = described.get("sources")
    if sources:
        parts += ["", bold("Sources:")]
        items = sources.items() if isinstance(sources, dict) else enumerate(sources)
        parts += [textwrap.fill(f"{key}: {_cell(text)}", width, initial_indent="  ", subsequent_indent="      ")
                  for key, text in items]
    return "\n".join(parts) + "\n"


def _timer_rows(described: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for state in described.get("states", []):
        for g in state.get("timed_guards", []):
            hours = g.get("hours")
            rows.append({"state": state["name"], "timer": g["name"], "from": g["starts_at"].replace("_", " "),
                         "hours": hours if hours is not None else "4 (CRS ≥ 2), 8 (ICANS ≥ 1), else 12",
                         "what": g["what"] + (" (deadline)" if g.get("deadline") else "")})
    return rows


def _recommend_row(rec: dict[str, Any]) -> dict[str, Any]:
    if rec.get("kind") == "give":
        what = " or ".join([rec["regimen"], *rec.get("alternatives", [])])
    else:
        what = f"{rec['kind']} {rec.get('action')}"
    return {"id": rec["id"], "when": rec["when"], "step": what, "sources": rec.get("citations")}


def _recommend_rows(described: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"state": state["name"], **_recommend_row(rec)}
            for state in described.get("states", [])
            for rec in sorted(state.get("recommends", []), key=lambda r: r.get("priority", 50))]


def _limit_rows(limits: Any) -> list[dict[str, Any]]:
    if isinstance(limits, dict):
        return [{"limit": key, "value": value} for key, value in limits.items()]
    return list(limits or [])


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, (list, tuple)):
        return ", ".join(_cell(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_cell(v)}" for k, v in value.items())
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
