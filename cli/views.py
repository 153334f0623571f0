"""Human views of the JSON objects in cli/payloads.py: rich tables, colour where the terminal has it.

Every view takes the same dict the --json output prints, so the two can never disagree; user
text is printed as plain Text (never parsed as markup).
"""

import re
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from cli.text import as_text

GRADE_STYLE = {0: "green", 1: "yellow", 2: "dark_orange", 3: "red", 4: "bold red"}
_ISO = re.compile(r"(\d{4}-\d\d-\d\d)T(\d\d:\d\d)(:\d\d)?(\.\d+)?(Z|\+00:00)")


def _t(value: Any) -> str:
    """A UTC time for people: `2026-03-01 14:30:05Z` (JSON keeps full ISO 8601)."""
    return _ISO.sub(lambda m: f"{m.group(1)} {m.group(2)}{m.group(3) or ''}Z", str(value)) if value else "—"


def _grade(value: Any) -> Text:
    if value is None:
        return Text("not graded", style="dim")
    return Text(f"grade {value}", style=GRADE_STYLE.get(value, ""))


def opened(out: Console, payload: dict[str, Any]) -> None:
    policy = payload.get("policy") or {}
    out.print(Text.assemble(("Opened episode ", ""), (str(payload["episode"]), "bold cyan"),
                            f" for patient {payload.get('patient')} in state {payload.get('state')} "
                            f"(policy {policy.get('name')} v{policy.get('version')}, at {_t(payload.get('opened_at'))})."))
    out.print(f"Next: crs observe {payload['episode']} --temp C --o2 DEVICE ...", style="dim")


def observed(out: Console, payload: dict[str, Any]) -> None:
    seen = payload.get("observation") or {}
    out.print(Text.assemble(("Recorded ", ""), (f"#{seen.get('seq')} observe", "bold"),
                            f" at {_t(seen.get('at'))} on {payload.get('episode')}: CRS ",
                            _grade(seen.get("crs_grade")), ", ICANS ", _grade(seen.get("icans_grade")), "."))
    out.print()
    status(out, payload)


def stepped(out: Console, payload: dict[str, Any]) -> None:
    event = payload.get("event") or {}
    data = event.get("data") or {}
    what = {
        "give": lambda: f"{data.get('drug')} {as_text(data.get('dose_mg'))} mg {data.get('route', '')}".rstrip(),
        "act": lambda: str(data.get("action")),
        "close": lambda: f"closed{': ' + str(data['reason']) if data.get('reason') else ''}",
    }.get(str(payload.get("kind")), lambda: str(payload.get("kind")))()
    move = f"{payload.get('from_state')} → {payload.get('state')}"
    out.print(Text.assemble(("Recorded ", ""), (f"#{payload.get('seq')} {payload.get('kind')}", "bold"),
                            f" {what} at {_t(payload.get('at'))} on {payload.get('episode')} ({move})."))
    deviation = payload.get("deviation")
    if deviation:
        out.print(Text(f"Deviation: {as_text(deviation.get('rules') or deviation.get('rule'))} passed by "
                       f"{deviation.get('actor')}: {deviation.get('reason')}", style="yellow"))
    if payload.get("status"):
        out.print()
        status(out, payload["status"])


def status(out: Console, payload: dict[str, Any]) -> None:
    policy = payload.get("policy") or {}
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    head.add_row("Episode", Text(f"{payload.get('episode')}  (patient {payload.get('patient')})"))
    head.add_row("State", Text(str(payload.get("state")), style="bold cyan"))
    head.add_row("CRS", Text.assemble(_grade(payload.get("crs_grade")), _basis_note(payload, "crs")))
    head.add_row("ICANS", Text.assemble(_grade(payload.get("icans_grade")), _basis_note(payload, "icans")))
    basis = payload.get("basis") or {}
    if basis:
        head.add_row("Observed", Text(f"{_t(basis.get('observed_at'))}  {as_text(basis.get('inputs'))}"))
    head.add_row("Tocilizumab", Text(f"{payload.get('tocilizumab_doses', 0)} dose(s); "
                                     f"deviations on record: {payload.get('deviations', 0)}"))
    head.add_row("Policy", Text(f"{policy.get('name')} v{policy.get('version')}"))
    if payload.get("as_of"):
        head.add_row("As of", Text(_t(payload["as_of"])))
    out.print(head)
    steps = payload.get("next_steps") or []
    if steps:
        table = Table(title="Next steps (most urgent first)", title_justify="left", show_lines=False)
        for column in ("#", "step", "why", "rule", "sources"):
            table.add_column(column, overflow="fold")
        for number, item in enumerate(steps, 1):
            table.add_row(str(number), Text(_step_text(item), style="bold"), Text(str(item.get("why", ""))),
                          Text(str(item.get("rule") or "")), Text(as_text(item.get("citations") or [])))
        out.print(table)
    due = payload.get("due") or []
    if due:
        table = Table(title="Due", title_justify="left")
        table.add_column("when", no_wrap=True)
        table.add_column("what", overflow="fold")
        for item in due:
            table.add_row(Text(_t(item.get("at"))), Text(str(item.get("what"))))
        out.print(table)
    for warning in payload.get("warnings") or []:
        out.print(Text(f"warning: {warning}", style="yellow"))
    if payload.get("disclaimer"):
        out.print(Text(str(payload["disclaimer"]), style="dim italic"))


def _basis_note(payload: dict[str, Any], which: str) -> Text:
    basis = payload.get(f"{which}_basis") or (payload.get("basis") or {}).get(which) or {}
    decided = basis.get("decided_by") if isinstance(basis, dict) else None
    return Text(f"  (decided by {as_text(decided)})" if decided else "", style="dim")


def _step_text(item: dict[str, Any]) -> str:
    kind = item.get("kind")
    if kind == "give":
        text = f"give {item.get('drug')}"
        if item.get("dose_mg") is not None:
            text += f" {as_text(item['dose_mg'])} mg"
        if item.get("route"):
            text += f" {item['route']}"
        if item.get("every_hours"):
            text += f" every {as_text(item['every_hours'])} h"
        if item.get("schedule"):
            text += ": " + "; then ".join(str(part) for part in item["schedule"])
        return text
    if kind == "act":
        return f"act {item.get('action')}"
    if kind == "reassess":
        return f"reassess by {_t(item.get('at'))}"
    return as_text({k: v for k, v in item.items() if k not in ("why", "citations", "rule")})


def history(out: Console, payload: dict[str, Any]) -> None:
    table = Table(title=f"History of {payload.get('episode')}", title_justify="left")
    for column in ("seq", "at (clinical)", "recorded", "actor", "kind", "state", "details", "hash"):
        table.add_column(column, overflow="fold", no_wrap=column in ("seq", "at (clinical)", "recorded", "hash"))
    for event in payload.get("events", []):
        data = dict(event.get("data") or {})
        details = _event_details(event.get("kind"), data)
        if event.get("override"):
            details += f" | DEVIATION {as_text(event['override'].get('rules') or event['override'].get('rule'))}: " \
                       f"{event['override'].get('reason')}"
        move = f"{event.get('from_state') or '∅'} → {event.get('to_state')}"
        table.add_row(str(event.get("seq")), Text(_t(event.get("at"))), Text(_t(event.get("recorded_at"))),
                      Text(str(event.get("actor"))), Text(str(event.get("kind"))), Text(move), Text(details),
                      Text(str(event.get("hash", ""))[:12]))
    out.print(table)


def _event_details(kind: Any, data: dict[str, Any]) -> str:
    if kind == "observe":
        return f"CRS {data.get('crs_grade')}, ICANS {data.get('icans_grade')}; {as_text(data.get('observation'))}"
    if kind == "give":
        return f"{data.get('drug')} {as_text(data.get('dose_mg'))} mg {data.get('route', '')}".rstrip()
    if kind == "act":
        return f"{data.get('action')}{' — ' + str(data['note']) if data.get('note') else ''}"
    if kind == "open":
        return f"patient {data.get('patient_ref')}, {as_text(data.get('weight_kg'))} kg, {as_text(data.get('age_years'))} y"
    return as_text({k: v for k, v in data.items() if v is not None}) if data else ""


def episodes(out: Console, payload: dict[str, Any]) -> None:
    rows = payload.get("episodes", [])
    if not rows:
        out.print("No episodes.")
        return
    table = Table(title="Episodes", title_justify="left")
    columns = ["episode", "patient", "state", "CRS", "ICANS", "opened", "last event", "toci", "deviations"]
    has_due = any("due" in row for row in rows)
    if has_due:
        columns.append("due")
    for column in columns:
        table.add_column(column, overflow="fold", no_wrap=column in ("episode", "opened", "last event"))
    for row in rows:
        cells = [row["episode"], row["patient"], row["state"], as_text(row.get("crs_grade")),
                 as_text(row.get("icans_grade")), _t(row.get("opened_at")), _t(row.get("last_at")),
                 as_text(row.get("tocilizumab_doses")), as_text(row.get("deviations"))]
        if has_due:
            cells.append("; ".join(f"{d.get('what')} at {_t(d.get('at'))}" for d in row.get("due", [])))
        table.add_row(*(Text(str(cell)) for cell in cells))
    out.print(table)


def refusals(out: Console, payload: dict[str, Any]) -> None:
    rows = payload.get("refusals", [])
    if not rows:
        out.print("No refused attempts.")
        return
    table = Table(title="Refused attempts", title_justify="left")
    for column in ("at (clinical)", "recorded", "actor", "episode", "tried", "rules", "message"):
        table.add_column(column, overflow="fold", no_wrap=column in ("at (clinical)", "recorded", "episode"))
    for row in rows:
        command = row.get("command") or {}
        tried = row.get("kind", "")
        if command.get("drug"):
            tried += f" {command.get('drug')} {as_text(command.get('dose_mg'))} mg"
        table.add_row(*(Text(str(x)) for x in (_t(row.get("at")), _t(row.get("recorded_at")), row.get("actor"),
                                                row.get("episode") or "—", tried, as_text(row.get("rules")),
                                                row.get("message"))))
    out.print(table)


def verified(out: Console, payload: dict[str, Any]) -> None:
    if payload.get("ok"):
        out.print(Text(f"OK: {payload.get('episodes')} episode(s), {payload.get('events')} event(s) verified "
                       "(hash chains, replay equals the stored state).", style="green"))
        return
    out.print(Text(f"FAILED: {len(payload.get('failures', []))} problem(s) in {payload.get('episodes')} episode(s), "
                   f"{payload.get('events')} event(s).", style="bold red"))
    table = Table()
    for column in ("episode", "seq", "problem"):
        table.add_column(column, overflow="fold")
    for failure in payload.get("failures", []):
        table.add_row(Text(str(failure.get("episode"))), Text(str(failure.get("seq"))),
                      Text(str(failure.get("problem"))))
    out.print(table)


def plain(out: Console, payload: dict[str, Any]) -> None:
    """A view for payloads that are text already (mermaid, a written report)."""
    out.print(Text(str(payload.get("text", ""))))
