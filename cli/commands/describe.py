"""`crs pathway`: the pathway itself, drawn from the machine so it cannot drift from the code.

Needs no database: nothing here may import persistence (a test checks sys.modules).
"""

import sys
from enum import StrEnum
from typing import Annotated, Any

import typer

from cli.context import settings
from cli.options import JsonFlag
from cli.render import console, write_json


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
    from pathway import describe

    config = settings(ctx, json_out)
    if format is PathwayFormat.MERMAID:
        drawing = describe.mermaid()
        if config.json:
            write_json({"format": "mermaid", "mermaid": drawing})
        else:
            sys.stdout.write(drawing if drawing.endswith("\n") else drawing + "\n")
        return
    described = describe.describe()
    if format is PathwayFormat.JSON or config.json:
        write_json(described)
        return
    _tables(described, describe.table_rows())


def _tables(described: dict[str, Any], transitions: list[dict[str, Any]]) -> None:
    from rich.table import Table
    from rich.text import Text

    out = console()
    states = [state["name"] for state in described.get("states", [])]
    out.print(Text("States: " + " → ".join(states), style="bold"))
    for title, rows in (("Transitions (every step also checks the step rules)", transitions),
                        ("Rules", described.get("rules")),
                        ("Hard limits (no policy or override passes them)", _limit_rows(described.get("hard_limits")))):
        if not rows:
            continue
        table = Table(title=title, title_justify="left")
        columns = list(dict.fromkeys(key for row in rows for key in row))
        for column in columns:
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*(Text(_cell(row.get(column))) for column in columns))
        out.print(table)
    sources = described.get("sources")
    if sources:
        out.print(Text("Sources:", style="bold"))
        items = sources.items() if isinstance(sources, dict) else enumerate(sources)
        for key, text in items:
            out.print(Text(f"  {key}: {_cell(text)}"))


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
