"""The effective history: what stands after corrections, voids and late entries, re-decided by the same rules.

Stored events never change and stay in seq order (the hash chain). The *effective* history is the
open event, then every observe, give, act, resolve and close that stands: a voided one removed, a
corrected one carrying its corrected values at its own clinical time, late entries at theirs, all
in clinical-time order (ties in the order recorded). The episode is the fold of that history with
each entry re-decided, by `machine.evaluate`, against the entries before it, "as if recorded on
time" (CLINICAL §10): the same rules, the same routing table, no shortcut.

The common step never comes here: it lands at the end of the effective history (TIME_ORDER), so
the snapshot plus one `apply` is the fold (O(1)). A correction, void or late entry re-decides the
whole effective history (O(n)), and is accepted only if every entry still passes: a hard rule
broken anywhere refuses it (`breaks_seq`), an overridable rule newly broken needs its
`--override`, and which entries that override passed is recorded in the event (`overrides`), so
`audit verify` re-derives exactly what was accepted and a later correction cannot lean on an
override nobody gave for it.

Overrides are granted per entry and per rule: an entry's own override passes the rules it named
when it was recorded; a correction's override passes the rules it listed for each entry. An
overridable rule that no grant names refuses, as it would refuse an ordinary step.
"""

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Sequence

from pydantic import ValidationError

from pathway.clock import as_utc
from pathway.commands import (AdministerDose, Close, Correct, EntryCommand, OpenEpisode, RecordAction,
                              RecordObservation, Resolve, StepCommand, Void)
from pathway.drugs import DEFAULT_ROUTE
from pathway.episode import Episode, apply, fold
from pathway.errors import IntegrityError, Invalid, Refused, Violation
from pathway.events import PATHWAY_VERSION, Event, Override
from pathway.guards import future_violation
from pathway.machine import check_screen, evaluate
from pathway.policy import Policy

#: What `crs correct` may supersede, and what `crs void` may mark entered in error (CONTRACT: CORRECTION_TARGET).
CORRECTABLE = frozenset({"observe", "give", "act"})
VOIDABLE = frozenset({"observe", "give", "act", "resolve"})
CHANGE_KINDS = frozenset({"correct", "void"})
#: The inputs of each correctable kind, in the names `Correct.changes` uses.
INPUTS: dict[str, frozenset[str]] = {
    "give": frozenset({"drug", "dose_mg", "route"}),
    "act": frozenset({"action", "note"}),
    "observe": frozenset({"temp_c", "hypotension", "vasopressors", "vasopressin", "o2_device", "o2_flow_lpm", "fio2",
                          "ice_score", "consciousness", "seizure", "motor_weakness", "cerebral_edema", "capd_score",
                          "capd_unable"}),
}


def is_change(event: Event) -> bool:
    """A correction, a void or a late entry: an event whose fold re-decides the effective history."""
    return event.kind in CHANGE_KINDS or event.data.get("late") is True


# -- commands from stored values ---------------------------------------------------------------

def entry_command(kind: str, data: dict[str, Any], *, at: datetime, actor: str, episode_id: str,
                  override_reason: str | None) -> StepCommand:
    """The step command stored `data` of `kind` records (validated as the CLI validates it)."""
    step: dict[str, Any] = {"at": at, "actor": actor, "episode_id": episode_id}
    late = data.get("late_reason") if data.get("late") is True else None
    if kind == "observe":
        return RecordObservation.model_validate({**step, "observation": data["observation"], "note": data.get("note"),
                                                 "late": late, "override_reason": override_reason})
    if kind == "give":
        return AdministerDose(**step, drug=data["drug"], dose_mg=data["dose_mg"], route=data["route"], late=late,
                              override_reason=override_reason)
    if kind == "act":
        return RecordAction(**step, action=data["action"], note=data.get("note"), late=late,
                            override_reason=override_reason)
    if kind == "resolve":
        return Resolve(**step, override_reason=override_reason)
    if kind == "close":
        return Close(**step, reason=data.get("reason"))
    raise ValueError(f"no step command for a {kind} event")


def inputs_of(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    """The recorded inputs of an observe, give or act (what a correction may change), in `INPUTS` names."""
    if kind == "observe":
        return dict(data["observation"])
    return {name: data[name] for name in sorted(INPUTS[kind]) if data.get(name) is not None}


def command_of(event: Event) -> OpenEpisode | StepCommand | Correct | Void:
    """The command that made this event (what the clinician asked, with its override reason)."""
    d, kind = event.data, event.kind
    if kind == "open":
        return OpenEpisode(at=event.at, actor=event.actor, patient_ref=d["patient_ref"], weight_kg=d["weight_kg"],
                           age_years=d["age_years"], context=d.get("context"), policy=Policy.model_validate(d["policy"]))
    reason = event.override.reason if event.override else None
    common: dict[str, Any] = {"at": event.at, "actor": event.actor, "episode_id": event.episode_id,
                              "target_seq": d.get("target_seq"), "override_reason": reason}
    if kind == "correct":
        return Correct(**common, reason=d["reason"], changes=inputs_of(d["target_kind"], d["corrected"]),
                       unset=tuple(d.get("unset", ())))
    if kind == "void":
        return Void(**common, reason=d["reason"])
    return entry_command(kind, d, at=event.at, actor=event.actor, episode_id=event.episode_id,
                         override_reason=reason)


# -- the standing entries ----------------------------------------------------------------------

@dataclass(frozen=True)
class Grant:
    """Overridable rules passed for one entry, by whom and why (None rules: any, the pending step's own)."""

    reason: str
    actor: str
    rules: frozenset[str] | None
    by: int = 0  # the seq of the change that granted it (0: the entry's own override)


@dataclass(frozen=True)
class Entry:
    """One entry of the effective history."""

    place: int  # the stored seq whose place this is: the original entry, or the late entry
    seq: int  # the stored seq whose values stand: the original, its correction, or the late entry
    recorded_at: datetime
    command: StepCommand
    grants: tuple[Grant, ...] = ()
    corrected_by: int | None = None

    @property
    def key(self) -> tuple[datetime, int]:
        return (self.command.at, self.place)


@dataclass
class Standing:
    """What a list of stored events makes stand: the open event, the entries in clinical-time order,
    and who replaced what (for history, report and `--as-of`)."""

    opening: Event
    entries: list[Entry]
    head: int
    changes: int = 0  # corrections, voids and late entries among the events
    superseded_by: dict[int, int] = field(default_factory=dict)
    voided_by: dict[int, int] = field(default_factory=dict)
    kinds: dict[int, str] = field(default_factory=dict)  # seq -> kind, every stored event

    def entry_at(self, place: int) -> Entry | None:
        return next((e for e in self.entries if e.place == place), None)


def _own_grant(event: Event) -> tuple[Grant, ...]:
    o = event.override
    return (Grant(o.reason, o.actor, frozenset(o.rules)),) if o is not None and not is_change(event) else ()


def _granted(event: Event) -> dict[int, Grant]:
    """The per-entry grants a correction, void or late entry recorded with its override."""
    o, listed = event.override, event.data.get("overrides") or {}
    if o is None:
        return {}
    return {int(place): Grant(o.reason, o.actor, frozenset(rules), event.seq) for place, rules in listed.items()}


def standing(events: Sequence[Event]) -> Standing:
    """The effective history of stored events (seq order, already checked by the chain): pure bookkeeping,
    nothing decided. Raises ValueError on events that cannot make one (audit verify reports it)."""
    if not events or events[0].kind != "open":
        raise ValueError("the first event is not an open")
    result = Standing(opening=events[0], entries=[], head=events[0].seq, kinds={events[0].seq: "open"})
    extra: dict[int, list[Grant]] = {}  # place -> grants from changes recorded after it
    by_place: dict[int, Entry] = {}
    for event in events[1:]:
        result.head = event.seq
        result.kinds[event.seq] = event.kind
        if event.kind == "open":
            raise ValueError("an episode is opened once")
        if event.kind in CHANGE_KINDS:
            target = event.data["target_seq"]
            if event.kind == "correct":
                extra.pop(target, None)  # grants were for the values it supersedes
            for place in extra:  # a late entry that no longer stands takes the overrides it gave with it
                extra[place] = [grant for grant in extra[place] if grant.by != target]
        for place, grant in _granted(event).items():
            extra.setdefault(place, []).append(grant)
        if event.kind in CHANGE_KINDS:
            result.changes += 1
            target = event.data["target_seq"]
            original = by_place.pop(target)  # KeyError: a target that does not stand (forged)
            if event.kind == "void":
                result.voided_by[target] = event.seq
                continue
            result.superseded_by[target] = event.seq
            command = entry_command(event.data["target_kind"], event.data["corrected"], at=original.command.at,
                                    actor=original.command.actor, episode_id=event.episode_id,
                                    override_reason=event.override.reason if event.override else None)
            by_place[target] = Entry(target, event.seq, event.recorded_at, command, (), event.seq)
            continue
        if event.data.get("late") is True:
            result.changes += 1
        by_place[event.seq] = Entry(event.seq, event.seq, event.recorded_at, entry_command(
            event.kind, event.data, at=event.at, actor=event.actor, episode_id=event.episode_id,
            override_reason=event.override.reason if event.override else None), _own_grant(event))
    result.entries = sorted(
        (replace(e, grants=e.grants + tuple(extra.get(e.place, ()))) for e in by_place.values()), key=lambda e: e.key)
    return result


# -- re-deciding ---------------------------------------------------------------------------------

@dataclass
class Redecided:
    """The effective history re-decided: the episode it folds to, its events, and what the pending
    step's override had to pass (place -> rules)."""

    episode: Episode
    events: list[Event]
    needs: dict[int, tuple[str, ...]]


def _covered(rules: set[str], grants: tuple[Grant, ...]) -> tuple[set[str], Grant | None]:
    """The rules no grant passes, and the grant to name on the record (the first that passes any)."""
    left, named = set(rules), None
    for grant in grants:
        passed = left if grant.rules is None else left & grant.rules
        if passed and named is None:
            named = grant
        left -= passed
    return left, named


def _refused(found: list[Violation], breaks: int | None) -> Refused:
    """The refusal of a change: at a recorded event (`breaks`) its `earliest_at` would be that event's, not a time
    from which the change could be recorded, so it is dropped there."""
    if breaks is not None:
        found = [replace(v, earliest_at=None) for v in found]
    return Refused(found, breaks_seq=breaks)


def redecide(history: Standing, *, pending: Grant | None = None, pending_place: int | None = None,
             as_of: datetime | None = None) -> Redecided:
    """Re-decide every entry against the fold of the entries before it; Refused (with `breaks_seq`) at the
    first that a rule refuses and no grant passes. `pending` is the override of the step being decided,
    offered for its own entry (`pending_place`) and for any later one it newly breaks."""
    episode = apply(None, history.opening)
    events: list[Event] = []
    needs: dict[int, tuple[str, ...]] = {}
    for entry in history.entries:
        command = entry.command
        if as_of is not None and command.at > as_of:
            break
        breaks = None if entry.place == pending_place else entry.place
        if command.at < history.opening.at:
            raise Refused([Violation("TIME_ORDER", False, "the time given is before the episode was opened",
                                     history.opening.at)], breaks_seq=breaks)
        judged = evaluate(episode, command, entry.recorded_at, placed=True)
        hard = [v for v in judged.found if not v.overridable]
        if judged.structural or hard:
            raise _refused(judged.found, breaks)
        override = None
        if judged.found:
            rules = {v.rule for v in judged.found}
            left, named = _covered(rules, entry.grants)
            if left:
                if pending is None:
                    raise _refused([v for v in judged.found if v.rule in left], breaks)
                needs[entry.place] = tuple(v.rule for v in Refused(judged.found).violations if v.rule in left)
                named = named or pending
            assert named is not None
            ordered = Refused(judged.found)
            override = Override(rule=ordered.rule, rules=ordered.rules, reason=named.reason, actor=named.actor)
        event = judged.event(entry.seq, override)
        events.append(event)
        episode = apply(episode, event)
    last = max([history.opening.seq] + [e.seq for e in events]) if as_of is not None else history.head
    episode = episode.model_copy(update={"version": last, "corrections": history.changes})
    return Redecided(episode, events, needs)


def episode_of(events: Sequence[Event], as_of: datetime | None = None) -> Episode | None:
    """The episode the stored events make (the one meaning of an episode), optionally as it stood at
    clinical time `as_of` by the record as it stands now. Without corrections, a plain fold."""
    if not events:
        return None
    if not any(is_change(e) for e in events):
        return fold(events, as_of=as_of)
    if as_of is not None and as_of < events[0].at:
        return None
    episode = effective_history(events, as_of=as_of)[1].episode
    if as_of is not None:  # the changes this view includes: those about a time up to as_of
        episode = episode.model_copy(update={"corrections": sum(1 for c in changes(events) if c.at <= as_of)})
    return episode


def effective_history(events: Sequence[Event], as_of: datetime | None = None) -> tuple[Standing, Redecided]:
    """The effective history of stored events, re-decided. A history that no longer re-decides (a forged
    or broken record) is an integrity failure (exit 5): no reader may present it as what stands."""
    try:
        history = standing(events)
        return history, redecide(history, as_of=as_of)
    except (Refused, ValueError, KeyError) as err:
        raise IntegrityError(f"episode {events[0].episode_id}'s corrected history no longer replays "
                             f"({type(err).__name__}); see `crs audit verify`") from None


# -- deciding a correction, a void or a late entry -------------------------------------------------

def _target_violation(message: str) -> Refused:
    return Refused([Violation("CORRECTION_TARGET", False, message)])


def _target(history: Standing, seq: int, allowed: frozenset[str], verb: str) -> Entry:
    kind = history.kinds.get(seq)
    if kind is None:
        raise _target_violation(f"there is no event {seq} in this episode to {verb}")
    if seq in history.superseded_by or seq in history.voided_by:
        by = history.superseded_by.get(seq) or history.voided_by[seq]
        how = "superseded" if seq in history.superseded_by else "voided"
        raise _target_violation(f"event {seq} was already {how} by event {by}; it no longer stands")
    entry = history.entry_at(seq)
    if kind not in allowed or entry is None:
        names = ["observe", "give", "act", "resolve"][:len(allowed)]
        raise _target_violation(f"event {seq} is a{'n' if kind[0] in 'aeiou' else ''} {kind}: only "
                                f"{', '.join(names[:-1])} or {names[-1]} events can be {verb}ed")
    return entry


def _corrected(entry: Entry, command: Correct) -> tuple[StepCommand, list[str]]:
    """The target's command with the corrected inputs (same clinical time, same actor), and the recorded
    inputs it no longer has (stored as `unset`, so a replay of the correction rebuilds exactly this)."""
    old = entry.command
    kind = old.kind
    allowed = INPUTS[kind]
    stray = sorted((set(command.changes) | set(command.unset)) - allowed)
    if stray:
        raise Invalid(f"event {command.target_seq} is a{'n' if kind[0] in 'aeiou' else ''} {kind}: "
                      f"{', '.join(stray)} {'is' if len(stray) == 1 else 'are'} not among its inputs "
                      f"({', '.join(sorted(allowed))})")
    before = inputs_of(kind, _recorded_data(old))
    merged = {k: v for k, v in before.items() if k not in command.unset} | dict(command.changes)
    if kind == "give" and "drug" in command.changes and "route" not in command.changes:
        merged.pop("route", None)  # another drug: its own usual route unless one is given
    values: dict[str, Any] = {"observation": merged} if kind == "observe" else dict(merged)
    if isinstance(old, RecordObservation) and old.note is not None:  # an observe's note is not an input: carried
        values["note"] = old.note
    if kind == "give":
        values.setdefault("route", None)
    if old.late is not None:  # a late entry corrected is still a late entry
        values |= {"late": True, "late_reason": old.late}
    try:
        corrected = entry_command(kind, values, at=old.at, actor=old.actor, episode_id=old.episode_id,
                                  override_reason=command.override_reason)
    except (ValidationError, KeyError) as err:
        raise Invalid(f"the corrected values are not a valid {kind}: {_first_error(err)}") from None
    after = inputs_of(kind, _recorded_data(corrected))
    if after == before:
        raise Invalid(f"the correction changes nothing in event {command.target_seq}")
    return corrected, sorted(set(before) - set(after))


def _recorded_data(c: StepCommand) -> dict[str, Any]:
    """The inputs of an entry's command, in the shape its event records them."""
    if isinstance(c, RecordObservation):
        return {"observation": c.observation.inputs()}
    if isinstance(c, AdministerDose):
        return {"drug": c.drug.value, "dose_mg": c.dose_mg, "route": (c.route or DEFAULT_ROUTE[c.drug]).value}
    if isinstance(c, RecordAction):
        return {"action": c.action.value, **({"note": c.note} if c.note else {})}
    raise ValueError("not a correctable entry")


def _first_error(err: Exception) -> str:
    if isinstance(err, ValidationError):
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"] if p not in ("observation",))
        message = first["msg"].removeprefix("Value error, ")
        return f"{where}: {message}" if where else message
    return f"missing {err}"


def decide_change(current: Episode, events: Sequence[Event], command: EntryCommand | Correct | Void,
                  now: datetime) -> tuple[Event, Episode]:
    """A correction, void or late entry: the event it makes and the episode after it, or Refused.

    `events` are the episode's stored events (seq order) and `current` their fold (the snapshot)."""
    now = as_utc(now)
    if current.is_closed:
        raise Refused([Violation("EPISODE_CLOSED", False, "the episode is closed and takes no further step")])
    history = standing(events)
    if history.head != current.version:
        raise IntegrityError(f"episode {current.id}: its snapshot is not at the end of its history; "
                             "see `crs audit verify`")
    seq = history.head + 1
    pending = Grant(command.override_reason, command.actor, None) if command.override_reason else None
    entries = list(history.entries)
    place: int | None
    data: dict[str, Any]
    if isinstance(command, (Correct, Void)):
        verb = "correct" if isinstance(command, Correct) else "void"
        entry = _target(history, command.target_seq, CORRECTABLE if verb == "correct" else VOIDABLE, verb)
        data = {"target_seq": command.target_seq, "target_kind": entry.command.kind, "reason": command.reason}
        at, place = entry.command.at, entry.place
        entries.remove(entry)
        # as standing() will read it: a late entry replaced takes the overrides it gave other entries with it
        entries = [replace(e, grants=tuple(g for g in e.grants if g.by != entry.place)) for e in entries]
        if isinstance(command, Correct):
            corrected, unset = _corrected(entry, command)
            check_screen(current, corrected)
            entries.append(Entry(place, seq, now, corrected, (), seq))  # as if recorded so: no old grants
            if unset:
                data["unset"] = unset
        else:
            place = None
    else:
        if (too_late := future_violation(command.at, now)) is not None:
            raise Refused([too_late])
        if command.at >= current.last_at:
            raise Invalid("--late is for a clinical time before the episode's latest event; this one is not "
                          "earlier: record it without --late")
        check_screen(current, command)
        at, place = command.at, seq
        entries.append(Entry(seq, seq, now, command))
    changed = Standing(history.opening, sorted(entries, key=lambda e: e.key), seq, history.changes + 1)
    result = redecide(changed, pending=pending, pending_place=place)
    if isinstance(command, Correct):
        data["corrected"] = next(e for e in result.events if e.seq == seq).data
    elif not isinstance(command, Void):
        data = dict(next(e for e in result.events if e.seq == seq).data)
    override = None
    if result.needs:  # what only this step's override passes, entry by entry (its own entry included)
        data["overrides"] = {str(p): list(rules) for p, rules in sorted(result.needs.items())}
        rules = tuple(dict.fromkeys(r for p in sorted(result.needs) for r in result.needs[p]))
        assert command.override_reason is not None
        override = Override(rule=rules[0], rules=rules, reason=command.override_reason, actor=command.actor)
    kind = command.kind
    data["pathway"] = PATHWAY_VERSION
    event = Event(episode_id=current.id, seq=seq, kind=kind, at=at, recorded_at=now, actor=command.actor,
                  from_state=current.state.value, to_state=result.episode.state.value, data=data, override=override)
    return event, result.episode


# -- what was recorded and what stands (history, report, --as-of) ------------------------------------

@dataclass(frozen=True)
class Change:
    """One correction, void or late entry, told as QA reads it: who, when, why, before -> after."""

    seq: int  # the correcting event (for a late entry: the entry itself)
    kind: str  # "correct" | "void" | "late"
    target_seq: int | None  # the event superseded or voided; None for a late entry
    target_kind: str  # observe | give | act | resolve
    at: datetime  # the clinical time the change is about
    recorded_at: datetime
    actor: str
    reason: str
    before: dict[str, Any] | None  # the inputs first recorded (None for a late entry)
    after: dict[str, Any] | None  # the inputs that stand (None for a void)
    override: Override | None  # the override that passed rules it broke in the corrected history
    overrides: dict[str, list[str]]  # per recorded event (seq), the overridable rules that override passed

    def as_json(self) -> dict[str, Any]:
        from pathway.clock import iso

        return {"seq": self.seq, "kind": self.kind, "target_seq": self.target_seq, "target_kind": self.target_kind,
                "at": iso(self.at), "recorded_at": iso(self.recorded_at), "actor": self.actor, "reason": self.reason,
                "before": self.before, "after": self.after,
                "override": self.override.model_dump(mode="json") if self.override else None,
                "overrides": self.overrides}


def changes(events: Sequence[Event]) -> list[Change]:
    """Every correction, void and late entry among stored events, in the order recorded (pure bookkeeping)."""
    by_seq = {e.seq: e for e in events}
    found: list[Change] = []
    for event in events:
        if not is_change(event):
            continue
        d = event.data
        overrides = {str(k): list(v) for k, v in (d.get("overrides") or {}).items()}
        if event.kind in CHANGE_KINDS:
            target = by_seq.get(d["target_seq"])
            kind = d["target_kind"]
            before = inputs_of(kind, target.data) if target is not None and kind in INPUTS else None
            after = inputs_of(kind, d["corrected"]) if event.kind == "correct" else None
            found.append(Change(event.seq, event.kind, d["target_seq"], kind, event.at, event.recorded_at,
                                event.actor, d["reason"], before, after, event.override, overrides))
        else:
            found.append(Change(event.seq, "late", None, event.kind, event.at, event.recorded_at, event.actor,
                                d.get("late_reason", ""), None, inputs_of(event.kind, d), event.override, overrides))
    return found
