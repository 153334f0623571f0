"""Commands that read: status, history, list. They open the database read-only."""

from datetime import datetime
from typing import Annotated, Any

import typer

from cli import payloads, values
from cli.clock import now
from cli.context import default_database_missing, open_store, settings, status_at
from cli.options import Episode, FullFlag, JsonFlag, WideFlag
from cli.render import emit
from states.names import State


def status(
    ctx: typer.Context,
    episode: Episode,
    as_of: Annotated[datetime | None, typer.Option(
        "--as-of", parser=values.iso_time, metavar="TIME",
        help="Show the episode as it stood at this clinical time, replayed from its events (QA).")] = None,
    full: FullFlag = False,
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
    events = None
    with open_store(config, read_only=True) as store:
        if as_of is None:
            current, at = store.episode(episode), now()
            if full:  # the observation's note is on its event, not in the snapshot: --full reads the history
                events = [stored.event for stored in store.history(episode)]
        else:
            events = [stored.event for stored in store.history(episode)]
            current, at = episode_of(events, as_of=as_of), as_of
            corrected = [change.as_json() for change in changes(events) if change.at <= as_of]
    if current is None:
        raise NotFound(f"episode {episode} had not been opened at {iso(at)}")
    payload = status_at(current, at)
    if full and events is not None and payload.get("basis"):
        note = _observed_note(events, payload["basis"].get("seq"))
        if note is not None:
            payload = {**payload, "basis": {**payload["basis"], "note": note}}
    if as_of is not None:
        payload = {**payload, "as_of": iso(as_of), "corrected_entries": corrected}
    emit(config, payload, "status_full" if full else "status")


def _observed_note(events: list[Any], seq: Any) -> str | None:
    """The note of the observation whose values stand as event `seq` (an observe, or the correction of one)."""
    event = next((e for e in events if e.seq == seq), None)
    if event is None:
        return None
    data = (event.data.get("corrected") or {}) if event.kind == "correct" else event.data
    note = data.get("note")
    return note if isinstance(note, str) else None


def history(ctx: typer.Context, episode: Episode, wide: WideFlag = False, json_out: JsonFlag = False) -> None:
    """Every event of the episode: clinical and record time, actor, state change, data, deviation, hash."""
    config = settings(ctx, json_out)
    with open_store(config, read_only=True) as store:
        stored = store.history(episode)
    emit(config, payloads.history(episode, stored), "history", wide=wide)


def list_episodes(
    ctx: typer.Context,
    state: Annotated[str | None, typer.Option(
        "--state", metavar="STATE", parser=values.choice(tuple(s.value for s in State), "state"),
        autocompletion=values.completer(tuple(s.value for s in State)), help="Only episodes in this state: " + ", ".join(s.value for s in State) + ".")] = None,
    due: Annotated[bool, typer.Option(
        "--due", help="Only episodes with a timer or reassessment pending now that falls due by --at "
                      "(default now), e.g. `--due --at` the end of a shift.")] = False,
    at: Annotated[datetime | None, typer.Option(
        "--at", parser=values.iso_time, metavar="TIME", help="The time --due looks at, ISO 8601. Default: now.")] = None,
    active: Annotated[bool, typer.Option(
        "--active", help="Only episodes not yet closed (resolved ones stay until they are closed).")] = False,
    limit: Annotated[int | None, typer.Option(
        "--limit", min=1, max=100_000, metavar="N", help="At most N episodes: the N opened last.")] = None,
    wide: WideFlag = False,
    json_out: JsonFlag = False,
) -> None:
    """Episodes, one row each, oldest first."""
    config = settings(ctx, json_out)
    current_time = now()
    by = at or current_time
    missing = default_database_missing(config)
    if missing is not None:  # a first run: nothing recorded yet is not an error
        emit(config, {"episodes": [], "database": missing, "created": False,
                      "empty": f"No episodes yet: the database {missing} is created by the first `crs open`."},
             "episodes", wide=wide)
        return
    with open_store(config, read_only=True) as store:
        found = store.episodes(state)
    if active:
        found = [episode for episode in found if str(episode.state) != State.CLOSED.value]
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
    payload: dict[str, object] = {"episodes": rows}
    if limit is not None and len(rows) > limit:
        payload = {"episodes": rows[-limit:], "total": len(rows),
                   "more": f"{limit} of {len(rows)} episodes shown (the {limit} opened last; --limit)."}
    emit(config, payload, "episodes", wide=wide)
