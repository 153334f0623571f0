"""Human views of the JSON objects in cli/payloads.py: rich tables, colour where the terminal has it.

Every view takes the same dict the --json output prints, so the two can never disagree; user
text is printed as plain Text (never parsed as markup). A null grade reads "not assessed" with what
is missing (never "None" or 0); an overdue deadline reads OVERDUE. Below 100 columns the next steps
are a numbered list rather than a five-column table, so an 80-column terminal stays readable.
"""

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from cli.next_steps import step_text, when
from cli.text import NOT_ASSESSED, as_text, change_text, grade_text, grade_value, missing_text, who

GRADE_STYLE = {0: "green", 1: "yellow", 2: "dark_orange", 3: "red", 4: "bold red"}
NARROW = 100  # below this width the next steps are a list, not a table
_t = when  # a UTC time for people: `2026-03-01 14:30:05Z` (JSON keeps full ISO 8601)


def _grade(value: Any) -> Text:
    if value is None:
        return Text(NOT_ASSESSED, style="bold yellow")  # never reassuring: shown, not dimmed
    return Text(grade_text(value), style=GRADE_STYLE.get(value, ""))


def opened(out: Console, payload: dict[str, Any]) -> None:
    policy = payload.get("policy") or {}
    out.print(Text.assemble(("Opened episode ", ""), (str(payload["episode"]), "bold cyan"),
                            f" for patient {payload.get('patient')} in state {payload.get('state')} "
                            f"(policy {policy.get('name')} v{policy.get('version')}, at {_t(payload.get('opened_at'))})."))
    screen = "--capd N|unable" if payload.get("icans_screen") == "capd" else "--ice N"
    out.print(f"Next: crs observe {payload['episode']} --temp C --o2 DEVICE {screen} --consciousness LEVEL "
              "(the first assessment is due now)", style="dim")


def observed(out: Console, payload: dict[str, Any]) -> None:
    seen = payload.get("observation") or {}
    out.print(Text.assemble(("Recorded ", ""), (f"#{seen.get('seq')} observe", "bold"),
                            f" at {_t(seen.get('at'))} on {payload.get('episode')}: CRS ",
                            _grade(seen.get("crs_grade")), ", ICANS ", _grade(seen.get("icans_grade")), "."))
    _late_note(out, payload)
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
    _late_note(out, payload)
    _deviation(out, payload)
    if payload.get("status"):
        out.print()
        status(out, payload["status"])


def corrected(out: Console, payload: dict[str, Any]) -> None:
    """A correction or a void: what it replaced, before -> after, why, and the state the corrected history has."""
    change = payload.get("correction") or {}
    before, after = payload.get("from_state"), payload.get("state")
    out.print(Text.assemble(("Recorded ", ""), (f"#{payload.get('seq')} {payload.get('kind')}", "bold"),
                            f" on {payload.get('episode')}: {change_text(change)}; state {after}."))
    out.print(Text(f"Reason: {change.get('reason')} ({change.get('actor')}, recorded {_t(change.get('recorded_at'))}; "
                   f"clinical time {_t(change.get('at'))})."))
    if before != after:
        out.print(Text(f"State recomputed: {before} → {after} (the pathway's table on the corrected history).",
                       style="bold yellow"))
    _deviation(out, payload)
    if payload.get("status"):
        out.print()
        status(out, payload["status"])


def _late_note(out: Console, payload: dict[str, Any]) -> None:
    change = payload.get("correction")
    if not change:
        return
    out.print(Text(f"Late entry (charted after the fact): {change.get('reason')}; every later event was re-checked.",
                   style="yellow"))
    if payload.get("from_state") is not None and payload.get("from_state") != payload.get("state"):
        out.print(Text(f"State recomputed: {payload.get('from_state')} → {payload.get('state')} (the pathway's table "
                       "on the corrected history).", style="bold yellow"))


def _deviation(out: Console, payload: dict[str, Any]) -> None:
    deviation = payload.get("deviation")
    if deviation:
        out.print(Text(f"Deviation: {as_text(deviation.get('rules') or deviation.get('rule'))} passed by "
                       f"{deviation.get('actor')}: {deviation.get('reason')}", style="yellow"))


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
    if payload.get("corrections"):
        head.add_row("Corrections", Text(f"{payload['corrections']} correction(s), void(s) and late entries on "
                                         "record; this is what stands (see `crs history`)"))
    if payload.get("as_of"):
        head.add_row("As of", Text(_t(payload["as_of"])))
    out.print(head)
    entries = payload.get("corrected_entries") or []
    if entries:
        table = Table(title="Corrected entries up to then (recorded → what stands)", title_justify="left")
        for column in ("at (clinical)", "recorded", "actor", "change", "reason"):
            table.add_column(column, overflow="fold", no_wrap=column in ("at (clinical)", "recorded"))
        for change in entries:
            table.add_row(Text(_t(change.get("at"))), Text(_t(change.get("recorded_at"))),
                          Text(str(change.get("actor"))), Text(change_text(change)), Text(str(change.get("reason"))))
        out.print(table)
    steps = payload.get("next_steps") or []
    if steps:
        out.print(_steps_list(steps) if out.width < NARROW else _steps_table(steps))
    due = payload.get("due") or []
    if due:
        table = Table(title="Due", title_justify="left")
        table.add_column("when", no_wrap=True)
        table.add_column("what", overflow="fold")
        for item in due:
            when = Text(_t(item.get("at")))
            if item.get("overdue"):
                when.append(" OVERDUE", style="bold red")
            table.add_row(when, Text(str(item.get("what"))))
        out.print(table)
    for warning in payload.get("warnings") or []:
        out.print(Text(f"warning: {warning}", style="yellow"))
    if payload.get("disclaimer"):
        out.print(Text(str(payload["disclaimer"]), style="dim italic"))


def _steps_table(steps: list[dict[str, Any]]) -> Table:
    table = Table(title="Next steps (most urgent first)", title_justify="left", show_lines=False)
    for column in ("#", "step", "why", "rule", "sources"):
        table.add_column(column, overflow="fold")
    for number, item in enumerate(steps, 1):
        table.add_row(str(number), _step_cell(item), Text(str(item.get("why", ""))),
                      Text(str(item.get("rule") or "")), Text(as_text(item.get("citations") or [])))
    return table


def _steps_list(steps: list[dict[str, Any]]) -> Table:
    """Narrow terminals: each step on its own line at full width, its why and sources indented below."""
    grid = Table.grid(padding=(0, 1))
    grid.title = "Next steps (most urgent first)"
    grid.title_justify = "left"
    grid.add_column(justify="right", no_wrap=True)
    grid.add_column(overflow="fold")
    for number, item in enumerate(steps, 1):
        sources = " · ".join(part for part in (str(item.get("rule") or ""), as_text(item.get("citations") or []))
                             if part and part != "—")
        body = Text.assemble(_step_cell(item), "\n", Text(str(item.get("why", ""))))
        if sources:
            body.append("\n" + sources, style="dim")
        grid.add_row(f"{number}.", body)
    return grid


def _step_cell(item: dict[str, Any]) -> Text:
    text = Text(step_text(item), style="bold")
    if item.get("kind") == "reassess" and item.get("overdue"):
        text.stylize("bold red")
    return text


def _basis_note(payload: dict[str, Any], which: str) -> Text:
    """Why a grade is what it is: what decided it, or — not assessed — what is missing and the last assessed."""
    everything = payload.get("basis") or {}
    basis = payload.get(f"{which}_basis") or everything.get(which) or {}
    if not isinstance(basis, dict):
        return Text("")
    missing = list(basis.get("missing") or [])
    parts: list[str] = []
    if payload.get(f"{which}_grade") is None:
        if missing:
            parts.append(f"missing: {missing_text(missing)}")
        elif not everything:
            parts.append("no observation recorded yet")
        last = (everything.get("last_assessed") or {}).get(which)
        if isinstance(last, dict):
            parts.append(f"last assessed {grade_text(last.get('grade'))} at {_t(last.get('at'))} (#{last.get('seq')})")
    else:
        decided = [d for d in basis.get("decided_by") or [] if d != NOT_ASSESSED]
        if decided:
            parts.append(f"decided by {as_text(decided)}")
        if missing:
            parts.append(f"not recorded: {missing_text(missing)}")
    return Text(f"  ({'; '.join(parts)})" if parts else "", style="dim")


def history(out: Console, payload: dict[str, Any]) -> None:
    table = Table(title=f"History of {payload.get('episode')}", title_justify="left")
    for column in ("seq", "at (clinical)", "recorded", "actor", "kind", "state", "details", "hash"):
        table.add_column(column, overflow="fold", no_wrap=column in ("seq", "at (clinical)", "recorded", "hash"))
    for event in payload.get("events", []):
        data = dict(event.get("data") or {})
        details = _event_details(event.get("kind"), data)
        marks = [f"superseded by {event['superseded_by']}" if event.get("superseded_by") else "",
                 f"voided by {event['voided_by']}" if event.get("voided_by") else "",
                 "late" if data.get("late") is True else ""]
        if any(marks):
            details = f"[{', '.join(m for m in marks if m)}] {details}"
        if event.get("override"):
            details += f" | DEVIATION {as_text(event['override'].get('rules') or event['override'].get('rule'))}: " \
                       f"{event['override'].get('reason')}"
        move = f"{event.get('from_state') or '∅'} → {event.get('to_state')}"
        table.add_row(str(event.get("seq")), Text(_t(event.get("at"))), Text(_t(event.get("recorded_at"))),
                      Text(who(event.get("actor"), event.get("login"))), Text(str(event.get("kind"))), Text(move),
                      Text(details),
                      Text(str(event.get("hash", ""))[:12]))
    out.print(table)


def _event_details(kind: Any, data: dict[str, Any]) -> str:
    late = f" (late: {data.get('late_reason')})" if data.get("late") is True else ""
    if kind == "observe":
        return (f"CRS {grade_value(data.get('crs_grade'))}, ICANS {grade_value(data.get('icans_grade'))}; "
                f"{as_text(data.get('observation'))}{late}")
    if kind == "give":
        return f"{data.get('drug')} {as_text(data.get('dose_mg'))} mg {data.get('route', '')}".rstrip() + late
    if kind == "act":
        return f"{data.get('action')}{' — ' + str(data['note']) if data.get('note') else ''}{late}"
    if kind == "open":
        return f"patient {data.get('patient_ref')}, {as_text(data.get('weight_kg'))} kg, {as_text(data.get('age_years'))} y"
    if kind == "correct":
        corrected = _event_details(data.get("target_kind"), dict(data.get("corrected") or {}))
        return f"corrects seq {data.get('target_seq')} ({data.get('target_kind')}) to: {corrected} — {data.get('reason')}"
    if kind == "void":
        return f"voids seq {data.get('target_seq')} ({data.get('target_kind')}), entered in error — {data.get('reason')}"
    return as_text({k: v for k, v in data.items() if v is not None}) if data else ""


def episodes(out: Console, payload: dict[str, Any]) -> None:
    """One row per episode; with `--due`, what is due (one line each, OVERDUE marked) replaces the counts."""
    rows = payload.get("episodes", [])
    if not rows:
        out.print("No episodes.")
        return
    has_due = any("due" in row for row in rows)
    if out.width < NARROW:
        out.print(_episodes_list(rows, has_due))
        return
    table = Table(title="Episodes", title_justify="left")
    columns = ["episode", "patient", "state", "CRS", "ICANS", "last event"]
    columns += ["due"] if has_due else ["opened", "toci", "deviations"]
    for column in columns:
        table.add_column(column, overflow="fold", no_wrap=column in ("episode", "opened", "last event"),
                         min_width=len("assessed") if column in ("CRS", "ICANS") else None,
                         ratio=3 if column == "due" else None)
    for row in rows:
        cells = [row["episode"], row["patient"], row["state"], grade_value(row.get("crs_grade")),
                 grade_value(row.get("icans_grade")), _t(row.get("last_at"))]
        if has_due:
            cells.append("\n".join(_due_line(d) for d in row.get("due", [])))
        else:
            cells += [_t(row.get("opened_at")), as_text(row.get("tocilizumab_doses")), as_text(row.get("deviations"))]
        table.add_row(*(Text(str(cell)) for cell in cells))
    out.print(table)


def _due_line(item: dict[str, Any]) -> str:
    return f"{_t(item.get('at'))}{' OVERDUE' if item.get('overdue') else ''}: {item.get('what')}"


def _episodes_list(rows: list[dict[str, Any]], has_due: bool) -> Table:
    """Narrow terminals: each episode as a short paragraph, its due items indented below."""
    grid = Table.grid(padding=(0, 1))
    grid.title = "Episodes"
    grid.title_justify = "left"
    grid.add_column(no_wrap=True, style="bold")
    grid.add_column(overflow="fold")
    for row in rows:
        text = Text(f"{row['patient']} · {row['state']} · CRS {grade_value(row.get('crs_grade'))} · "
                    f"ICANS {grade_value(row.get('icans_grade'))} · last event {_t(row.get('last_at'))}")
        if has_due:
            for item in row.get("due", []):
                text.append("\n" + _due_line(item), style="bold red" if item.get("overdue") else "")
        else:
            text.append(f" · toci {as_text(row.get('tocilizumab_doses'))} · "
                        f"deviations {as_text(row.get('deviations'))}")
        grid.add_row(str(row["episode"]), text)
    return grid


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
        if command.get("target_seq") is not None:
            tried += f" seq {command['target_seq']}"
            if command.get("changes") or command.get("unset"):
                tried += f": {as_text({**command.get('changes', {}), **{n: None for n in command.get('unset', [])}})}"
        if command.get("late"):
            tried += " (late)"
        rules = as_text(row.get("rules"))
        if row.get("breaks_seq") is not None:
            rules += f" (breaks seq {row['breaks_seq']})"
        table.add_row(*(Text(str(x)) for x in (_t(row.get("at")), _t(row.get("recorded_at")),
                                                who(row.get("actor"), row.get("login")),
                                                row.get("episode") or "—", tried, rules, row.get("message"))))
    out.print(table)


def upgraded(out: Console, payload: dict[str, Any]) -> None:
    if payload.get("upgraded_from"):
        done = f"upgraded from schema {payload['upgraded_from']} to {payload.get('schema')}"
    elif payload.get("created"):
        done = f"created at schema {payload.get('schema')}"
    else:
        done = f"already at schema {payload.get('schema')}; nothing to do"
    out.print(Text(f"Database {payload.get('database')}: {done}."), soft_wrap=True)  # one line, never wrapped


def verified(out: Console, payload: dict[str, Any]) -> None:
    refusals = payload.get("refusals")
    counted = f"{payload.get('episodes')} episode(s), {payload.get('events')} event(s)" + (
        f", {refusals} refused attempt(s)" if refusals is not None else "")
    if payload.get("ok"):
        anchored = " and the checkpoint extended exactly" if payload.get("checkpoint") else ""
        out.print(Text(f"OK: {counted} verified (hash chains, replay equals the stored state, the refusal log's "
                       f"chain, the append-only triggers{anchored}).", style="green"))
        if payload.get("earlier_pathway_events"):
            out.print(Text(f"{payload['earlier_pathway_events']} event(s) were decided by an earlier pathway "
                           "version: checked by their hash chain and kept as decided, not re-decided by today's "
                           "rules."))
        return
    out.print(Text(f"FAILED: {len(payload.get('failures', []))} problem(s) in {counted}.", style="bold red"))
    table = Table()
    for column in ("episode", "seq", "problem"):
        table.add_column(column, overflow="fold")
    for failure in payload.get("failures", []):
        where = failure.get("episode") or ("refusal log" if failure.get("refusal") is not None else "database")
        seq = failure.get("seq") if failure.get("seq") is not None else failure.get("refusal")
        table.add_row(Text(str(where)), Text("—" if seq is None else str(seq)), Text(str(failure.get("problem"))))
    out.print(table)


def plain(out: Console, payload: dict[str, Any]) -> None:
    """A view for payloads that are text already (mermaid, a written report)."""
    out.print(Text(str(payload.get("text", ""))))
