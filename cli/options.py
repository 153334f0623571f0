"""Options shared by several commands, declared once so their names, help and checks never drift."""

from datetime import datetime
from typing import Annotated

import typer

from cli import values

JsonFlag = Annotated[bool, typer.Option(
    "--json", help="Print exactly one JSON object on stdout, on success and on error.")]

At = Annotated[datetime | None, typer.Option(
    "--at", parser=values.iso_time, metavar="TIME",
    help="Clinical (effective) time of the event: ISO 8601 (1900–2200; an offset or Z is taken as given, a "
         "naive time is local time, and one that is ambiguous or skipped at a clock change needs an offset), "
         "or now, -15m, -2h, -1d, or HH:MM (local time, the most recent). Default: now.")]

Episode = Annotated[str, typer.Argument(
    parser=values.episode_id, metavar="EPISODE", show_default=False,
    help="The episode id that `crs open` printed.")]

OptionalEpisode = Annotated[str | None, typer.Argument(
    parser=values.episode_id, metavar="[EPISODE]", show_default=False,
    help="Only this episode (default: every episode).")]

Override = Annotated[str | None, typer.Option(
    "--override", parser=values.text(500), metavar="REASON",
    help="Proceed past overridable rules with this clinical reason; recorded with the rule and the "
         "actor as a deviation. Never lifts a hard limit.")]

Late = Annotated[str | None, typer.Option(
    "--late", parser=values.text(500), metavar="REASON",
    help="Record a late entry: the step took place at --at, a clinical time before the episode's latest "
         "event, and is charted after the fact; REASON says why. It is checked as if it had been recorded on "
         "time, and every later event is re-checked against the corrected history.")]

EntryOverride = Annotated[str | None, typer.Option(
    "--override", parser=values.text(500), metavar="REASON",
    help="Proceed past overridable rules with this clinical reason; recorded with the rules and the actor as a "
         "deviation. With --late it also passes the overridable rules the late entry makes later events break. "
         "Never lifts a hard limit.")]

ChangeOverride = Annotated[str | None, typer.Option(
    "--override", parser=values.text(500), metavar="REASON",
    help="Pass the overridable rules this change makes the corrected history break (the entry itself or a "
         "later event); recorded as a deviation with the rules and the actor. Never lifts a hard limit.")]

Reason = Annotated[str, typer.Option(
    "--reason", parser=values.text(500), metavar="TEXT", show_default=False,
    help="Why (required, kept in the record with who and when), e.g. 'typo: 560 mg given'. No names.")]

Seq = Annotated[int, typer.Argument(
    parser=values.seq, metavar="SEQ", show_default=False,
    help="The seq of the recorded event, as `crs history` shows it.")]

WideFlag = Annotated[bool, typer.Option(
    "--wide", help="Every column (record time, actor, login, hash), however wide the terminal.")]

FullFlag = Annotated[bool, typer.Option(
    "--full", help="Everything: each step's reason and sources in full, the basis of both grades, every "
                   "timer (the default fits one 80x24 screen).")]
