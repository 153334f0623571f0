"""The plumbing of the stateful suite: one live episode driven through decide() + apply().

EpisodeDriver keeps the episode, its events, the clock and a reference model, decides each
command against the live episode and records the outcome (StepRecord) for the invariants in
episode_machine.py to judge. It defines no rules itself.

Issue 10: a correction, void or late entry goes through `pathway.history.decide_change(current,
events, command, now)` with the machine's own event list (`_change`), beside a prediction of what it
must do (tests/properties/effective.py) and recorded as a ChangeRecord. The machine then keeps the
effective history (`self.effective`: the open event and every standing entry re-decided, in
clinical-time order), which all history and status invariants read; while nothing was changed it is
the event list itself, so the common step costs what it did.
"""

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from hypothesis import note
from hypothesis.control import should_note
from hypothesis.stateful import RuleBasedStateMachine

from pathway.commands import AdministerDose, OpenEpisode, RecordObservation, StepCommand
from pathway.drugs import Drug
from pathway.episode import Episode, apply, fold
from pathway.errors import Invalid, Refused
from pathway.events import Event
from pathway.history import changes as core_changes, decide_change, effective_history, episode_of
from pathway.machine import decide, decide_open
from pathway.policy import Policy
from pathway.replay import replay, replay_problems
from tests.properties import effective as E, reach, safety, strategies as S
from tests.properties.model import ReferenceModel

EPISODE_ID = "EP-PROP"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
ACTOR = "nurse-a"
GUIDED = "guided: clinician follows the pathway"
STATUS_KEYS = {"episode", "patient", "state", "crs_grade", "icans_grade", "next_steps", "due", "basis", "warnings",
               "tocilizumab_doses", "deviations", "policy", "disclaimer"}


def note_lazily(make: Callable[[], str]) -> None:
    """note() for every step, but the text is built only when Hypothesis will report it."""
    if should_note():
        note(make())


def floor_01(x: float) -> float:
    """Round down to 0.1 mg (never above the exact limit)."""
    return math.floor(x * 10 + 1e-9) / 10


@dataclass
class StepRecord:
    """One command decided against the live episode, and its outcome."""

    pre: Episode
    before: dict[str, object]  # pre.model_dump() before decide()
    cmd: StepCommand
    now: datetime
    expected: set[tuple[str, bool]] | None  # the reference model's prediction (None: model off)
    event: Event | None = None
    refused: Refused | None = None
    invalid: Invalid | None = None  # the wrong ICANS screen for the age (exit 2): nothing decided
    wrong_screen: bool | None = None  # the reference model's prediction of Invalid (None: model off)
    grades: tuple[int | None, int | None] | None = None  # the model's (CRS, ICANS) for an observation
    unchanged: bool = True  # after a refusal: same episode object, same events, same content


@dataclass
class ChangeRecord:
    """One correction, void or late entry decided by decide_change(), what it had to do, and what it did."""

    kind: str  # correct | void | late
    label: str  # the case it stands for in the reach report ("dose x10 (56 -> 560 typo)", ...)
    pre: Episode
    before: dict[str, object]  # pre.model_dump() before the decision
    n: int  # stored events before it
    cmd: E.ChangeCommand
    now: datetime
    prediction: E.Prediction
    event: Event | None = None
    after: Episode | None = None  # the episode decide_change returned
    refused: Refused | None = None
    invalid: Invalid | None = None
    unchanged: bool = True  # after a refusal or invalid input: same episode, same events
    standing: E.Record | None = None  # what stood when it was decided (for breaks_seq)


def open_states(self: "EpisodeDriver") -> bool:
    return self.ep is not None and not self.ep.is_closed


class EpisodeDriver(RuleBasedStateMachine):
    """One episode at a time (a new one once it is closed). Subclasses add rules and invariants."""

    NAME = "episodes"
    #: Compare every command with the reference model. Teeth tests switch it off to show that the
    #: history invariants alone catch a disabled guard.
    REFERENCE = True
    #: Full fold / replay of the history at teardown (replay re-decides every event).
    DEEP_TEARDOWN = True
    #: Add this machine's runs to the session's reach report (teeth runs do not).
    COUNTED = True

    def __init__(self) -> None:
        super().__init__()
        self.now = T0
        self.ep: Episode | None = None
        self.events: list[Event] = []
        self.after: list[Episode] = []  # the live episode after each event, for as_of checks
        self.replayed: Episode | None = None  # the fold of the events' canonical JSON, step by step
        self.model: ReferenceModel | None = None
        self.visited: set[str] = set()
        self.pokes = 0  # steps tried on the closed episode
        self.episodes = 0
        self.records: list[StepRecord] = []
        self.change_records: list[ChangeRecord] = []
        self.canon: list[str] = []  # the canonical JSON of every accepted event, as accepted (never rewritten)
        self.effective: list[Event] = self.events  # the effective history, re-decided (the events until a change)
        self.changed = 0  # corrections, voids and late entries accepted in this episode
        self._record: E.Record | None = None  # what stands, folded from self.canon up to _record_len
        self._record_len = 0
        self.cursor: dict[str, int] = {}
        self.episode_visited: set[str] = set()  # states reached by the current episode
        self.kind_visited: dict[str, set[str]] = {}  # episode kind (child, icans-only, ...) -> states reached
        self._status_seen: tuple[Episode, datetime] | None = None  # (episode, now) whose status was last checked

    def _finish_episode(self) -> None:
        """Deep checks on a finished episode (also run at teardown for the last one)."""
        if self.ep is None or not self.DEEP_TEARDOWN:
            return
        assert Episode.model_validate_json(self.ep.model_dump_json()) == self.ep, "FOLD: snapshot round trip"
        if self.changed:
            self._finish_changed_episode()
            return
        assert fold(self.events) == self.ep, "FOLD: fold(events) differs from the live episode"
        for k in {0, len(self.events) // 2, len(self.events) - 1}:
            as_of = self.events[k].at
            last = max(i for i, e in enumerate(self.events) if e.at <= as_of)
            assert fold(self.events, as_of=as_of) == self.after[last], f"FOLD: as_of {as_of} (event {k + 1})"
        problems = replay_problems(self.events)
        assert not problems, f"REPLAY: {problems}"

    def _finish_changed_episode(self) -> None:
        """A history with corrections: the core's one meaning of it (episode_of, redecide, replay, as_of, the
        list of changes) against the live episode and the suite's own effective history."""
        ep, events = self.ep, self.events
        assert ep is not None
        problems = E.chain_problems(events, self.canon)
        assert not problems, "\n".join(problems)
        _, core = effective_history(events)  # what episode_of(events) folds (one pass serves both checks)
        assert core.episode == ep, "FOLD: episode_of(events) differs from the live episode"
        if core.events != self.effective[1:]:
            mine = [(e.seq, e.kind, e.at.isoformat()) for e in self.effective[1:]]
            theirs = [(e.seq, e.kind, e.at.isoformat()) for e in core.events]
            diff = next((f"{a!r} != {b!r}" for a, b in zip(core.events, self.effective[1:]) if a != b), "")
            raise AssertionError(f"EFFECTIVE: redecide(standing(events)).events differ from the entries re-decided "
                                 f"as if recorded on time: core {theirs} vs {mine}; first difference {diff}"[:3000])
        for k in sorted({len(self.effective) // 3, 2 * len(self.effective) // 3}):
            as_of = self.effective[k].at
            want = fold([e for e in self.effective if e.at <= as_of])
            got = episode_of(events, as_of=as_of)
            assert got is not None and want is not None and E.same_but_counters(got, want), \
                f"FOLD: episode_of(events, as_of={as_of}) differs from the effective entries up to then re-decided"
        listed = core_changes(events)
        assert [c.seq for c in listed] == [e.seq for e in events if E.is_change(e)], "CHANGES: changes() misses some"
        for change in listed:
            if change.kind == "correct":
                target, corrected = events[change.target_seq - 1], events[change.seq - 1].data["corrected"]
                assert change.before == E.stored_inputs(target.kind, target.data) and \
                    change.after == E.stored_inputs(target.kind, corrected), f"CHANGES: seq {change.seq} before/after"
        result = replay(events)
        assert not result.problems, f"REPLAY: {result.problems}"
        assert result.episode == ep, "REPLAY: the replayed episode differs from the live episode"

    def _tally_episode(self) -> None:
        """Which kinds of episode this was (a child screened by CAPD, ICANS-only), and the states it reached."""
        if self.ep is None or not self.COUNTED:
            return
        kinds = ["all"]
        if S.is_child(self.ep.age_years, self.ep.policy):
            kinds.append("child (CAPD)")
        if safety.icans_only(self.events):
            kinds.append("ICANS-only")
        if any(e.kind == "observe" and (e.data["crs_grade"] is None or e.data["icans_grade"] is None)
               for e in self.events):
            kinds.append("with a not-assessed observation")
        for kind in kinds:
            self.kind_visited.setdefault(kind, set()).update(self.episode_visited)
            reach.EPISODE_KINDS[(self.NAME, kind)] += 1

    def _next_episode(self, weight: float, age: float, policy: Policy) -> None:
        """A closed episode takes no step; carry on with a new one (more episodes per example)."""
        self._tally_episode()
        self._finish_episode()
        self.ep, self.events, self.after, self.replayed, self.model, self.pokes = None, [], [], None, None, 0
        self.canon, self.effective, self.changed, self._record, self._record_len = [], self.events, 0, None, 0
        self.episode_visited = set()
        self._jump(24)
        self._open(weight, age, policy, 0.0)

    # -- plumbing ---------------------------------------------------------------------------------
    def _open(self, weight: float, age: float, policy: Policy, when_min: float) -> None:
        at = self.now + timedelta(minutes=when_min)
        note_lazily(lambda: f"open weight={weight} age={age} policy={policy.model_dump(exclude_defaults=True)} at={at}")
        cmd = OpenEpisode(at=at, actor=ACTOR, patient_ref="PROP-1", weight_kg=weight, age_years=age, policy=policy)
        try:
            event = decide_open(cmd, EPISODE_ID, self.now)
        except Refused as err:
            assert err.rules == ("TIME_FUTURE",) and at > self.now + safety.FUTURE_TOLERANCE, \
                f"REFUSAL: open at {at} (now {self.now}) refused {err.rules}"
            note_lazily(lambda err=err: f"  open refused {err.rules}; opening now")
            cmd = OpenEpisode(at=self.now, actor=ACTOR, patient_ref="PROP-1", weight_kg=weight, age_years=age,
                              policy=policy)
            event = decide_open(cmd, EPISODE_ID, self.now)
        assert event.at <= self.now + safety.FUTURE_TOLERANCE, f"TIME_FUTURE: open accepted at {event.at}"
        self.model = ReferenceModel(weight_kg=weight, policy=policy, last_at=event.at, age_years=age)
        self.episodes += 1
        self._commit(None, cmd, event)

    def _commit(self, pre: Episode | None, cmd: OpenEpisode | StepCommand, event: Event) -> None:
        self.ep = apply(pre, event)
        self.events.append(event)
        if self.effective is not self.events:
            self.effective.append(event)  # an ordinary step lands at the end of the effective history
        self.after.append(self.ep)
        canonical = event.canonical()
        self.canon.append(canonical)
        self.replayed = apply(self.replayed, Event.from_canonical(canonical))
        if self.model is not None and not isinstance(cmd, OpenEpisode):
            self.model.accept(cmd)
        self.visited.add(self.ep.state.value)
        self.episode_visited.add(self.ep.state.value)
        self._tally(reach.OUTCOMES, (self.NAME, "accepted"))
        if event.override is not None:
            self._tally(reach.OVERRIDDEN, *event.override.rules)
        if event.kind == "observe":
            self._tally(reach.OBSERVATIONS, *((self.NAME, k) for k in reach.observation_kinds(event)))

    def _at(self, when: tuple[str, float]) -> datetime:
        assert self.ep is not None
        kind, x = when
        last = self.ep.last_at
        if kind == "since_last":
            return last + (self.now - last) * x if self.now > last else self.now
        if kind == "before_last":
            return last - timedelta(minutes=x)
        if kind == "future_min":
            return self.now + timedelta(minutes=x)
        return self.now

    def _step(self, cmd: StepCommand) -> Event | None:
        """Decide one command against the live episode and record what happened; the invariants
        below judge every record (a rule may take several steps)."""
        ep = self.ep
        assert ep is not None
        self._tally(reach.STEPS, self.NAME)
        n = len(self.events)
        model = self.model if self.REFERENCE else None
        rec = StepRecord(pre=ep, before=ep.model_dump(), cmd=cmd, now=self.now,
                         expected=model.expected(cmd, self.now) if model else None,
                         wrong_screen=model.wrong_screen(cmd) if model else None,
                         grades=model.grades(cmd) if model else None)
        self.records.append(rec)
        note_lazily(lambda: f"[{n + 1}] now={self.now:%d %H:%M:%S.%f} {safety.describe(cmd)}")
        try:
            rec.event = decide(ep, cmd, self.now)
        except Invalid as err:
            rec.invalid = err
            rec.unchanged = self.ep is ep and len(self.events) == n and ep.model_dump() == rec.before
            note_lazily(lambda err=err: f"    invalid: {err.message}")
            self._tally(reach.OUTCOMES, (self.NAME, "invalid"))
            self._tally(reach.OBSERVATIONS, (self.NAME, "wrong screen (invalid, exit 2)"))
            return None
        except Refused as err:
            rec.refused = err
            rec.unchanged = self.ep is ep and len(self.events) == n and ep.model_dump() == rec.before
            note_lazily(lambda err=err: f"    refused {err.rules}")
            self._tally(reach.OUTCOMES, (self.NAME, "refused"))
            self._tally(reach.REFUSED_BY, *err.rules)
            return None
        event = rec.event
        note_lazily(lambda: f"    accepted {event.from_state} -> {event.to_state}"
              + (f" override {event.override.rules}" if event.override else ""))
        self._commit(ep, cmd, event)
        return event

    def _unchecked(self, invariant: str) -> list["StepRecord"]:
        """Step records this invariant has not judged yet."""
        start = self.cursor.get(invariant, 0)
        self.cursor[invariant] = len(self.records)
        return self.records[start:]

    def _unchecked_changes(self) -> list[ChangeRecord]:
        start = self.cursor.get("changes", 0)
        self.cursor["changes"] = len(self.change_records)
        return self.change_records[start:]

    # -- corrections, voids, late entries (issue 10) ------------------------------------------------
    def record(self) -> E.Record:
        """What stands now, folded from the accepted events' canonical JSON (what a store keeps)."""
        if self._record is None:
            self._record = E.Record.start(Event.from_canonical(self.canon[0]))
            self._record_len = 1
        for canonical in self.canon[self._record_len:]:
            self._record.add(Event.from_canonical(canonical))
        self._record_len = len(self.canon)
        return self._record

    def _change(self, cmd: E.ChangeCommand, label: str) -> Event | None:
        """Decide a correction, void or late entry with decide_change() and the machine's own event list."""
        ep = self.ep
        assert ep is not None
        kind = E.change_kind(cmd)
        self._tally(reach.STEPS, self.NAME)
        self._tally(reach.CHANGES, (kind, "tried"))
        self._tally(reach.CHANGE_CASES, (kind, label, "tried"))
        n = len(self.events)
        record = self.record()
        rec = ChangeRecord(kind=kind, label=label, pre=ep, before=ep.model_dump(), n=n, cmd=cmd, now=self.now,
                           prediction=E.predict(record, ep, cmd, self.now), standing=record.copy())
        self.change_records.append(rec)
        note_lazily(lambda: f"[{n + 1}] now={self.now:%d %H:%M:%S.%f} {kind} ({label}) {safety.describe(cmd)}")
        try:
            event, after = decide_change(ep, self.events, cmd, self.now)
        except (Invalid, Refused) as err:
            rec.unchanged = self.ep is ep and len(self.events) == n and ep.model_dump() == rec.before
            outcome = "invalid" if isinstance(err, Invalid) else "refused"
            if isinstance(err, Refused):
                rec.refused = err
                self._tally(reach.CHANGE_REFUSED_BY, *((kind, r) for r in err.rules))
                if err.breaks_seq is not None:
                    self._tally(reach.CHANGES, (kind, "refused naming breaks_seq"))
            else:
                rec.invalid = err
            note_lazily(lambda err=err: f"    {outcome}: {getattr(err, 'rules', '')} {err.message}")
            self._tally(reach.CHANGES, (kind, outcome))
            self._tally(reach.CHANGE_CASES, (kind, label, outcome))
            return None
        rec.event, rec.after = event, after
        note_lazily(lambda: f"    accepted {event.from_state} -> {event.to_state}"
                    + (f" override {event.override.rules} {event.data.get('overrides')}" if event.override else ""))
        self._commit_change(rec)
        return event

    def _commit_change(self, rec: ChangeRecord) -> None:
        event, after = rec.event, rec.after
        assert event is not None and after is not None
        self.events.append(event)
        self.canon.append(event.canonical())
        assert Event.from_canonical(self.canon[-1]) == event, f"CHAIN: the {rec.kind}'s canonical JSON loses facts"
        self.ep = after
        self.changed += 1
        redecided = rec.prediction.redecided
        # the effective history the suite itself re-decided (as predicted before the step); when the
        # prediction was a refusal, the record of the stored events is re-decided instead (the invariants
        # then report the disagreement)
        if redecided is None or not rec.prediction.accepted:
            try:
                redecided = E.redecide_record(self.record())
            except (KeyError, ValueError) as err:
                raise AssertionError(f"EFFECTIVE: the accepted {rec.kind} does not make a history the suite can "
                                     f"read ({type(err).__name__}: {err})") from None
        self.effective = list(redecided.events)
        self.replayed = redecided.episode
        self.after.append(after)
        if self.model is not None:
            self.model.rebuild(self.effective, after.last_at)
        self.visited.add(after.state.value)
        self.episode_visited.add(after.state.value)
        self._tally(reach.CHANGES, (rec.kind, "accepted"))
        self._tally(reach.CHANGE_CASES, (rec.kind, rec.label, "accepted"))
        if event.override is not None:
            self._tally(reach.CHANGE_OVERRIDDEN, *((rec.kind, r) for r in event.override.rules))
        entry = event.data.get("corrected", event.data)  # a late observation, or an observation corrected
        if event.kind == "observe" or (event.kind == "correct" and event.data["target_kind"] == "observe"):
            self._tally(reach.OBSERVATIONS, *((self.NAME, k) for k in reach.observation_kinds(Event.model_construct(
                data=entry))))

    def _jump(self, hours: float) -> None:
        self._tally(reach.STEPS, self.NAME)
        self.now += timedelta(hours=hours)
        note_lazily(lambda: f"jump {hours:g} h -> now={self.now:%d %H:%M:%S.%f}")

    def _jump_to(self, target: datetime) -> None:
        if target > self.now:
            self._jump((target - self.now).total_seconds() / 3600)

    @property
    def _ready_at(self) -> datetime:
        """A time that breaks neither TIME_ORDER nor TIME_FUTURE."""
        assert self.ep is not None
        return max(self.now, self.ep.last_at)

    @property
    def child(self) -> bool:
        assert self.ep is not None
        return S.is_child(self.ep.age_years, self.ep.policy)

    def _observe(self, crs: int | None, icans: int | None = 0) -> None:
        """A fully assessed observation at these grades (None: that domain not recorded), with the ICANS
        screen the patient's age calls for."""
        self._step(RecordObservation(at=self._ready_at, actor=ACTOR, episode_id=EPISODE_ID,
                                     observation=S.graded_observation(crs, icans, self.child)))

    def _give(self, drug: Drug, dose_mg: float, reason: str | None = GUIDED) -> Event | None:
        return self._step(AdministerDose(at=self._ready_at, actor=ACTOR, episode_id=EPISODE_ID, drug=drug,
                                         dose_mg=max(dose_mg, 0.1), override_reason=reason))

    def _tally(self, counter: Counter, *keys: object) -> None:
        if self.COUNTED:
            counter.update(keys)
