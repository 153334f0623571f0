"""Options shared by several commands, declared once so their names, help and checks never drift."""

from datetime import datetime
from typing import Annotated

import typer

from cli import values

JsonFlag = Annotated[bool, typer.Option(
    "--json", help="Print exactly one JSON object on stdout, on success and on error.")]

At = Annotated[datetime | None, typer.Option(
    "--at", parser=values.iso_time, metavar="TIME",
    help="Clinical (effective) time of the event, ISO 8601; an offset or Z is taken as given, "
         "a naive time is local time. Default: now.")]

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
