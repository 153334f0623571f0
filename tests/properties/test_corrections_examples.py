"""Issue 10's acceptance cases through the pure core, and what the property suite found, pinned by name.

Each case is decided by pathway.history.decide_change (as the service does) AND predicted by the suite's
own account (tests/properties/effective.py), so a case pins both the core and the oracle the stateful
machines judge it by. A core bug not fixed yet is xfail(strict=True): when the core is fixed the test
XPASSes, strict turns that into a failure, and the marker comes off.

C1 (found by the stateful suite while the core was being finished, fixed in 3b25fb3): a correction that
unsets a dose's route (back to the drug's usual route) stored an `unset` that its own replay did not
rebuild, so `audit verify` failed an accepted correction ("replay differs in data").

C2 (found while checking the override bookkeeping of the suite's oracle against the core; fixed in
pathway/history.py `standing()` while this suite was written): the override a late entry gave to a later
entry (its `overrides` listing) outlived the late entry when it was voided as entered in error. A later
late entry with NO override then newly broke the same overridable rule at that entry and was accepted,
the deviation attributed to the voided entry's override (its reason and actor). Issue 10: every accepted
change that broke an overridable rule carries an override; pathway/history.py: "a later correction
cannot lean on an override nobody gave for it".

C3 (found by C2's own test of that fix; fixed in pathway/history.py `decide_change`, which now withdraws them
too, as `standing()` will read the stored history): `standing()` withdraws the overrides a late entry gave
other entries once the late entry is corrected, but decide_change() decides the correction with those
overrides still in place. A correction that needs one of them again is accepted without an override, and
the stored history then no longer re-decides: `episode_of` raises IntegrityError (exit 5) for an
episode whose every step was accepted, and status, report and audit verify fail on it.
"""

from datetime import datetime, timedelta, timezone

import pytest

from pathway.commands import AdministerDose, Correct, OpenEpisode, RecordObservation, StepCommand, Void
from pathway.episode import Episode, apply
from pathway.errors import Refused
from pathway.events import Event
from pathway.history import decide_change, effective_history
from pathway.machine import decide, decide_open
from pathway.policy import DEFAULT_POLICY, Policy
from pathway.replay import replay
from states import State
from tests.properties import effective as E, safety
from tests.properties.strategies import graded_observation

T0 = datetime(2026, 11, 1, 10, tzinfo=timezone.utc)
EID = "EP-C"


def h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


class Chart:
    """One episode in memory: ordinary steps through decide(), changes through decide_change(), each
    change first predicted by the suite's own account of what stands."""

    def __init__(self, policy: Policy = DEFAULT_POLICY, weight_kg: float = 70) -> None:
        opened = decide_open(OpenEpisode(at=T0, actor="qa", patient_ref="C-1", weight_kg=weight_kg, age_years=50,
                                         policy=policy), EID, T0)
        self.events: list[Event] = [opened]
        self.ep: Episode = apply(None, opened)
        self.record = E.Record.start(opened)

    def step(self, cmd: StepCommand) -> Event:
        event = decide(self.ep, cmd, cmd.at)
        self.events.append(event)
        self.ep = apply(self.ep, event)
        self.record.add(event)
        return event

    def change(self, cmd: E.ChangeCommand, now: datetime) -> Event:
        """Decide a change; the suite's prediction must agree (refusal rules and breaks_seq, or acceptance)."""
        prediction = E.predict(self.record, self.ep, cmd, now)
        try:
            event, after = decide_change(self.ep, self.events, cmd, now)
        except Refused as err:
            assert (err.rules, err.breaks_seq) == (prediction.refused, prediction.breaks_seq), prediction
            raise
        assert prediction.accepted, f"accepted, but the suite predicted {prediction.refused or prediction.invalid}"
        assert E.accepted_problems(cmd, now, self.ep, len(self.events), event, after, prediction, True) == []
        self.events.append(event)
        self.ep = after
        self.record.add(event)
        return event

    def effective(self) -> list[Event]:
        return E.redecide_record(self.record).events

    def verified(self) -> None:
        """audit verify's view: the replay is clean and folds to the live episode; the effective history is
        the core's and keeps every hard limit."""
        result = replay(self.events)
        assert result.problems == [] and result.episode == self.ep
        assert effective_history(self.events)[1].events == self.effective()[1:]
        assert safety.history_problems(self.effective(), self.ep.weight_kg, effective=True) == []


def give(at: datetime, dose: float, drug: str = "tocilizumab", **kw: object) -> AdministerDose:
    return AdministerDose(at=at, actor="qa", episode_id=EID, drug=drug, dose_mg=dose, **kw)  # type: ignore[arg-type]


def observe(at: datetime, crs: int = 3, **kw: object) -> RecordObservation:
    return RecordObservation(at=at, actor="qa", episode_id=EID, observation=graded_observation(crs),
                             **kw)  # type: ignore[arg-type]


def test_the_56_mg_typo_is_corrected_and_the_next_dose_follows_at_its_real_interval() -> None:
    chart = Chart()
    chart.step(observe(h(0)))
    typo = chart.step(give(h(0.2), 56))
    with pytest.raises(Refused) as refused:  # H4: the real dose is blocked by the typo, override or not
        chart.step(give(h(1), 560, override_reason="the 56 was a typo"))
    assert refused.value.rules == ("TOCI_MIN_INTERVAL",)
    fixed = chart.change(Correct(at=h(1), actor="qa", episode_id=EID, target_seq=typo.seq, reason="56 typed for 560",
                                 changes={"dose_mg": 560}), h(1))
    assert fixed.data["corrected"]["dose_mg"] == 560 and fixed.override is None
    assert [d.dose_mg for d in chart.ep.toci_doses] == [560]
    chart.step(observe(h(8.2)))
    chart.step(give(h(8.2), 560))  # 8 h after the corrected dose's own time
    assert len(chart.ep.toci_doses) == 2
    chart.verified()


def test_a_correction_to_900_mg_is_refused_by_the_dose_maximum_even_with_an_override() -> None:
    chart = Chart()
    chart.step(observe(h(0)))
    dose = chart.step(give(h(0.2), 56))
    with pytest.raises(Refused) as refused:
        chart.change(Correct(at=h(1), actor="qa", episode_id=EID, target_seq=dose.seq, reason="typo",
                             changes={"dose_mg": 900}, override_reason="attending's order"), h(1))
    assert refused.value.rules == ("TOCI_DOSE_MAX",) and refused.value.breaks_seq is None
    assert len(chart.events) == 3 and chart.ep.toci_doses[0].dose_mg == 56


def test_a_late_tocilizumab_dose_two_hours_before_a_recorded_one_is_refused_naming_it() -> None:
    chart = Chart()
    chart.step(observe(h(0)))
    recorded = chart.step(give(h(10), 560))
    for reason in (None, "charted late, given before transfer"):
        with pytest.raises(Refused) as refused:
            chart.change(give(h(8), 560, late="charted late", override_reason=reason), h(11))
        assert refused.value.rules == ("TOCI_MIN_INTERVAL",) and refused.value.breaks_seq == recorded.seq
        assert "(seq 3, in the corrected history)" in refused.value.message
    chart.change(give(h(2), 560, late="charted late"), h(11))  # 8 h apart: allowed
    chart.verified()


def test_voiding_the_only_tocilizumab_dose_routes_back_to_assessment() -> None:
    chart = Chart()
    chart.step(observe(h(0)))
    dose = chart.step(give(h(1), 560))
    assert chart.ep.state is State.TOCILIZUMAB
    void = chart.change(Void(at=h(2), actor="qa", episode_id=EID, target_seq=dose.seq, reason="wrong patient"), h(2))
    assert (void.from_state, void.to_state) == ("tocilizumab", "assessment") and chart.ep.toci_doses == []
    chart.verified()


def test_c1_a_correction_that_unsets_a_route_replays() -> None:
    chart = Chart()
    chart.step(observe(h(0)))
    dex = chart.step(give(h(0), 10, drug="dexamethasone", route="po"))
    chart.change(Correct(at=h(0), actor="qa", episode_id=EID, target_seq=dex.seq, reason="was IV", unset=("route",)),
                 h(0.1))
    assert chart.effective()[-1].data["route"] == "iv"
    chart.verified()


def test_c2_a_voided_late_entry_takes_its_override_with_it() -> None:
    chart = Chart(policy=DEFAULT_POLICY.model_copy(update={"toci_max_doses_episode": 1}))
    chart.step(observe(h(0)))
    recorded = chart.step(give(h(10), 560))
    late = chart.change(give(h(1), 560, late="charted late", override_reason="second dose agreed"), h(11))
    assert late.data["overrides"] == {str(recorded.seq): ["TOCI_MAX_DOSES"]}
    chart.change(Void(at=h(11), actor="qa", episode_id=EID, target_seq=late.seq, reason="wrong patient"), h(11.5))
    # the recorded dose is the first again; a new late dose makes it the second, with no override given:
    with pytest.raises(Refused) as refused:
        chart.change(give(h(1.5), 560, late="charted late"), h(12))
    assert refused.value.rules == ("TOCI_MAX_DOSES",) and refused.value.breaks_seq == recorded.seq


def test_c3_a_corrected_late_entry_asks_again_for_the_overrides_it_needs() -> None:
    """The same bookkeeping for a correction: the corrected late entry's values are new, so the override it
    gave the recorded dose goes, and the correction needs one of its own there."""
    chart = Chart(policy=DEFAULT_POLICY.model_copy(update={"toci_max_doses_episode": 1}))
    chart.step(observe(h(0)))
    recorded = chart.step(give(h(10), 560))
    late = chart.change(give(h(1), 560, late="charted late", override_reason="second dose agreed"), h(11))
    fix = Correct(at=h(11), actor="qa", episode_id=EID, target_seq=late.seq, reason="was 500 mg",
                  changes={"dose_mg": 500})
    with pytest.raises(Refused) as refused:
        chart.change(fix, h(11.5))
    assert refused.value.rules == ("TOCI_MAX_DOSES",) and refused.value.breaks_seq == recorded.seq
    fixed = chart.change(fix.model_copy(update={"override_reason": "second dose agreed"}), h(11.5))
    assert fixed.data["overrides"] == {str(recorded.seq): ["TOCI_MAX_DOSES"]}
    chart.verified()
