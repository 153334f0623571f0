"""Episode: the fold of its events. State is never stored apart from the events that made it.

The fold keeps a bounded summary (latest grades, streaks, phase start, doses) rather than
every observation, so a step costs the same at event 10 and at event 10,000; the store keeps
it as a snapshot and `audit verify` checks that snapshot against a full replay.
"""

from datetime import datetime
from typing import Any, Iterable

from pathway.commands import UtcTime
from pathway.drugs import FEVER_MASKING, STEROIDS, Drug
from pathway.events import Event
from pathway.model import Frozen
from pathway.policy import Policy
from states.names import State


class Graded(Frozen):
    """The latest observation with the grades the pathway gave it, and why (None: not assessed)."""

    seq: int
    at: UtcTime
    crs_grade: int | None
    icans_grade: int | None
    fever: bool | None
    inputs: dict[str, Any]
    crs_basis: dict[str, Any]
    icans_basis: dict[str, Any]

    @property
    def fully_assessed_zero(self) -> bool:
        """CRS 0 and ICANS 0, each with nothing missing: the only observation that counts toward resolution."""
        return fully_assessed_zero(self.crs_grade, self.icans_grade, self.crs_basis, self.icans_basis)


# The decisions behind the models' properties are module functions on purpose: mutation testing (mutmut,
# docs/SAFETY.md) does not mutate decorated functions, and these decide resolution, severity and fever.
def fully_assessed_zero(crs_grade: int | None, icans_grade: int | None, crs_basis: dict[str, Any],
                        icans_basis: dict[str, Any]) -> bool:
    """Both grades 0 and neither basis missing an input (H6: a blank observation never counts as 0)."""
    return (crs_grade == 0 and icans_grade == 0
            and not crs_basis.get("missing") and not icans_basis.get("missing"))


class Assessed(Frozen):
    """The latest observation that graded one domain (CRS or ICANS): its grade and when."""

    seq: int
    at: UtcTime
    grade: int


class DoseRecord(Frozen):
    seq: int
    at: UtcTime
    drug: Drug
    dose_mg: float
    route: str
    intensity: str | None  # "standard" | "escalated" for steroids
    severity_at_dose: int | None  # worse of the latest assessed CRS and ICANS grades: the improvement baseline
    deviation: bool = False


class Episode(Frozen):
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
    latest: Graded | None = None  # the latest observation, assessed or not
    crs: Assessed | None = None  # the latest observation that graded CRS
    icans: Assessed | None = None  # the latest observation that graded ICANS
    zero_streak_since: UtcTime | None = None  # first of the current run of fully assessed CRS 0 / ICANS 0
    fever_since: UtcTime | None = None  # first observation of the current febrile run
    hypotensive_at: UtcTime | None = None  # latest observation showing hypotension, until one shows none
    on_vasopressor: bool = False  # the latest observation that spoke of it recorded a vasopressor running
    fluid_boluses: tuple[UtcTime, ...] = ()  # fluid boluses of the current hypotensive spell (policy count)
    seizure_at: UtcTime | None = None  # latest observation that recorded a seizure (brief or prolonged)
    doses: tuple[DoseRecord, ...] = ()
    actions: dict[str, datetime] = {}  # action -> latest time recorded
    phase_started_at: UtcTime | None = None  # first dose of the current state's drug
    phase_start_severity: int | None = None
    steroid_started_at: UtcTime | None = None
    steroid_start_severity: int | None = None
    escalated_started_at: UtcTime | None = None  # first escalated steroid dose (the 3-day course)
    deviations: int = 0
    corrections: int = 0  # corrections, voids and late entries recorded (the fold is of what stands)
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
        return any_of(self.doses, STEROIDS)

    @property
    def fever_masked(self) -> bool:
        """Tocilizumab or a steroid given: hypotension/hypoxia grade CRS without fever (§1)."""
        return any_of(self.doses, FEVER_MASKING)

    @property
    def severity(self) -> int | None:
        """The worse of the latest assessed CRS and ICANS grades; None when neither was ever assessed.

        Improvement and worsening are judged on it (CLINICAL.md §7); a not-assessed grade adds nothing."""
        return worse_grade(self.crs, self.icans)

    @property
    def is_closed(self) -> bool:
        return self.state is State.CLOSED


def any_of(doses: list["DoseRecord"], drugs: frozenset[Drug]) -> bool:
    """Whether any recorded dose is of one of these drugs."""
    return any(d.drug in drugs for d in doses)


def worse_grade(crs: "Assessed | None", icans: "Assessed | None") -> int | None:
    """The worse of two assessed grades; None when neither domain was ever assessed (never 0)."""
    grades = [a.grade for a in (crs, icans) if a is not None]
    return max(grades) if grades else None


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
        if graded.crs_grade is not None:
            update["crs"] = Assessed(seq=event.seq, at=event.at, grade=graded.crs_grade)
        if graded.icans_grade is not None:
            update["icans"] = Assessed(seq=event.seq, at=event.at, grade=graded.icans_grade)
        update["zero_streak_since"] = (episode.zero_streak_since or event.at) if graded.fully_assessed_zero else None
        if graded.fever is True:
            update["fever_since"] = episode.fever_since or event.at
        elif graded.fever is False:
            update["fever_since"] = None
        inputs = graded.inputs
        pressor = bool(inputs.get("vasopressors") or inputs.get("vasopressin"))
        if inputs.get("hypotension") or pressor:
            update["hypotensive_at"] = event.at
            update["on_vasopressor"] = pressor
        elif graded.crs_grade is not None:
            # flags are read as absent only inside an observation that records temperature and oxygen (§1)
            update["hypotensive_at"] = None
            update["on_vasopressor"] = False
            update["fluid_boluses"] = ()  # a later spell starts its own count of boluses
        if inputs.get("seizure") in ("brief", "prolonged"):
            update["seizure_at"] = event.at
    elif event.kind == "give":
        baseline = episode.severity
        dose = DoseRecord(
            seq=event.seq, at=event.at, drug=Drug(data["drug"]), dose_mg=data["dose_mg"], route=data["route"],
            intensity=data.get("intensity"), severity_at_dose=baseline, deviation=event.override is not None,
        )
        update["doses"] = episode.doses + (dose,)
        if event.to_state != event.from_state:
            update["phase_started_at"] = event.at
            update["phase_start_severity"] = baseline
        if dose.drug in STEROIDS and episode.steroid_started_at is None:
            update["steroid_started_at"] = event.at
            update["steroid_start_severity"] = baseline
        if dose.intensity == "escalated" and episode.escalated_started_at is None:
            update["escalated_started_at"] = event.at
    elif event.kind == "act":
        update["actions"] = {**episode.actions, data["action"]: event.at}
        if data["action"] == "fluid-bolus":
            keep = episode.policy.fluid_boluses_before_vasopressor
            update["fluid_boluses"] = (episode.fluid_boluses + (event.at,))[-keep:]
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
