"""The episode is the fold of its events (pathway/episode.py), and the clock helpers its deadlines rest on
(pathway/clock.py): what each event leaves in the episode, the `as_of` boundary, the errors of a broken history,
and deadlines at the edge of what a datetime can hold (issue 12: these survived a mutation run).
"""

import math
from datetime import datetime, timedelta, timezone, tzinfo

import pytest

from pathway.clock import END_OF_TIME, UTC, after, as_utc, iso, span
from pathway.episode import apply, fold
from pathway.errors import Refused
from pathway.observations import O2Device, Observation
from tests.scenarios.driver import Driver, t

NEURO_OK = {"ice_score": 10, "consciousness": "awake"}
LONGEST = timedelta(days=999_999_999)  # the longest interval a timedelta holds


def patient(**open_kw: object) -> Driver:
    d = Driver()
    d.open(t(0), patient_ref="P-F", weight_kg=70, age_years=50, **open_kw)
    return d


# -- what the fold keeps ------------------------------------------------------------------------------------------

def test_the_opening_s_context_is_kept_in_the_episode() -> None:
    assert patient(context="CAR-T day 3, ward 7").episode.context == "CAR-T day 3, ward 7"  # type: ignore[union-attr]
    assert patient().episode.context is None  # type: ignore[union-attr]


@pytest.mark.parametrize(("flags", "pressor"), [
    ({"vasopressors": 1}, True),  # one vasopressor, no vasopressin
    ({"vasopressin": True}, True),  # vasopressin alone
    ({"vasopressors": 2, "vasopressin": True}, True),
    ({"hypotension": True}, False),  # hypotension without a vasopressor
])
def test_a_vasopressor_running_is_hypotension_on_a_vasopressor(flags: dict[str, object], pressor: bool) -> None:
    """Either a vasopressor or vasopressin running marks the patient hypotensive and on a vasopressor (the
    recommendation to start one stops; CLINICAL.md §9); hypotension alone is hypotensive, not on one."""
    d = patient()
    d.observe(t(1), temp_c=38.5, o2_device="room-air", **flags, **NEURO_OK)
    ep = d.episode
    assert ep is not None and (ep.hypotensive_at, ep.on_vasopressor) == (t(1), pressor)
    d.observe(t(2), temp_c=38.5, o2_device="room-air", **NEURO_OK)  # recorded without: resolved
    assert (d.episode.hypotensive_at, d.episode.on_vasopressor) == (None, False)  # type: ignore[union-attr]


def test_a_vasopressor_recorded_stops_the_recommendation_to_start_one() -> None:
    d = patient()
    d.observe(t(1), temp_c=38.5, o2_device="room-air", hypotension=True, **NEURO_OK)
    d.act(t(1.2), "fluid-bolus")
    d.act(t(1.5), "fluid-bolus")
    st = d.observe(t(2), temp_c=38.5, o2_device="room-air", hypotension=True, **NEURO_OK)
    assert "vasopressor" in [s.get("support") for s in st["next_steps"]]
    st = d.observe(t(2.5), temp_c=38.5, o2_device="room-air", vasopressors=1, **NEURO_OK)
    assert "vasopressor" not in [s.get("support") for s in st["next_steps"]]


def test_the_fold_keeps_when_the_episode_resolved_and_when_it_closed() -> None:
    d = patient()
    for h in (1, 13, 25):
        d.observe(t(h), temp_c=36.8, o2_device="room-air", **NEURO_OK)
    d.act(t(25.5), "labs")
    assert d.episode is not None and (d.episode.resolved_at, d.episode.closed_at) == (None, None)
    d.resolve(t(26))
    assert (d.episode.resolved_at, d.episode.closed_at) == (t(26), None)
    d.close(t(30))
    assert (d.episode.resolved_at, d.episode.closed_at) == (t(26), t(30))


def test_as_of_includes_an_event_at_exactly_that_time_and_not_one_after() -> None:
    d = patient()
    d.observe(t(1), temp_c=38.5, o2_device="room-air", **NEURO_OK)
    d.observe(t(2), temp_c=39.0, o2_device="hfnc", o2_flow_lpm=30, **NEURO_OK)
    at_1 = fold(d.events, as_of=t(1))
    assert at_1 is not None and (at_1.version, at_1.crs.grade if at_1.crs else None) == (2, 1)  # type: ignore[union-attr]
    just_before_2 = fold(d.events, as_of=t(2) - timedelta(microseconds=1))
    assert just_before_2 is not None and just_before_2.version == 2
    assert fold(d.events, as_of=t(2)).version == 3  # type: ignore[union-attr]
    assert fold(d.events, as_of=t(0) - timedelta(seconds=1)) is None  # before the opening: no episode yet


def test_a_history_that_opens_twice_or_does_not_open_first_is_refused_with_its_reason() -> None:
    d = patient()
    d.observe(t(1), temp_c=37.0, o2_device="room-air", **NEURO_OK)
    opening, observation = d.events
    with pytest.raises(ValueError, match="^an episode is opened once$"):
        apply(d.episode, opening)
    with pytest.raises(ValueError, match=r"^event seq 2 \(observe\) comes before the episode was opened$"):
        apply(None, observation)


def test_an_observation_s_inputs_are_the_plain_values_recorded() -> None:
    """What the record keeps of an observation: only the inputs recorded, as JSON values (strings, numbers)."""
    obs = Observation(temp_c=38.5, o2_device=O2Device.NASAL_CANNULA, o2_flow_lpm=2, consciousness="awake")
    inputs = obs.inputs()
    assert inputs == {"temp_c": 38.5, "o2_device": "nasal-cannula", "o2_flow_lpm": 2.0, "consciousness": "awake"}


# -- deadlines at the edge of time (pathway/clock.py) -------------------------------------------------------------

@pytest.mark.parametrize(("hours", "expected"), [
    (1e12, LONGEST), (-1e12, -LONGEST), (math.nan, LONGEST), (math.inf, LONGEST), (-math.inf, -LONGEST),
    (8.0, timedelta(hours=8)), (-8.0, timedelta(hours=-8)),
])
def test_a_policy_interval_beyond_what_a_timedelta_holds_saturates_in_its_direction(hours: float,
                                                                                   expected: timedelta) -> None:
    assert span(hours) == expected


def test_a_deadline_past_the_last_instant_never_arrives_and_one_before_the_first_has_always_passed() -> None:
    start = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)
    assert after(start, 1e12) == END_OF_TIME
    never_before = after(start, -1e12)
    assert never_before == datetime.min.replace(tzinfo=UTC) and never_before.tzinfo is UTC
    assert after(END_OF_TIME - timedelta(minutes=10), 0.5) == END_OF_TIME  # half an hour past the end: still the end
    assert after(start, 8) == start + timedelta(hours=8)


# -- doses: the steroid's baseline, deviations -------------------------------------------------------------------

GRADE2 = {"temp_c": 38.6, "o2_device": "nasal-cannula", "o2_flow_lpm": 3, **NEURO_OK}
GRADE3 = {"temp_c": 39.0, "o2_device": "hfnc", "o2_flow_lpm": 30, **NEURO_OK}


def test_the_steroid_baseline_is_the_grade_at_the_first_steroid_not_at_tocilizumab() -> None:
    """Tocilizumab at CRS 2, dexamethasone at CRS 3: the steroid started at grade 3, so escalation right after is
    not "worsening since the steroid started" (ESCALATION_ORDER refuses it)."""
    d = patient()
    d.observe(t(1), **GRADE2)
    d.give(t(1), "tocilizumab", 560)
    d.observe(t(2), **GRADE3)
    d.give(t(2), "dexamethasone", 10)
    ep = d.episode
    assert ep is not None and (ep.steroid_started_at, ep.steroid_start_severity) == (t(2), 3)
    with pytest.raises(Refused) as err:
        d.give(t(3), "dexamethasone", 20)
    assert "ESCALATION_ORDER" in err.value.rules


def test_a_later_steroid_dose_does_not_move_the_steroid_baseline() -> None:
    """ICANS 2: dexamethasone at 1 h (baseline grade 2); CRS 3 at 3 h and a second standard dose: escalation is
    allowed at once, the worse grade having risen since the steroid *started* (2 → 3)."""
    d = patient()
    d.observe(t(1), temp_c=37.0, o2_device="room-air", ice_score=5, consciousness="awake")  # ICANS 2
    d.give(t(1), "dexamethasone", 10)
    d.observe(t(3), temp_c=39.0, o2_device="hfnc", o2_flow_lpm=30, ice_score=5, consciousness="awake")
    d.give(t(7), "dexamethasone", 10)
    ep = d.episode
    assert ep is not None and (ep.steroid_started_at, ep.steroid_start_severity) == (t(1), 2)
    assert d.give(t(8), "dexamethasone", 20).override is None


def test_a_dose_given_under_override_is_kept_as_a_deviation() -> None:
    d = patient()
    d.observe(t(1), **GRADE2)
    d.give(t(1), "tocilizumab", 560)
    d.give(t(2), "dexamethasone", 10, override="consultant: early steroid")
    assert d.episode is not None
    assert [(x.drug.value, x.deviation) for x in d.episode.doses] == [("tocilizumab", False), ("dexamethasone", True)]
    assert d.episode.deviations == 1


# -- every time inside the core is UTC (pathway/clock.py as_utc) -----------------------------------------------------

class _NoOffset(tzinfo):
    """A zone that cannot say its offset: as good as no zone at all."""

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        return None

    def dst(self, dt: datetime | None) -> timedelta | None:
        return None


def test_an_aware_time_is_converted_to_utc_itself() -> None:
    paris = datetime(2026, 3, 1, 13, 0, tzinfo=timezone(timedelta(hours=1)))
    converted = as_utc(paris)
    assert converted == datetime(2026, 3, 1, 12, 0, tzinfo=UTC) and converted.tzinfo is UTC
    assert iso(paris) == "2026-03-01T12:00:00Z"


@pytest.mark.parametrize("value", [datetime(2026, 3, 1, 12, 0), datetime(2026, 3, 1, 12, 0, tzinfo=_NoOffset())])
def test_a_time_without_a_known_offset_is_refused(value: datetime) -> None:
    with pytest.raises(ValueError, match=r"^time must carry a timezone \(naive times are localised at the edge\)$"):
        as_utc(value)
