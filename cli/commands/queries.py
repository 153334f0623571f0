"""Commands that read: status, history, list. They open the database read-only."""

from datetime import datetime
from typing import Annotated

import typer

from cli import payloads, values
from cli.clock import now
from cli.context import open_store, settings, status_at
from cli.options import Episode, JsonFlag
from cli.render import emit
from states.names import State


def status(
    ctx: typer.Context,
    episode: Episode,
    as_of: Annotated[datetime | None, typer.Option(
        "--as-of", parser=values.iso_time, metavar="TIME",
        help="Show the episode as it stood at this clinical time, replayed from its events (QA).")] = None,
    json_out: JsonFlag = False,
) -> None:
    """State, both grades with their basis, the next best steps, due timers and warnings.

    With --as-of, the episode as it stood at that clinical time by the record as it stands now (its
    effective history: corrections applied, voided entries out, late entries in their place), and
    every correction, void and late entry up to then: what was recorded and what stands.
    """
    from pathway.clock import iso
    from pathway.errors import NotFound
    from pathway.history import changes, episode_of

    config = settings(ctx, json_out)
    corrected: list[dict[str, object]] = []
    with open_store(config, read_only=True) as store:
        if as_of is None:
            current, at = store.episode(episode), now()
        else:
            events = [stored.event for stored in store.history(episode)]
            current, at = episode_of(events, as_of=as_of), as_of
            corrected = [change.as_json() for change in changes(events) if change.at <= as_of]
    if current is None:
        raise NotFound(f"episode {episode} had not been opened at {iso(at)}")
    payload = status_at(current, at)
    if as_of is not None:
        payload = {**payload, "as_of": iso(as_of), "corrected_entries": corrected}
    emit(config, payload, "status")


def history(ctx: typer.Context, episode: Episode, json_out: JsonFlag = False) -> None:
    """Every event of the episode: clinical and record time, actor, state change, data, deviation, hash."""
    config = settings(ctx, json_out)
    with open_store(config, read_only=True) as store:
        stored = store.history(episode)
    emit(config, payloads.history(episode, stored), "history")


def list_episodes(
    ctx: typer.Context,
    state: Annotated[State | None, typer.Option(
        "--state", metavar="STATE", help="Only episodes in this state: " + ", ".join(s.value for s in State) + ".")] = None,
    due: Annotated[bool, typer.Option(
        "--due", help="Only episodes with a timer or reassessment pending now that falls due by --at "
                      "(default now), e.g. `--due --at` the end of a shift.")] = False,
    at: Annotated[datetime | None, typer.Option(
        "--at", parser=values.iso_time, metavar="TIME", help="The time --due looks at, ISO 8601. Default: now.")] = None,
    json_out: JsonFlag = False,
) -> None:
    """Episodes, one row each."""
    config = settings(ctx, json_out)
    current_time = now()
    by = at or current_time
    with open_store(config, read_only=True) as store:
        found = store.episodes(state.value if state else None)
    rows = []
    for episode in found:
        if not due:
            rows.append(payloads.episode_row(episode))
            continue
        # the timers pending now (overdue reassessments included) that fall due by --at
        pending = status_at(episode, max(current_time, episode.last_at)).get("due", [])
        by_then = [item for item in pending if item.get("at") and values.stored_time(item["at"]) <= by]
        if by_then:
            rows.append(payloads.episode_row(episode, {"due": by_then}))
    emit(config, {"episodes": rows}, "episodes")
