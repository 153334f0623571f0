"""Human views of the JSON objects in cli/payloads.py: rich tables, colour where the terminal has it.

Every view takes the same dict the --json output prints, so the two can never disagree; user
text is printed as plain Text (never parsed as markup). A null grade reads "not assessed" with what
is missing (never "None" or 0); an overdue deadline reads OVERDUE. Below 100 columns the next steps
are a numbered list rather than a five-column table, so an 80-column terminal stays readable.
"""

import re
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from cli.next_steps import short_when, step_text, when
from cli.text import NOT_ASSESSED, as_text, change_text, grade_text, grade_value, missing_text, who
from cli.words import decided_text, inputs_text

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

SCREEN_LINES = 23  # an 80x24 terminal, less the prompt line
DISCLAIMER_SHORT = "Decision support; it does not replace clinical judgement."


def urgent_first(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The next steps most urgent first: what to measure now (assess), then what is overdue, then the
    pathway's order (stable). The pathway ranks a reassessment last as a deadline; once overdue it is urgent."""
    def rank(item: dict[str, Any]) -> int:
        if item.get("kind") == "assess":
            return 0
        return 1 if item.get("overdue") else 2
    return sorted(steps, key=rank)


def fit(text: str, room: int) -> str:
    """`text` in at most `room` characters, cut between words with an ellipsis (never inside a word)."""
    if len(text) <= room:
        return text
    words = text[:max(0, room - 1)].rsplit(" ", 1)[0].split(" ")
    while words and any(ch.isdigit() for ch in words[-1]):  # never a number cut off from its unit
        words.pop()
    cut = " ".join(words).rstrip(" ,;:—-(")
    return f"{cut}…" if cut else ""


_UNIT = re.compile(r"(?<=\d) (?=(?:°C|mg|kg|L/min|%|h|y|mg/kg|mg/day)(?:\W|$))")


_LABEL = re.compile(r"\b(FiO2|ICE|CAPD|CRS|ICANS|seq|grade) (?=\d)")


def wrap_words(text: str, width: int) -> list[str]:
    """`text` in lines of at most `width`, broken between words only, a number never parted from its unit
    (`39.4 °C`, `400 mg`); a single word longer than the line is split rather than lost."""
    import textwrap

    glued = _LABEL.sub("\\1\x00", _UNIT.sub("\x00", text))
    lines = textwrap.wrap(glued, max(width, 10), break_on_hyphens=False, break_long_words=True) or [""]
    return [line.replace("\x00", " ") for line in lines]


def status(out: Console, payload: dict[str, Any]) -> None:
    """`crs status`: one 80x24 screen. What to measure now first, then what is overdue (marked, red on a
    terminal); each step the words a nurse types, with as much of its reason as the line holds (cut between
    words: `--full` has it whole); every timer on a line of its own. The grades' basis, the observation and
    the warnings are wrapped, never cut: a missing measurement or a warning is always shown whole."""
    width = out.width
    policy = payload.get("policy") or {}
    head = Text.assemble((str(payload.get("episode")), "bold cyan"), f"  patient {payload.get('patient')}  ",
                         (str(payload.get("state")), "bold cyan"),
                         f"  tocilizumab ×{payload.get('tocilizumab_doses', 0)}"
                         f"  deviations {payload.get('deviations', 0)}")
    out.print(head)
    for which, label in (("crs", "CRS   "), ("icans", "ICANS ")):
        line = Text.assemble((label, "bold"), _grade(payload.get(f"{which}_grade")))
        note = _basis_words(payload, which)
        if note:  # wrapped, never cut: what is missing must all be seen
            line.append(f" ({note})", style="dim")
        out.print(line)
    basis = payload.get("basis") or {}
    if basis:
        out.print(Text(f"Observed {short_when(basis.get('observed_at'))}: {inputs_text(basis.get('inputs') or {})}"))
    if payload.get("corrections"):
        out.print(Text(fit(f"Corrections: {payload['corrections']} correction(s), void(s) and late entries on record; "
                           "this is what stands (crs history)", width), style="yellow"))
    if "corrected_entries" in payload:  # --as-of: the episode as it stood then
        out.print(Text(f"As of {when(payload.get('as_of'))}, replayed from the record as it stands", style="bold"))
    for change in payload.get("corrected_entries") or []:  # what was recorded and what stands, up to then
        out.print(Text(fit(f"  corrected: {change_text(change)} ({change.get('reason')})", width), style="yellow"))
    steps = urgent_first(payload.get("next_steps") or [])
    if steps:
        out.print(Text("Next steps, most urgent first:", style="bold"))
    for number, item in enumerate(steps, 1):
        line = Text(f"{number:>2}. ")
        line.append_text(_step_cell(item, short=True))
        why = str(item.get("why") or "")
        room = width - len(line.plain) - 3
        if why and room >= 12 and fit(why, room):
            line.append(" — " + fit(why, room), style="dim")
        out.print(line)
    due = payload.get("due") or []
    if due:
        out.print(Text("Due:", style="bold"))
    for item in due:
        line = Text(f"  {short_when(item.get('at'))} ")
        if item.get("overdue"):
            line.append("OVERDUE ", style="bold red")
        line.append(fit(str(item.get("what")), width - len(line.plain)))
        out.print(line)
    for warning in payload.get("warnings") or []:  # wrapped, never cut
        out.print(Text(f"warning: {short_when(warning)}", style="yellow"))
    footer = f"Policy {policy.get('name')} v{policy.get('version')}. {DISCLAIMER_SHORT}"
    out.print(Text(footer if len(footer) <= width else DISCLAIMER_SHORT, style="dim italic"))


def _basis_words(payload: dict[str, Any], which: str, time_text: Any = short_when) -> str:
    """Why a grade is what it is, in words: what decided it (and what was not recorded); for a grade not
    assessed, what is missing and the last assessed grade. The same words in `status` and `status --full`."""
    everything = payload.get("basis") or {}
    basis = payload.get(f"{which}_basis") or everything.get(which) or {}
    if not isinstance(basis, dict):
        return ""
    missing = list(basis.get("missing") or [])
    parts: list[str] = []
    if payload.get(f"{which}_grade") is None:
        if missing:
            parts.append(f"missing: {missing_text(missing)}")
        elif not everything:
            parts.append("no observation recorded yet")
        last = (everything.get("last_assessed") or {}).get(which)
        if isinstance(last, dict):
            parts.append(f"last assessed {grade_text(last.get('grade'))} at {time_text(last.get('at'))} "
                         f"(#{last.get('seq')})")
    else:
        decided = [decided_text(d) for d in basis.get("decided_by") or [] if d != NOT_ASSESSED]
        if decided:
            parts.append(f"decided by {as_text(decided)}")
        if missing:
            parts.append(f"not recorded: {missing_text(missing)}")
    return "; ".join(parts)


def status_full(out: Console, payload: dict[str, Any]) -> None:
    """`crs status --full`: every reason, source, timer and correction, at whatever length it takes."""
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
        head.add_row("Observed", Text(f"{_t(basis.get('observed_at'))}  {inputs_text(basis.get('inputs') or {})}"
                                      + (f" — {basis['note']}" if basis.get("note") else "")))
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
    steps = urgent_first(payload.get("next_steps") or [])
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


def _step_cell(item: dict[str, Any], short: bool = False) -> Text:
    text = Text(step_text(item, short_when if short else when), style="bold")
    if item.get("kind") == "reassess" and item.get("overdue"):
        text.stylize("bold red")
    return text


def _basis_note(payload: dict[str, Any], which: str) -> Text:
    """The full view's note beside a grade: `_basis_words` with full times."""
    words = _basis_words(payload, which, _t)
    return Text(f"  ({words})" if words else "", style="dim")


WIDE = 120  # from this width (or with --wide) the tables show every column


@dataclass(frozen=True)
class Columns:
    """A list of rows laid out in columns (history, list, refusals): see `_table` and `print_table`."""

    title: str
    names: list[str]
    rows: list[list[str | Text]]
    wrap: tuple[str, ...]


def _table(title: str, columns: list[str], rows: list[list[str | Text]], wrap: tuple[str, ...]) -> Columns:
    return Columns(title, columns, rows, wrap)


def print_table(out: Console, table: Columns) -> None:
    """Rows in columns that read at 80: a rule under the header instead of a box, two spaces between columns;
    each column as wide as its widest line and never wrapped, except those in `table.wrap`, which share the
    rest of the console's width (each at least as wide as its longest word, up to 24) and wrap between words.
    Wider than the console when the columns need more (`--wide` at 80 columns): a cell is never cropped; the
    terminal or `less -S` shows the rest. Cells keep their styles (OVERDUE in red).

    Laid out here, then printed by rich as one Text, not through rich's Table, which measures, pads and crops
    every cell through its renderer. Kept, measured 2026-12-02 (issue 13: `crs list` of 1,000 episodes, 15
    interleaved runs, CPU of the child): 508 / 629 ms min / median this way, 757 / 996 ms with rich's Table
    (the same text but for trailing spaces), where the goal is 2x a step (`crs observe` ~400 ms)."""
    names, rows = table.names, table.rows
    cells = [[_lines(cell) for cell in row] for row in rows]
    widths = []
    for index, name in enumerate(names):
        lines = [line.plain for row in cells for line in row[index]]
        if name in table.wrap:
            longest = max([len(name), *(len(word) for line in lines for word in line.split())])
            widths.append(min(longest, 24))
        else:
            widths.append(max([len(name), *map(len, lines)]))
    wrapped = [i for i, name in enumerate(names) if name in table.wrap]
    spare = out.width - (sum(widths) + 2 * (len(names) - 1))
    for position, index in enumerate(wrapped):  # the console's spare width, shared by the wrapping columns
        natural = max([len(names[index]), *(len(line.plain) for row in cells for line in row[index])])
        share = spare // (len(wrapped) - position) if spare > 0 else 0
        grown = min(natural, widths[index] + share)
        spare -= grown - widths[index]
        widths[index] = grown
    text = Text(table.title, style="bold")
    text.append("\n" + "  ".join(f"{name:<{width}}" for name, width in zip(names, widths)).rstrip())
    text.append("\n" + "─" * (sum(widths) + 2 * (len(names) - 1)))
    for row in cells:
        columns = [_wrapped(lines, widths[i]) if i in wrapped else lines for i, lines in enumerate(row)]
        for k in range(max(len(lines) for lines in columns)):
            line = Text("\n")
            for i, lines in enumerate(columns):
                piece = lines[k] if k < len(lines) else Text("")
                if i < len(columns) - 1:
                    piece = piece + " " * (widths[i] - len(piece.plain) + 2)
                line.append_text(piece)
            line.rstrip()
            text.append_text(line)
    width = out.width
    out.width = max(width, sum(widths) + 2 * (len(names) - 1))  # Console.print caps its width at the console's
    try:
        out.print(text, no_wrap=True, overflow="ignore", crop=False)
    finally:
        out.width = width


def _lines(cell: str | Text) -> list[Text]:
    text = cell if isinstance(cell, Text) else Text(str(cell))
    return text.split("\n") if "\n" in text.plain else [text]


def _wrapped(lines: list[Text], width: int) -> list[Text]:
    """Each line wrapped between words to `width` (views.wrap_words), keeping the line's own style."""
    out: list[Text] = []
    for line in lines:
        if len(line.plain) <= width:
            out.append(line)
            continue
        style = line.spans[0].style if line.spans else line.style
        out += [Text(piece, style=style) for piece in wrap_words(line.plain, width)]
    return out


def _plain(cell: str | Text) -> str:
    return cell.plain if isinstance(cell, Text) else str(cell)


def history(out: Console, payload: dict[str, Any], wide: bool = False) -> None:
    """Every event. At 80 columns: seq, clinical time, kind, state, details (corrections, deviations and late
    entries marked in the details); from 120 columns or with --wide: record time, actor, the move, the hash."""
    wide = wide or out.width >= WIDE
    columns = ["seq", "at (clinical)", "recorded", "actor", "kind", "state", "details", "hash"]
    rows: list[list[str | Text]] = []
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
        if not wide:
            details += f" — {who(event.get('actor'), event.get('login'))}"
        if wide:
            cells = [str(event.get("seq")), _t(event.get("at")), _t(event.get("recorded_at")),
                     who(event.get("actor"), event.get("login")), str(event.get("kind")),
                     f"{event.get('from_state') or '∅'} → {event.get('to_state')}", details,
                     str(event.get("hash", ""))[:12]]
            rows.append(list(cells))
            continue
        moved = event.get("from_state") != event.get("to_state")
        head = f"{event.get('seq'):>3}  {short_when(event.get('at'))}  {event.get('kind')}  " + (
            f"→ {event.get('to_state')}" if moved else str(event.get("to_state")))
        rows.append([head, details])
    if wide:
        print_table(out, _table(f"History of {payload.get('episode')}", columns, rows, ("details",)))
        return
    text = Text(f"History of {payload.get('episode')} (clinical times, UTC; --wide: record time, actor, hash)",
                style="bold")
    for head, details in rows:  # one Text, printed once: rich's per-call cost was most of a long history's time
        text.append(f"\n{head}", style="bold")
        text.append("".join(f"\n     {line}" for line in wrap_words(str(details), out.width - 5)))
    out.print(text, no_wrap=True, overflow="ignore", crop=False)


def _event_details(kind: Any, data: dict[str, Any]) -> str:
    late = f" (late: {data.get('late_reason')})" if data.get("late") is True else ""
    if kind == "observe":
        return (f"CRS {grade_value(data.get('crs_grade'))}, ICANS {grade_value(data.get('icans_grade'))}; "
                f"{inputs_text(dict(data.get('observation') or {}))}"
                f"{' — ' + str(data['note']) if data.get('note') else ''}{late}")
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


def episodes(out: Console, payload: dict[str, Any], wide: bool = False) -> None:
    """One row per episode. At 80 columns: episode, patient, state, both grades, the last event; with `--due`,
    what is due (each item on its own line, OVERDUE marked) in place of the last event; from 120 columns or with
    --wide: the opening time, tocilizumab doses and deviations too."""
    rows = payload.get("episodes", [])
    if not rows:
        out.print(payload.get("empty") or "No episodes.")
        return
    wide = wide or out.width >= WIDE
    has_due = any("due" in row for row in rows)
    columns = ["episode", "patient", "state", "CRS", "ICANS", "due" if has_due else "last event"]
    columns += ["opened", "toci", "deviations"] if wide else []
    table_rows: list[list[str | Text]] = []
    for row in rows:
        cells: list[str | Text] = [row["episode"], row["patient"], row["state"], grade_value(row.get("crs_grade")),
                                   grade_value(row.get("icans_grade"))]
        if has_due:
            due = Text()
            for number, item in enumerate(row.get("due", [])):
                due.append(("\n" if number else "") + _due_line(item, short_when),
                           style="bold red" if item.get("overdue") else "")
            cells.append(due)
        else:
            cells.append(short_when(row.get("last_at")))
        if wide:
            cells += [short_when(row.get("opened_at")), as_text(row.get("tocilizumab_doses")),
                      as_text(row.get("deviations"))]
        table_rows.append(cells)
    print_table(out, _table("Episodes", columns, table_rows, ("due",) if has_due else ()))
    if payload.get("more"):
        out.print(Text(str(payload["more"]), style="dim"))


def _due_line(item: dict[str, Any], time_text: Any = None) -> str:
    shown = (time_text or _t)(item.get("at"))
    return f"{shown}{' OVERDUE' if item.get('overdue') else ''}: {item.get('what')}"


def refusals(out: Console, payload: dict[str, Any], wide: bool = False) -> None:
    """Refused attempts. At 80 columns: clinical time, episode, what was tried, the rules, the message; from 120
    columns or with --wide: the record time and who tried it."""
    rows = payload.get("refusals", [])
    if not rows:
        out.print("No refused attempts.")
        return
    wide = wide or out.width >= WIDE
    columns = ["at (clinical)", "recorded", "actor", "episode", "tried", "rules", "message"]
    table_rows: list[list[str | Text]] = []
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
        message = str(row.get("message"))
        if wide:
            table_rows.append([_t(row.get("at")), _t(row.get("recorded_at")), who(row.get("actor"), row.get("login")),
                               row.get("episode") or "—", tried, rules.replace(", ", "\n"), message])
        else:
            table_rows.append([f"{short_when(row.get('at'))}  {row.get('episode') or '—'}  {tried}  "
                               f"— {who(row.get('actor'), row.get('login'))}", f"{rules}: {message}"])
    if wide:
        print_table(out, _table("Refused attempts", columns, table_rows, ("tried", "message")))
        return
    out.print(Text("Refused attempts (clinical times, UTC; --wide: record time and actor in columns)", style="bold"))
    for head, body in table_rows:
        for number, line in enumerate(wrap_words(str(head), out.width)):
            out.print(Text(("" if number == 0 else "     ") + line, style="bold" if number == 0 else ""))
        for line in wrap_words(str(body), out.width - 5):
            out.print(Text(f"     {line}"))


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


def information(out: Console, payload: dict[str, Any]) -> None:
    """`crs info`: one fact per line."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    where = str(payload.get("file") or payload.get("database"))
    if not payload.get("exists"):
        where += " (does not exist yet: the first `crs open` creates it)"
    schema = payload.get("schema")
    if payload.get("exists"):
        schema_text = f"{schema or 'none'} (this crs: {payload.get('schema_head')})"
        if schema != payload.get("schema_head"):
            schema_text += "; run `crs upgrade`" if schema else "; created on first use"
    else:
        schema_text = f"— (this crs: {payload.get('schema_head')})"
    for label, value in (("crs", f"crs-pathway {payload.get('version')}"), ("database", where),
                         ("backend", payload.get("backend")), ("schema", schema_text),
                         ("login", payload.get("login") or "—"), ("actor", payload.get("actor")),
                         ("policies", as_text(payload.get("policies")))):
        grid.add_row(label, Text(str(value)))
    out.print(grid)


def plain(out: Console, payload: dict[str, Any]) -> None:
    """A view for payloads that are text already (mermaid, a written report)."""
    out.print(Text(str(payload.get("text", ""))))
