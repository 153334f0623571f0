"""Episode: the fold of its events. State is never stored apart from the events that made it.

The fold keeps a bounded summary (latest grades, streaks, phase start, doses) rather than
every observation, so a step costs the same at event 10 and at event 10,000; the store keeps
it as a snapshot and `audit verify` checks that snapshot against a full replay.
"""

from datetime import datetime
from typing import Any, Iterable

from pydantic import BaseModel, ConfigDict

from pathway.commands import UtcTime
from pathway.drugs import FEVER_MASKING, STEROIDS, Drug
from pathway.events import Event
from pathway.policy import Policy
from states.names import State


class Graded(BaseModel):
    """The latest observation with the grades the pathway gave it, and why."""

    model_config = ConfigDict(frozen=True)

    seq: int
    at: UtcTime
    crs_grade: int
    icans_grade: int
    fever: bool | None
    inputs: dict[str, Any]
    crs_basis: dict[str, Any]
    icans_basis: dict[str, Any]


class DoseRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    seq: int
    at: UtcTime
    drug: Drug
    dose_mg: float
    route: str
    intensity: str | None  # "standard" | "escalated" for steroids
    crs_grade_at_dose: int | None  # latest CRS grade when given: the baseline for improvement
    deviation: bool = False


class Episode(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    patient_ref: str
    weight_kg: float
    age_years: float
    context: str | None
    policy: Policy
    state: State
    version: int  # seq of the latest event
    opened_at: UtcTime
    last_at: UtcTime  # effective time of the latest event (TIME_ORDER)
    latest: Graded | None = None
    zero_streak_since: UtcTime | None = None  # first observation of the current CRS 0 / ICANS 0 run
    fever_since: UtcTime | None = None  # first observation of the current febrile run
    doses: tuple[DoseRecord, ...] = ()
    actions: dict[str, datetime] = {}  # action -> latest time recorded
    phase_started_at: UtcTime | None = None  # first dose of the current state's drug
    phase_start_crs_grade: int | None = None
    steroid_started_at: UtcTime | None = None
    steroid_start_crs_grade: int | None = None
    deviations: int = 0
    resolved_at: UtcTime | None = None
    closed_at: UtcTime | None = None

    # -- derived views (never stored twice) ---------------------------------------------------
    def doses_of(self, *drugs: Drug) -> list[DoseRecord]:
        return [d for d in self.doses if d.drug in drugs]

    @property
    def toci_doses(self) -> list[DoseRecord]:
        return self.doses_of(Drug.TOCILIZUMAB)

    @property
    def steroid_given(self) -> bool:
        return any(d.drug in STEROIDS for d in self.doses)

    @property
    def fever_masked(self) -> bool:
        """Tocilizumab or a steroid given: hypotension/hypoxia grade CRS without fever (§1)."""
        return any(d.drug in FEVER_MASKING for d in self.doses)

    @property
    def is_closed(self) -> bool:
        return self.state is State.CLOSED


def _open(event: Event) -> Episode:
    data = event.data
    return Episode(
        id=event.episode_id,
        patient_ref=data["patient_ref"],
        weight_kg=data["weight_kg"],
        age_years=data["age_years"],
        context=data.get("context"),
        policy=Policy.model_validate(data["policy"]),
        state=State(event.to_state),
        version=event.seq,
        opened_at=event.at,
        last_at=event.at,
    )


def apply(episode: Episode | None, event: Event) -> Episode:
    """Fold one event into the episode. Pure; trusts the event (decide() made it)."""
    if event.kind == "open":
        if episode is not None:
            raise ValueError("an episode is opened once")
        return _open(event)
    if episode is None:
        raise ValueError(f"event seq {event.seq} ({event.kind}) comes before the episode was opened")

    update: dict[str, Any] = {"state": State(event.to_state), "version": event.seq, "last_at": event.at}
    data = event.data
    if event.override is not None:
        update["deviations"] = episode.deviations + 1

    if event.kind == "observe":
        graded = Graded(
            seq=event.seq, at=event.at, crs_grade=data["crs_grade"], icans_grade=data["icans_grade"],
            fever=data["crs_basis"].get("fever"), inputs=data["observation"],
            crs_basis=data["crs_basis"], icans_basis=data["icans_basis"],
        )
        update["latest"] = graded
        calm = graded.crs_grade == 0 and graded.icans_grade == 0
        update["zero_streak_since"] = (episode.zero_streak_since or event.at) if calm else None
        if graded.fever is True:
            update["fever_since"] = episode.fever_since or event.at
        elif graded.fever is False:
            update["fever_since"] = None
    elif event.kind == "give":
        baseline = episode.latest.crs_grade if episode.latest else None
        dose = DoseRecord(
            seq=event.seq, at=event.at, drug=Drug(data["drug"]), dose_mg=data["dose_mg"], route=data["route"],
            intensity=data.get("intensity"), crs_grade_at_dose=baseline, deviation=event.override is not None,
        )
        update["doses"] = episode.doses + (dose,)
        if event.to_state != event.from_state:
            update["phase_started_at"] = event.at
            update["phase_start_crs_grade"] = baseline
        if dose.drug in STEROIDS and episode.steroid_started_at is None:
            update["steroid_started_at"] = event.at
            update["steroid_start_crs_grade"] = baseline
    elif event.kind == "act":
        update["actions"] = {**episode.actions, data["action"]: event.at}
    elif event.kind == "resolve":
        update["resolved_at"] = event.at
    elif event.kind == "close":
        update["closed_at"] = event.at
    return episode.model_copy(update=update)


def fold(events: Iterable[Event], as_of: datetime | None = None) -> Episode | None:
    """Replay events in order; with `as_of`, only those effective at or before that time."""
    episode: Episode | None = None
    for event in events:
        if as_of is not None and event.at > as_of:
            break
        episode = apply(episode, event)
    return episode
