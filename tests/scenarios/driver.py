"""An in-memory driver for whole episodes: decide + fold, no store. The pure core end to end.

Also the step-table machinery (`Step`, `Answer`, `run_in_process`, `step_argv`, `check_answer`) that lets one
scenario table be asserted in process and through the installed `crs` alike.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from pathway.clock import iso
from pathway.commands import AdministerDose, Close, OpenEpisode, RecordAction, RecordObservation, Resolve
from pathway.episode import Episode, apply, fold
from pathway.errors import Invalid, Refused
from pathway.events import Event
from pathway.machine import decide, decide_open
from pathway.observations import Observation
from pathway.recommend import status
from pathway.replay import replay_problems

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def t(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


@dataclass
class Driver:
    """Steps one episode in memory; `now` trails each step's clinical time by a minute."""

    episode: Episode | None = None
    events: list[Event] = field(default_factory=list)
    actor: str = "nurse-a"
    refused: int = 0  # refused attempts (the refusal log's length, as `crs audit verify` counts it)

    def _commit(self, event: Event) -> Episode:
        self.episode = apply(self.episode, event)
        self.events.append(event)
        return self.episode

    def open(self, at: datetime, **kw: Any) -> Episode:
        cmd = OpenEpisode(at=at, actor=self.actor, **kw)
        return self._commit(decide_open(cmd, "E0001", at + timedelta(minutes=1)))

    def step(self, cmd: Any) -> Event:
        assert self.episode is not None
        event = decide(self.episode, cmd, cmd.at + timedelta(minutes=1))
        self._commit(event)
        return event

    def observe(self, at: datetime, **obs: Any) -> dict[str, Any]:
        self.step(RecordObservation(at=at, actor=self.actor, episode_id="E0001", observation=Observation(**obs)))
        return self.status(at)

    def give(self, at: datetime, drug: str, dose_mg: float, override: str | None = None) -> Event:
        return self.step(AdministerDose(at=at, actor=self.actor, episode_id="E0001", drug=drug, dose_mg=dose_mg,
                                        override_reason=override))

    def act(self, at: datetime, action: str) -> Event:
        return self.step(RecordAction(at=at, actor=self.actor, episode_id="E0001", action=action))

    def resolve(self, at: datetime, override: str | None = None) -> Event:
        return self.step(Resolve(at=at, actor=self.actor, episode_id="E0001", override_reason=override))

    def close(self, at: datetime, reason: str | None = None) -> Event:
        return self.step(Close(at=at, actor=self.actor, episode_id="E0001", reason=reason))

    def status(self, at: datetime) -> dict[str, Any]:
        assert self.episode is not None
        return status(self.episode, at)


def gives(st: dict[str, Any]) -> list[tuple[str, float | None]]:
    """Every (drug, dose) offered, single steps and each option of an alternatives step alike."""
    return [(o["drug"], o["dose_mg"]) for s in st["next_steps"] if s["kind"] == "give"
            for o in s.get("alternatives", [s])]


def alternatives(st: dict[str, Any]) -> list[list[tuple[str, float | None]]]:
    """The options of each alternatives step (give ONE of them)."""
    return [[(o["drug"], o["dose_mg"]) for o in s["alternatives"]] for s in st["next_steps"]
            if s["kind"] == "give" and "alternatives" in s]


def steroid_steps(st: dict[str, Any]) -> list[dict[str, Any]]:
    steroids = {"dexamethasone", "methylprednisolone"}
    return [s for s in st["next_steps"] if s["kind"] == "give"
            and any(o["drug"] in steroids for o in s.get("alternatives", [s]))]


def acts(st: dict[str, Any]) -> list[str]:
    return [s["action"] for s in st["next_steps"] if s["kind"] == "act"]


def citations(st: dict[str, Any]) -> list[str]:
    """Every citation a clinician is shown in the next steps (options of alternatives included)."""
    out: list[str] = []
    for s in st["next_steps"]:
        out += s.get("citations", [])
        for o in s.get("alternatives", []):
            out += o.get("citations", [])
    return out


# -- one table of steps, run in process here and through the installed `crs` in tests/cli ----------------
#
# A scenario is a list of `Step`s with their expected answers. `run_in_process` steps it on the pure core;
# tests/cli/test_paediatric_subprocess.py steps the same list through the real `crs` (`step_argv`). Both
# produce `Answer`s of the same shape (the episode's status as `--json` prints it), and `check_answer`
# asserts the table's expectations on either, so the two runs cannot drift apart.

#: Observation fields and their `crs observe` options (CONTRACT.md).
OBSERVE_OPTIONS = {"temp_c": "--temp", "o2_device": "--o2", "o2_flow_lpm": "--o2-flow", "fio2": "--fio2",
                   "ice_score": "--ice", "capd_score": "--capd", "consciousness": "--consciousness",
                   "seizure": "--seizure", "cerebral_edema": "--cerebral-edema", "vasopressors": "--vasopressors"}
OBSERVE_FLAGS = {"hypotension": "--hypotension", "vasopressin": "--vasopressin",
                 "motor_weakness": "--motor-weakness"}
ANY = object()  #: an expectation the table does not state


@dataclass(frozen=True)
class Step:
    """One row of a scenario: when (hours from T0), what (a `crs` verb and its arguments), what must come back."""

    name: str
    hours: float | None  # None: not an episode step (audit verify)
    verb: str  # open | observe | give | act | resolve | close | verify
    args: dict[str, Any] = field(default_factory=dict)
    code: int = 0  # the exit code CONTRACT.md gives the answer: 0 done, 1 refused, 2 invalid input
    state: str | None = None  # the state after a done step
    crs: Any = ANY  # the latest observation's grades (None: not assessed)
    icans: Any = ANY
    rules: tuple[str, ...] = ()  # a refusal: exactly these rules
    overridable: bool | None = None
    earliest_h: float | None = None  # a refusal's earliest_at, hours from T0
    check: Callable[["Answer", datetime], None] | None = None  # the row's further expectations


@dataclass
class Answer:
    """What a step answered, as `crs ... --json` prints it (the in-process run is normalised to this)."""

    code: int
    state: str | None = None
    status: dict[str, Any] | None = None  # the episode's status at the step's clinical time (done steps)
    deviation: dict[str, Any] | None = None
    error: dict[str, Any] | None = None  # refused: rule, rules, overridable, earliest_at; invalid: message
    body: dict[str, Any] | None = None  # audit verify's object


def as_json(value: Any) -> Any:
    """The value as it would come back from `--json` (tuples become lists, times ISO strings)."""
    return json.loads(json.dumps(value, default=str))


def step_at(step: Step, t0: datetime) -> datetime | None:
    return None if step.hours is None else t0 + timedelta(hours=step.hours)


def step_argv(step: Step, episode: str, t0: datetime) -> list[str]:
    """The `crs` command line of a step (without --json and --db)."""
    a = step.args
    if step.verb == "verify":
        return ["audit", "verify"]
    if step.verb == "open":
        argv = ["open", "--patient", a["patient_ref"], "--weight-kg", f"{a['weight_kg']:g}",
                "--age-years", f"{a['age_years']:g}"]
        if a.get("context"):
            argv += ["--context", a["context"]]
    elif step.verb == "observe":
        argv = ["observe", episode]
        for name, value in a.items():
            if name in OBSERVE_OPTIONS:
                argv += [OBSERVE_OPTIONS[name], f"{value:g}" if isinstance(value, float) else str(value)]
            elif name in OBSERVE_FLAGS:
                argv += [OBSERVE_FLAGS[name]] if value else []
            elif name == "capd_unable":
                argv += ["--capd", "unable"] if value else []
            else:
                raise KeyError(f"no `crs observe` option for {name!r}")
    elif step.verb == "give":
        argv = ["give", episode, a["drug"], "--dose-mg", f"{a['dose_mg']:g}"]
        if a.get("override"):
            argv += ["--override", a["override"]]
    elif step.verb == "act":
        argv = ["act", episode, a["action"]]
    elif step.verb == "resolve":
        argv = ["resolve", episode] + (["--override", a["override"]] if a.get("override") else [])
    elif step.verb == "close":
        argv = ["close", episode] + (["--reason", a["reason"]] if a.get("reason") else [])
    else:
        raise KeyError(step.verb)
    at = step_at(step, t0)
    assert at is not None
    return argv + ["--at", iso(at)]


def _perform(d: Driver, step: Step, at: datetime) -> tuple[str, dict[str, Any] | None]:
    a = step.args
    if step.verb == "open":
        return str(d.open(at, **a).state), None
    if step.verb == "observe":
        d.step(RecordObservation(at=at, actor=d.actor, episode_id="E0001", observation=Observation(**a)))
        return str(d.episode.state), None  # type: ignore[union-attr]
    if step.verb == "give":
        event = d.give(at, a["drug"], a["dose_mg"], override=a.get("override"))
    elif step.verb == "act":
        event = d.act(at, a["action"])
    elif step.verb == "resolve":
        event = d.resolve(at, override=a.get("override"))
    elif step.verb == "close":
        event = d.close(at, reason=a.get("reason"))
    else:
        raise KeyError(step.verb)
    return str(event.to_state), (event.override.model_dump(mode="json") if event.override else None)


def run_step(d: Driver, step: Step, t0: datetime) -> Answer:
    """One step on the pure core, answered as `crs --json` would answer it."""
    if step.verb == "verify":
        problems = replay_problems(d.events) + ([] if fold(d.events) == d.episode else [(0, "fold differs")])
        return Answer(0 if not problems else 5, body={"ok": not problems, "episodes": 1, "events": len(d.events),
                                                      "refusals": d.refused, "earlier_pathway_events": 0,
                                                      "failures": as_json(problems)})
    at = step_at(step, t0)
    assert at is not None
    try:
        state, deviation = _perform(d, step, at)
    except Refused as refused:
        d.refused += 1
        return Answer(1, error={"rule": refused.rule, "rules": list(refused.rules),
                                "overridable": refused.overridable,
                                "earliest_at": iso(refused.earliest_at) if refused.earliest_at else None})
    except Invalid as invalid:
        return Answer(2, error={"message": invalid.message})
    return Answer(0, state=state, status=as_json(d.status(at)), deviation=deviation)


def run_in_process(steps: list[Step], t0: datetime) -> tuple[Driver, dict[str, Answer]]:
    d = Driver()
    return d, {step.name: run_step(d, step, t0) for step in steps}


def check_answer(step: Step, answer: Answer, t0: datetime) -> None:
    """The table's expectations of one step, on an answer from either run."""
    where = f"{step.name}: "
    assert answer.code == step.code, f"{where}exit {answer.code}, expected {step.code}: {answer.error}"
    if step.code == 0 and step.verb != "verify":
        assert answer.status is not None
        if step.state is not None:
            assert answer.state == step.state == answer.status["state"], where
        if step.crs is not ANY:
            assert answer.status["crs_grade"] == step.crs, where
        if step.icans is not ANY:
            assert answer.status["icans_grade"] == step.icans, where
    if step.code == 1:
        assert answer.error is not None
        assert tuple(answer.error["rules"]) == step.rules and answer.error["rule"] == step.rules[0], where
        if step.overridable is not None:
            assert answer.error["overridable"] is step.overridable, where
        if step.earliest_h is not None:
            assert answer.error["earliest_at"] == iso(t0 + timedelta(hours=step.earliest_h)), where
    if step.check is not None:
        step.check(answer, t0)
