"""The suite's own account of a corrected history: what stands, and that history re-decided entry by entry.

Written from CONTRACT.md "Corrections and late entries" and CLINICAL.md §10, NOT from
pathway/history.py, so a bug in the core's bookkeeping or in its re-check of later events cannot
also blind the check meant to catch it:

- Record: which stored events stand (a voided one removed, a corrected one carrying its corrected
  values at its own clinical time, late entries at theirs) and which overrides were granted to which
  entry (an entry's own override; a correction's, void's or late entry's `overrides` listing, per
  entry; a corrected entry starts again with no grant: its values are new; a late entry voided or
  corrected takes the grants its override gave other entries with it, so no later change leans on them).
- redecide(): every standing entry, in clinical-time order, judged by the pathway's own rules
  (`pathway.machine.evaluate`, the same function an ordinary step goes through) against the fold of the
  entries before it, as if recorded on time. It never stops at a problem: it lists every entry that a
  hard rule refuses or whose overridable rules no grant passes (Breach), and folds on, so the safety
  predicates of safety.py can still read the whole effective history's doses.
- predict(): what a correct / void / late entry must do (invalid input, refused by which rules with
  which `breaks_seq`, or accepted with which per-entry `overrides`), checked against decide_change().

The hard limits themselves are judged by safety.history_problems over the events redecide() returns:
those restate CLINICAL.md and never call a guard.
"""

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from pathway import machine
from pathway.commands import AdministerDose, Close, Correct, RecordAction, RecordObservation, Resolve, StepCommand, Void
from pathway.drugs import DEFAULT_ROUTE
from pathway.episode import Episode, apply
from pathway.errors import Refused
from pathway.events import Event, Override
from pathway.observations import Observation

CORRECTABLE = frozenset({"observe", "give", "act"})
VOIDABLE = CORRECTABLE | {"resolve"}
FUTURE_TOLERANCE = timedelta(minutes=5)
ChangeCommand = Correct | Void | RecordObservation | AdministerDose | RecordAction


def is_late(event: Event) -> bool:
    return event.data.get("late") is True


def is_change(event: Event) -> bool:
    """A correction, a void or a late entry (CONTRACT: each is one new event)."""
    return event.kind in ("correct", "void") or is_late(event)


def change_kind(command: ChangeCommand) -> str:
    return command.kind if isinstance(command, (Correct, Void)) else "late"


# -- commands from recorded values -------------------------------------------------------------------

def inputs_of(command: StepCommand) -> dict[str, Any]:
    """The inputs a correction may change, in the names `Correct.changes` uses (CONTRACT)."""
    if isinstance(command, RecordObservation):
        return command.observation.inputs()
    if isinstance(command, AdministerDose):
        return {"drug": command.drug.value, "dose_mg": command.dose_mg,
                "route": command.route.value if command.route else None}
    if isinstance(command, RecordAction):
        return {"action": command.action.value, **({"note": command.note} if command.note else {})}
    return {}


def taken_inputs(command: StepCommand) -> dict[str, Any]:
    """inputs_of, with a dose's route as given (the drug's default route when none was named)."""
    values = inputs_of(command)
    if isinstance(command, AdministerDose) and values["route"] is None:
        values["route"] = DEFAULT_ROUTE[command.drug].value
    return values


def stored_inputs(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    """The inputs an observe / give / act event's data records."""
    if kind == "observe":
        return dict(data["observation"])
    if kind == "give":
        return {"drug": data["drug"], "dose_mg": data["dose_mg"], "route": data["route"]}
    if kind == "act":
        return {"action": data["action"], **({"note": data["note"]} if data.get("note") else {})}
    return {}


def build(kind: str, values: dict[str, Any], *, at: datetime, actor: str, episode_id: str,
          late: str | None = None, note: str | None = None) -> StepCommand:
    """The step command that records `values` (pydantic validates it as the CLI would); `note`: an observation's
    free text, which is not among its inputs (a correction carries it unchanged)."""
    common: dict[str, Any] = {"at": at, "actor": actor, "episode_id": episode_id}
    if kind == "observe":
        return RecordObservation(**common, observation=Observation(**values), late=late, note=note)
    if kind == "give":
        return AdministerDose(**common, drug=values["drug"], dose_mg=values["dose_mg"], route=values.get("route"),
                              late=late)
    if kind == "act":
        return RecordAction(**common, action=values["action"], note=values.get("note"), late=late)
    if kind == "resolve":
        return Resolve(**common)
    if kind == "close":
        return Close(**common, reason=values.get("reason"))
    raise ValueError(f"no entry for a {kind} event")


def command_of(event: Event) -> StepCommand:
    """The entry a stored observe / give / act / resolve / close event records (late ones keep their reason)."""
    values = stored_inputs(event.kind, event.data) if event.kind in CORRECTABLE else dict(event.data)
    return build(event.kind, values, at=event.at, actor=event.actor, episode_id=event.episode_id,
                 late=event.data.get("late_reason") if is_late(event) else None,
                 note=event.data.get("note") if event.kind == "observe" else None)


def wrong_screen(episode: Episode, command: StepCommand) -> bool:
    """CLINICAL §2b: the other age group's ICANS screen is invalid input (exit 2)."""
    if not isinstance(command, RecordObservation):
        return False
    obs = command.observation
    if episode.age_years < episode.policy.capd_below_age_years:
        return obs.ice_score is not None
    return obs.capd_score is not None or obs.capd_unable


# -- what stands ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Grant:
    """Overridable rules passed for one entry (rules None: the pending step's override, any rule)."""

    reason: str
    actor: str
    rules: frozenset[str] | None
    source: int = 0  # the stored seq whose override this is (0: the pending step's)


@dataclass(frozen=True)
class Entry:
    place: int  # the stored seq whose place this is (the original entry, or the late entry)
    seq: int  # the stored seq whose values stand (the original, its correction, or the late entry)
    recorded_at: datetime
    command: StepCommand
    grants: tuple[Grant, ...] = ()

    @property
    def key(self) -> tuple[datetime, int]:
        return (self.command.at, self.place)


@dataclass
class Record:
    """What the stored events make stand, kept event by event (from their canonical JSON)."""

    opening: Event
    entries: dict[int, Entry] = field(default_factory=dict)
    kinds: dict[int, str] = field(default_factory=dict)
    superseded_by: dict[int, int] = field(default_factory=dict)
    voided_by: dict[int, int] = field(default_factory=dict)
    changes: int = 0
    head: int = 1
    late: set[int] = field(default_factory=set)  # seqs of late entries

    @classmethod
    def start(cls, opening: Event) -> "Record":
        return cls(opening=opening, kinds={opening.seq: "open"}, head=opening.seq)

    def copy(self) -> "Record":
        return replace(self, entries=dict(self.entries), kinds=dict(self.kinds),
                       superseded_by=dict(self.superseded_by), voided_by=dict(self.voided_by), late=set(self.late))

    def add(self, event: Event) -> None:
        """Fold one stored event into what stands (KeyError: a change whose target does not stand)."""
        self.head, self.kinds[event.seq] = event.seq, event.kind
        data = event.data
        if event.kind in ("correct", "void"):
            self.changes += 1
            target = data["target_seq"]
            old = self.entries.pop(target)
            # a late entry voided or corrected takes the overrides it gave other entries with it
            self.entries = {p: replace(e, grants=tuple(g for g in e.grants if g.source != target))
                            for p, e in self.entries.items()}
            if event.kind == "void":
                self.voided_by[target] = event.seq
            else:
                self.superseded_by[target] = event.seq
                command = build(data["target_kind"], stored_inputs(data["target_kind"], data["corrected"]),
                                at=old.command.at, actor=old.command.actor, episode_id=event.episode_id,
                                late=getattr(old.command, "late", None), note=getattr(old.command, "note", None)
                                if data["target_kind"] == "observe" else None)  # an observation's note: carried
                self.entries[target] = Entry(target, event.seq, event.recorded_at, command)
        else:
            late = is_late(event)
            self.changes += late
            if late:
                self.late.add(event.seq)
            own = () if late or event.override is None else (
                Grant(event.override.reason, event.override.actor, frozenset(event.override.rules), event.seq),)
            self.entries[event.seq] = Entry(event.seq, event.seq, event.recorded_at, command_of(event), own)
        if is_change(event) and event.override is not None:
            for place, rules in (data.get("overrides") or {}).items():
                entry = self.entries[int(place)]
                grant = Grant(event.override.reason, event.override.actor, frozenset(rules), event.seq)
                self.entries[int(place)] = replace(entry, grants=entry.grants + (grant,))

    def standing(self) -> list[Entry]:
        return sorted(self.entries.values(), key=lambda e: e.key)

    def target_problem(self, seq: int, allowed: frozenset[str]) -> str | None:
        """Why event `seq` cannot be corrected / voided (CORRECTION_TARGET), or None."""
        kind = self.kinds.get(seq)
        if kind is None:
            return "missing"
        if seq in self.superseded_by or seq in self.voided_by:
            return "no longer stands"
        if kind not in allowed or seq not in self.entries:
            return f"a {kind}"
        return None


# -- re-deciding ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Breach:
    """An entry of the (corrected) history that a hard rule refuses, or whose overridable rules no grant passes."""

    place: int
    rules: tuple[str, ...]
    hard: bool


@dataclass
class Redecided:
    events: list[Event]  # the open event, then each effective entry as re-decided (unfoldable ones left out)
    episode: Episode
    breaches: list[Breach]
    needs: dict[int, tuple[str, ...]]  # what only the pending override passes, per place


def _ordered(found: list[Any]) -> list[Any]:
    return sorted(found, key=lambda v: v.overridable)  # hard first, stable (as a refusal lists them)


def redecide(opening: Event, entries: list[Entry], *, head: int, changes: int, pending: Grant | None = None,
             pending_place: int | None = None, first_breach: bool = False) -> Redecided:
    """Judge each entry against the fold of the entries before it (as if recorded on time) and fold on.

    `first_breach`: stop at the first breach (a prediction of a refusal needs no more)."""
    episode = apply(None, opening)
    events: list[Event] = [opening]
    breaches: list[Breach] = []
    needs: dict[int, tuple[str, ...]] = {}
    for entry in entries:
        command = entry.command
        if breaches and first_breach:
            break
        if command.at < opening.at:
            breaches.append(Breach(entry.place, ("TIME_ORDER",), True))
            continue
        judged = machine.evaluate(episode, command, entry.recorded_at, placed=True)
        found = _ordered(judged.found)
        rules = tuple(v.rule for v in found)
        if any(not v.overridable for v in found) or judged.structural:
            breaches.append(Breach(entry.place, rules, True))
            if judged.structural:
                continue
        soft = [v.rule for v in found if v.overridable]
        left, named = set(soft), None
        for grant in entry.grants:
            passed = left if grant.rules is None else left & grant.rules
            if passed and named is None:
                named = grant
            left -= passed
        if left:
            uncovered = tuple(r for r in soft if r in left)
            if pending is None:
                breaches.append(Breach(entry.place, uncovered, False))
            else:
                needs[entry.place] = uncovered
                named = named or pending
        override = None
        if found:
            named = named or Grant("(refused)", "(refused)", None)
            override = Override(rule=rules[0], rules=rules, reason=named.reason, actor=named.actor)
        try:
            event = judged.event(entry.seq, override)
        except Refused as err:  # the table routes nowhere: a structural breach
            breaches.append(Breach(entry.place, err.rules, True))
            continue
        events.append(event)
        episode = apply(episode, event)
    episode = episode.model_copy(update={"version": head, "corrections": changes})
    return Redecided(events, episode, breaches, needs)


def redecide_record(record: Record) -> Redecided:
    return redecide(record.opening, record.standing(), head=record.head, changes=record.changes)


# -- what a change must do ------------------------------------------------------------------------------

@dataclass
class Prediction:
    invalid: str | None = None  # why the change is invalid input (exit 2)
    refused: tuple[str, ...] | None = None  # the rules that must refuse it
    breaks_seq: int | None = None
    redecided: Redecided | None = None  # the changed history re-decided (None: never got that far)
    place: int | None = None  # the changed entry's place (None for a void)
    target: Entry | None = None
    merged: dict[str, Any] | None = None  # a correction's inputs: the target's minus unset, plus changes

    @property
    def accepted(self) -> bool:
        return self.invalid is None and self.refused is None


def predict(record: Record, episode: Episode, command: ChangeCommand, now: datetime) -> Prediction:
    """What decide_change must do with this correction, void or late entry (CONTRACT, CLINICAL §10)."""
    if episode.is_closed:
        return Prediction(refused=("EPISODE_CLOSED",))
    seq = record.head + 1
    entries = dict(record.entries)
    out = Prediction()
    if isinstance(command, (Correct, Void)):
        allowed = CORRECTABLE if isinstance(command, Correct) else VOIDABLE
        if record.target_problem(command.target_seq, allowed) is not None:
            return Prediction(refused=("CORRECTION_TARGET",))
        target = out.target = entries.pop(command.target_seq)
        entries = {p: replace(e, grants=tuple(g for g in e.grants if g.source != target.place))  # (see Record.add)
                   for p, e in entries.items()}
        if isinstance(command, Correct):
            old = target.command
            before = taken_inputs(old)
            merged = {k: v for k, v in before.items() if k not in command.unset} | dict(command.changes)
            if old.kind == "give" and "drug" in command.changes and "route" not in command.changes:
                merged.pop("route", None)  # another drug: its own usual route unless one is given (core 3b25fb3)
            out.merged = merged
            try:
                corrected = build(old.kind, merged, at=old.at, actor=old.actor, episode_id=old.episode_id,
                                  late=getattr(old, "late", None),  # a late entry corrected stays late
                                  note=getattr(old, "note", None) if old.kind == "observe" else None)
            except (ValidationError, KeyError):
                out.invalid = "the corrected values are not a valid entry"
                return out
            if taken_inputs(corrected) == before:
                out.invalid = "the correction changes nothing"
                return out
            if wrong_screen(episode, corrected):
                out.invalid = "the corrected observation has the wrong ICANS screen"
                return out
            out.place = target.place
            entries[target.place] = Entry(target.place, seq, now, corrected)
    else:
        if command.at > now + FUTURE_TOLERANCE:
            return Prediction(refused=("TIME_FUTURE",))
        if command.at >= episode.last_at:
            return Prediction(invalid="a late entry must be earlier than the latest event")
        if wrong_screen(episode, command):
            return Prediction(invalid="the late observation has the wrong ICANS screen")
        out.place = seq
        entries[seq] = Entry(seq, seq, now, command)
    pending = Grant(command.override_reason, command.actor, None) if command.override_reason else None
    result = redecide(record.opening, sorted(entries.values(), key=lambda e: e.key), head=seq,
                      changes=record.changes + 1, pending=pending, pending_place=out.place, first_breach=True)
    out.redecided = result
    if result.breaches:
        first = result.breaches[0]
        out.refused = first.rules
        out.breaks_seq = None if first.place == out.place else first.place
    return out


# -- judging what decide_change did ------------------------------------------------------------------

def same_but_counters(a: Episode, b: Episode) -> bool:
    """Equal but for `version` and `corrections` (counters of the record, not of the clinical picture)."""
    blank = {"version": 0, "corrections": 0}
    return a.model_copy(update=blank) == b.model_copy(update=blank)


def chain_problems(events: list[Event], canon: list[str]) -> list[str]:
    """The stored events: seq 1..n, each starting in the state the previous ended in, and each exactly as
    it was when accepted (its canonical JSON, what the hash chain covers, never rewritten)."""
    out: list[str] = []
    if len(events) != len(canon):
        out.append(f"CHAIN: {len(events)} events stored, {len(canon)} accepted")
    for i, (event, canonical) in enumerate(zip(events, canon), start=1):
        if event.seq != i:
            out.append(f"CHAIN: event {i} has seq {event.seq}")
        if event.canonical() != canonical:
            out.append(f"CHAIN: event seq {event.seq} ({event.kind}) changed after it was accepted")
        if i > 1 and event.from_state != events[i - 2].to_state:
            out.append(f"CHAIN: seq {event.seq} starts in {event.from_state}, seq {i - 1} ended in "
                       f"{events[i - 2].to_state}")
    return out


def accepted_problems(cmd: ChangeCommand, now: datetime, pre: Episode, n: int, event: Event, after: Episode,
                      prediction: Prediction, reference: bool, cross: bool = True) -> list[str]:
    """An accepted correction, void or late entry: the one event it appends, its override listing exactly
    what only its override passes in the corrected history, and the episode it leaves (`cross`: compare
    those with the suite's own re-decision; without it, only the event's envelope)."""
    out: list[str] = []
    kind = change_kind(cmd)
    result = prediction.redecided
    if reference and not prediction.accepted:
        why = prediction.invalid or f"{prediction.refused} (breaks_seq {prediction.breaks_seq})"
        first = prediction.refused[0] if prediction.refused else "CHANGE_REFERENCE"
        out.append(f"{first}: the {kind} was accepted although it must be refused or invalid: {why}")
    want_kind = cmd.kind
    want_at = prediction.target.command.at if prediction.target is not None else cmd.at
    if (event.seq, event.kind, event.at, event.recorded_at, event.actor) != (n + 1, want_kind, want_at, now, cmd.actor):
        out.append(f"CHANGE_EVENT: {kind} stored as seq {event.seq} {event.kind} at {event.at} recorded "
                   f"{event.recorded_at} by {event.actor!r}; expected seq {n + 1} {want_kind} at {want_at} recorded "
                   f"{now} by {cmd.actor!r}")
    if event.from_state != pre.state.value or event.to_state != after.state.value:
        out.append(f"CHANGE_EVENT: seq {event.seq} {event.from_state} -> {event.to_state}, the episode went "
                   f"{pre.state.value} -> {after.state.value}")
    data = event.data
    if isinstance(cmd, (Correct, Void)):
        target = prediction.target
        if target is not None and (data.get("target_seq"), data.get("target_kind"), data.get("reason")) != (
                cmd.target_seq, target.command.kind, cmd.reason):
            out.append(f"CHANGE_EVENT: seq {event.seq} names target {data.get('target_seq')} "
                       f"({data.get('target_kind')}), reason {data.get('reason')!r}")
    elif data.get("late") is not True or data.get("late_reason") != cmd.late:
        out.append(f"CHANGE_EVENT: late entry seq {event.seq} is not marked late with its reason: {data}")
    if result is None or not prediction.accepted or not cross:
        return out
    placed = next((e for e in result.events if e.seq == n + 1), None)
    if isinstance(cmd, Correct):
        if (prediction.target is not None and prediction.target.command.kind == "observe"
                and (data.get("corrected") or {}).get("note") != getattr(prediction.target.command, "note", None)):
            out.append(f"CHANGE_EVENT: correction seq {event.seq} of an observation does not carry its note "
                       f"unchanged: {(data.get('corrected') or {}).get('note')!r}")
        if placed is None or data.get("corrected") != placed.data:
            out.append(f"CHANGE_EVENT: correction seq {event.seq} stores {data.get('corrected')}, the entry re-decided "
                       f"at its place is {placed.data if placed else None}")
        elif stored_inputs(placed.kind, placed.data) != taken_inputs(
                build(placed.kind, prediction.merged or {}, at=cmd.at, actor=cmd.actor, episode_id=cmd.episode_id)):
            out.append(f"CHANGE_EVENT: correction seq {event.seq} stands for {stored_inputs(placed.kind, placed.data)},"
                       f" not the target's inputs with the changes ({prediction.merged})")
    elif not isinstance(cmd, Void):
        if isinstance(cmd, RecordObservation) and data.get("note") != cmd.note:  # only when given, as given
            out.append(f"CHANGE_EVENT: late observation seq {event.seq} stores note {data.get('note')!r}, "
                       f"not {cmd.note!r}")
        own = {k: v for k, v in data.items() if k != "overrides"}
        if placed is None or own != placed.data:
            out.append(f"CHANGE_EVENT: late entry seq {event.seq} stores {own}, re-decided at its place it is "
                       f"{placed.data if placed else None}")
    # overrides: exactly what only this step's override passes, per entry
    want = {str(p): list(rules) for p, rules in sorted(result.needs.items())}
    got = data.get("overrides") or {}
    if got != want:
        out.append(f"OVERRIDE: {kind} seq {event.seq} lists overrides {got}; in the corrected history its override "
                   f"had to pass {want}")
    ov = event.override
    if want:
        union = {r for rules in want.values() for r in rules}
        if ov is None:
            out.append(f"OVERRIDE: {kind} seq {event.seq} broke overridable {sorted(union)} but carries no override")
        elif set(ov.rules) != union or ov.rule != ov.rules[0] or ov.reason != cmd.override_reason \
                or ov.actor != cmd.actor:
            out.append(f"OVERRIDE: {kind} seq {event.seq} override {ov} does not pass exactly {sorted(union)} with "
                       f"the clinician's reason {cmd.override_reason!r} and actor {cmd.actor!r}")
    elif ov is not None:
        out.append(f"OVERRIDE: {kind} seq {event.seq} carries an override {ov.rules} although the corrected history "
                   "broke no overridable rule that was not already passed")
    if after != result.episode:
        fields = [k for k in Episode.model_fields if getattr(after, k) != getattr(result.episode, k)]
        out.append(f"FOLD: after the {kind}, decide_change's episode differs from the corrected history re-decided "
                   f"entry by entry in {fields}")
    return out


def refused_problems(cmd: ChangeCommand, err: Refused | None, invalid: str | None, prediction: Prediction,
                     record: Record, reference: bool) -> list[str]:
    """A refused (or invalid) change: a refusal names known rules, hard first, never one an override given
    would pass, and `breaks_seq` is a recorded entry that stands; with the reference on, it is the
    predicted refusal (same rules, same breaks_seq) or the predicted invalid input."""
    from pathway.rules import RULES

    out: list[str] = []
    kind = change_kind(cmd)
    if err is not None:
        unknown = [r for r in err.rules if r not in RULES]
        if unknown:
            out.append(f"REFUSAL: {kind} refused with unknown rule IDs {unknown}")
        flags = [v.overridable for v in err.violations]
        if flags != sorted(flags):
            out.append(f"REFUSAL: {kind} refused with hard rules not first: {err.rules}")
        if err.overridable and cmd.override_reason:
            out.append(f"REFUSAL: {kind} refused {err.rules} although all are overridable and a reason was given")
        if err.breaks_seq is not None and err.breaks_seq not in record.entries:
            out.append(f"REFUSAL: {kind} names breaks_seq {err.breaks_seq}, which is not a standing entry")
    if not reference:
        return out
    if invalid is not None and prediction.invalid is None:
        out.append(f"CHANGE_REFERENCE: the {kind} was invalid input ({invalid}); predicted "
                   f"{'refused ' + str(prediction.refused) if prediction.refused else 'accepted'}")
    if err is not None:
        if prediction.refused is None:
            first = err.rules[0]
            out.append(f"{first}: the {kind} was refused {err.rules} (breaks_seq {err.breaks_seq}); predicted "
                       f"{'invalid: ' + prediction.invalid if prediction.invalid else 'accepted'}")
        elif (err.rules, err.breaks_seq) != (prediction.refused, prediction.breaks_seq):
            out.append(f"{prediction.refused[0]}: the {kind} was refused {err.rules} breaks_seq {err.breaks_seq}; "
                       f"predicted {prediction.refused} breaks_seq {prediction.breaks_seq}")
    return out
