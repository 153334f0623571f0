"""Valid, hash-chained episode histories, made fast enough to fill a million-event database.

Every event is made by the real `decide()` and folded by the real `apply()`; nothing is faked.
A scripted clinical course is decided once per template (a few weights and courses), then each
episode re-uses a template's events with its own episode id: the pathway's decision does not
depend on the id, so the copy is exactly the event `decide()` would have made for that episode
(and `audit verify`, which re-decides every event, agrees). Rows go in through the store's own
append path (`SqlUnitOfWork.append`: chain link, snapshot, triggers), many episodes per
transaction, so the database is the one the CLI would have written, only faster.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from itertools import cycle

from pathway.commands import AdministerDose, OpenEpisode, RecordAction, RecordObservation, StepCommand
from pathway.drugs import Action, Drug
from pathway.episode import Episode, apply
from pathway.errors import Refused
from pathway.events import Event
from pathway.grading import uses_capd
from pathway.machine import decide, decide_open
from pathway.observations import Observation
from persistence.store import Store

T0 = datetime(2025, 1, 6, 8, 0, tzinfo=timezone.utc)
ACTOR = "bench"

#: Bedside observations of a typical course, in the order a ward might record them.
#: Some are partial (not assessed), as at a real bedside.
OBSERVATIONS = (
    Observation(temp_c=38.4),
    Observation(temp_c=38.9, hypotension=True, o2_device="room-air"),
    Observation(temp_c=39.1, o2_device="nasal-cannula", o2_flow_lpm=3),
    Observation(temp_c=38.2, o2_device="room-air", ice_score=9, consciousness="awake"),
    Observation(temp_c=37.6, o2_device="nasal-cannula", o2_flow_lpm=2),
    Observation(temp_c=37.1, o2_device="room-air", ice_score=10, consciousness="awake"),
    Observation(temp_c=36.9),
)
#: The same course for a child under the CAPD age: the CAPD in place of the ICE score.
CHILD_OBSERVATIONS = tuple(
    Observation(**{**o.model_dump(exclude={"ice_score"}), "capd_score": 10 - o.ice_score}) if o.ice_score is not None
    else o for o in OBSERVATIONS)
ACTIONS = (Action.LABS, Action.TELEMETRY, Action.INFECTION_WORKUP, Action.ANTIBIOTICS)


@dataclass(frozen=True)
class Course:
    """One template: a patient and the doses given early in the course (the rest are observations)."""

    weight_kg: float
    age_years: float
    doses: tuple[tuple[int, Drug, float], ...]  # (event index, drug, dose_mg)


COURSES = (
    Course(72.0, 58, ((3, Drug.TOCILIZUMAB, 576.0), (7, Drug.DEXAMETHASONE, 10.0))),
    Course(55.5, 34, ((4, Drug.TOCILIZUMAB, 444.0),)),
    Course(88.0, 66, ()),
    Course(24.0, 9, ((3, Drug.TOCILIZUMAB, 288.0), (12, Drug.DEXAMETHASONE, 10.0), (20, Drug.DEXAMETHASONE, 10.0))),
)


def course_events(n_events: int, course: Course = COURSES[0], episode_id: str = "ETEMPL",
                  start: datetime = T0, spacing: timedelta = timedelta(minutes=15)) -> list[Event]:
    """`n_events` events (open included) of one scripted course, each decided by the pathway."""
    opened = decide_open(OpenEpisode(at=start, actor=ACTOR, patient_ref=f"BENCH-{episode_id}",
                                     weight_kg=course.weight_kg, age_years=course.age_years), episode_id, start)
    events, episode = [opened], apply(None, opened)
    doses = {index: (drug, dose) for index, drug, dose in course.doses}
    child = uses_capd(course.age_years, episode.policy)
    observations, actions = cycle(CHILD_OBSERVATIONS if child else OBSERVATIONS), cycle(ACTIONS)
    while len(events) < n_events:
        i = len(events)
        at = start + spacing * i
        cmd: StepCommand
        if i in doses:
            drug, dose = doses[i]
            cmd = AdministerDose(at=at, actor=ACTOR, episode_id=episode_id, drug=drug, dose_mg=dose)
        elif i % 5 == 4:
            cmd = RecordAction(at=at, actor=ACTOR, episode_id=episode_id, action=next(actions))
        else:
            cmd = RecordObservation(at=at, actor=ACTOR, episode_id=episode_id, observation=next(observations))
        try:
            event = decide(episode, cmd, at)
        except Refused as refused:  # a dose outside the pathway: the clinician overrides, or observes instead
            if isinstance(cmd, AdministerDose) and refused.overridable:
                cmd = cmd.model_copy(update={"override_reason": "bench: clinician decision"})
            else:
                cmd = RecordObservation(at=at, actor=ACTOR, episode_id=episode_id, observation=next(observations))
            event = decide(episode, cmd, at)
        events.append(event)
        episode = apply(episode, event)
    return events


class Templates:
    """Template histories of `n_events` each, decided once and re-keyed per episode."""

    def __init__(self, n_events: int, start: datetime = T0) -> None:
        self._events = [course_events(n_events, course, start=start) for course in COURSES]

    def episode(self, number: int, episode_id: str) -> list[Event]:
        template = self._events[number % len(self._events)]
        return [e.model_copy(update={"episode_id": episode_id}) for e in template]


def episode_id(number: int) -> str:
    """Ids in the store's own shape (E + 5 base-32 characters), distinct for number < 32**5."""
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    chars = []
    for _ in range(5):
        number, digit = divmod(number, 32)
        chars.append(alphabet[digit])
    return "E" + "".join(reversed(chars))


def append_histories(store: Store, histories: Iterator[list[Event]], per_transaction: int = 20_000) -> int:
    """Append whole histories through the store's own append path, many per transaction."""
    written = 0
    pending = 0
    uow = store.unit_of_work()
    uow.__enter__()
    try:
        for events in histories:
            episode: Episode | None = None
            for event in events:
                episode = apply(episode, event)
                uow.append(event, episode)
            written += len(events)
            pending += len(events)
            if pending >= per_transaction:
                uow.commit()
                uow.__exit__(None, None, None)
                uow.__enter__()
                pending = 0
        uow.commit()
    finally:
        uow.__exit__(None, None, None)
    return written


def fill(store: Store, episodes: int, events_per_episode: int, first: int = 0,
         templates: Templates | None = None) -> int:
    """Add `episodes` episodes of `events_per_episode` events, numbered from `first`."""
    templates = templates or Templates(events_per_episode)
    histories = (templates.episode(n, episode_id(n)) for n in range(first, first + episodes))
    return append_histories(store, histories)
