"""The transitions machine is exactly the pathway table, and a dose event records exactly what was given.

`build_machine()` turns states/ into one `transitions.Machine`; decide() reads its table (machine._route)
and tests/properties/test_teeth.py rebuilds it from a patched table, so what the builder makes matters:
seven states, the model starting at assessment, only the declared steps (no automatic `to_<state>`
steps that would let a caller jump anywhere), an undeclared step raising instead of being ignored, and
routing guards handed the event (they read the step's context). The routes are written out here as the
pathway declares them (DESIGN.md, states/*.py), not read back from the code.

A give event's data is what an auditor reads in the record (`crs show --json`, the FHIR export): the
drug, the dose, the route, mg/kg to three decimals, the hard limit at this weight, the steroid intensity,
the tocilizumab dose number. The figures below are worked out by hand.
"""

from datetime import timedelta
from typing import Any

import pytest
from transitions import MachineError

from pathway.commands import AdministerDose, OpenEpisode, RecordAction
from pathway.errors import Invalid, Refused
from pathway.events import PATHWAY_VERSION
from pathway.machine import build_machine, decide, decide_open, evaluate, trigger_for
from tests.scenarios.driver import Driver, t

STEPS = ("observe", "act", "give_tocilizumab", "give_standard_steroid", "give_escalated_steroid",
         "give_refractory", "resolve", "close")

#: Where each step goes from each state: "stays", a state, or "X if guard, else Y" (a routed step).
DECLARED: dict[str, dict[str, str]] = {
    "assessment": {
        "observe": "stays", "act": "stays", "give_tocilizumab": "tocilizumab", "give_standard_steroid": "steroid",
        "give_escalated_steroid": "escalated_steroid if grade_4, else steroid",
        "give_refractory": "refractory if refractory_prerequisites, else stays",
        "resolve": "resolved", "close": "closed"},
    "tocilizumab": {
        "observe": "stays", "act": "stays", "give_tocilizumab": "stays", "give_standard_steroid": "steroid",
        "give_escalated_steroid": "escalated_steroid if grade_4, else steroid",
        "give_refractory": "refractory if refractory_prerequisites, else stays",
        "resolve": "resolved", "close": "closed"},
    "steroid": {
        "observe": "stays", "act": "stays", "give_tocilizumab": "stays", "give_standard_steroid": "stays",
        "give_escalated_steroid": "escalated_steroid",
        "give_refractory": "refractory if refractory_prerequisites, else stays",
        "resolve": "resolved", "close": "closed"},
    "escalated_steroid": {
        "observe": "stays", "act": "stays", "give_tocilizumab": "stays", "give_standard_steroid": "stays",
        "give_escalated_steroid": "stays", "give_refractory": "refractory if refractory_prerequisites, else stays",
        "resolve": "resolved", "close": "closed"},
    "refractory": {
        "observe": "stays", "act": "stays", "give_tocilizumab": "stays", "give_standard_steroid": "stays",
        "give_escalated_steroid": "stays", "give_refractory": "stays", "resolve": "resolved", "close": "closed"},
    # after resolution: bedside steps, a steroid taper, and closing; no new treatment line
    "resolved": {"observe": "stays", "act": "stays", "give_standard_steroid": "stays",
                 "give_escalated_steroid": "stays", "close": "closed"},
    "closed": {},
}


def _described(transitions: list[Any]) -> str:
    def dest(transition: Any) -> str:
        return transition.dest or "stays"

    if len(transitions) == 1 and not transitions[0].conditions:
        return dest(transitions[0])
    taken, other = transitions
    [guard] = taken.conditions
    [unless] = other.conditions
    assert (guard.func, guard.target, unless.func, unless.target) == (unless.func, True, guard.func, False)
    return f"{dest(taken)} if {guard.func}, else {dest(other)}"


def test_the_machine_has_the_seven_states_and_starts_at_assessment() -> None:
    machine = build_machine()
    assert sorted(machine.states) == sorted(DECLARED)
    [model] = machine.models
    assert model.state == "assessment"


def test_the_machine_declares_only_the_pathway_steps() -> None:
    """No automatic `to_<state>` triggers: the only way between states is a declared step."""
    machine = build_machine()
    assert sorted(machine.events) == sorted(STEPS)
    [model] = machine.models
    assert not [name for name in dir(model) if name.startswith("to_")]


def test_every_route_is_the_one_the_pathway_declares() -> None:
    machine = build_machine()
    found: dict[str, dict[str, str]] = {state: {} for state in machine.states}
    for trigger, event in machine.events.items():
        for source, transitions in event.transitions.items():
            found[source][trigger] = _described(transitions)
    assert found == DECLARED


def test_firing_moves_the_model_as_the_table_says_and_guards_get_the_event() -> None:
    machine = build_machine()
    [model] = machine.models
    asked: list[Any] = []

    def grade_4(event: Any) -> bool:  # a routing guard, answered here; it is handed the event data
        asked.append(event.kwargs)
        return True

    model.grade_4 = grade_4
    model.trigger("observe", step="observe at 12:00")
    assert model.state == "assessment"  # a bedside step stays
    model.trigger("give_escalated_steroid", step="methylprednisolone 1000 mg")
    assert model.state == "escalated_steroid"
    assert asked == [{"step": "methylprednisolone 1000 mg"}]
    model.trigger("resolve")
    model.trigger("close")
    assert model.state == "closed"


@pytest.mark.parametrize(("path", "undeclared"), [
    (("close",), "observe"),  # a closed episode takes no further step
    (("close",), "close"),
    (("resolve",), "give_tocilizumab"),  # no new treatment line after resolution
    (("resolve",), "give_refractory"),
])
def test_an_undeclared_step_raises_rather_than_being_ignored(path: tuple[str, ...], undeclared: str) -> None:
    machine = build_machine()
    [model] = machine.models
    for trigger in path:
        model.trigger(trigger)
    before = model.state
    with pytest.raises(MachineError, match="Can't trigger event"):
        model.trigger(undeclared)
    assert model.state == before


# -- what a give event records ---------------------------------------------------------------------------

GRADE2 = {"temp_c": 38.6, "o2_device": "nasal-cannula", "o2_flow_lpm": 3}


def _adult(kg: float = 72.0, age: float = 45) -> Driver:
    d = Driver()
    d.open(t(0), patient_ref="P-GIVE", weight_kg=kg, age_years=age)
    d.observe(t(1), **GRADE2)
    return d


def test_a_tocilizumab_dose_records_its_number_limit_and_mg_per_kg() -> None:
    d = _adult(72.0)
    first = d.give(t(2), "tocilizumab", 560)
    # 560 / 72 = 7.7777… → 7.778 mg/kg; ceiling 8 mg/kg × 72 kg × 1.1 = 633.6 mg
    assert first.data == {"drug": "tocilizumab", "dose_mg": 560, "route": "iv", "mg_per_kg": 7.778,
                          "limit_mg": 633.6, "dose_number": 1, "pathway": PATHWAY_VERSION}
    second = d.give(t(10), "tocilizumab", 560)
    assert second.data["dose_number"] == 2


def test_a_steroid_dose_records_its_intensity_and_the_absolute_limit() -> None:
    d = _adult(72.0)
    d.give(t(2), "tocilizumab", 560)
    d.observe(t(11), **GRADE2)  # grade 2 persisting after tocilizumab: steroid indicated
    dex = d.give(t(12), "dexamethasone", 10)
    # 10 / 72 = 0.13888… → 0.139 mg/kg; dexamethasone's absolute limit is 20 mg a dose
    assert dex.data == {"drug": "dexamethasone", "dose_mg": 10, "route": "iv", "mg_per_kg": 0.139,
                        "intensity": "standard", "limit_mg": 20.0, "pathway": PATHWAY_VERSION}


def test_a_child_s_mg_per_kg_is_the_dose_divided_by_the_weight() -> None:
    d = _adult(7.0, age=1)  # an infant: the weight is below the dose, so dose × weight would show
    dose = d.give(t(2), "tocilizumab", 84)  # 12 mg/kg under 30 kg
    assert dose.data["mg_per_kg"] == 12.0
    assert dose.data["limit_mg"] == 92.4  # 12 mg/kg × 7 kg × 1.1


def test_a_drug_without_a_dose_limit_records_none() -> None:
    d = _adult(72.0)
    rux = d.give(t(2), "ruxolitinib", 10, override="tocilizumab unavailable; haematology advice")
    assert rux.data["route"] == "po"
    assert rux.data["mg_per_kg"] == 0.139
    assert "limit_mg" not in rux.data and "dose_number" not in rux.data and "intensity" not in rux.data


def test_an_observation_after_tocilizumab_is_graded_with_the_fever_masked() -> None:
    """CLINICAL §1: after tocilizumab (or a steroid) fever is masked; hypoxia grades CRS without it,
    and the event records that grade, not the grade an unmasked reading would give."""
    d = _adult(72.0)
    d.give(t(2), "tocilizumab", 560)
    d.observe(t(3), temp_c=37.0, o2_device="nasal-cannula", o2_flow_lpm=3)
    observed = d.events[-1].data
    assert (observed["crs_grade"], observed["icans_grade"]) == (2, None)
    assert observed["observation"] == {"temp_c": 37.0, "o2_device": "nasal-cannula", "o2_flow_lpm": 3.0}


def test_an_action_and_a_close_record_a_note_or_reason_only_when_given() -> None:
    d = _adult(72.0)
    assert d.act(t(2), "labs").data == {"action": "labs", "pathway": PATHWAY_VERSION}
    noted = d.step(RecordAction(at=t(3), actor="nurse-a", episode_id="E0001", action="telemetry",
                                note="bed 4 monitor"))
    assert noted.data == {"action": "telemetry", "note": "bed 4 monitor", "pathway": PATHWAY_VERSION}
    assert d.close(t(4)).data == {"pathway": PATHWAY_VERSION}
    other = _adult(72.0)
    assert other.close(t(4), reason="transferred to another centre").data == \
        {"reason": "transferred to another centre", "pathway": PATHWAY_VERSION}


# -- refusals the machine itself makes -------------------------------------------------------------------

def _refusal(d: Driver, command: Any) -> Refused:
    assert d.episode is not None
    with pytest.raises(Refused) as caught:
        decide(d.episode, command, command.at + timedelta(minutes=1))
    return caught.value


def _toci(at: Any, dose: float = 560) -> AdministerDose:
    return AdministerDose(at=at, actor="nurse-a", episode_id="E0001", drug="tocilizumab", dose_mg=dose)


def test_a_step_on_a_closed_episode_is_refused_naming_the_closed_episode_first() -> None:
    d = _adult(72.0)
    d.close(t(4))
    # dated before the close, too: the closed episode is what the user must read first
    refused = _refusal(d, RecordAction(at=t(3), actor="nurse-a", episode_id="E0001", action="labs"))
    assert refused.rules == ("EPISODE_CLOSED", "TIME_ORDER")
    assert refused.message == "the episode is closed and takes no further step"
    body = refused.as_json()
    assert body["overridable"] is False
    assert [v["overridable"] for v in body["violations"]] == [False, False]


def test_a_step_the_state_does_not_have_is_refused_in_words_and_never_overridable() -> None:
    d = _adult(72.0)
    d.resolve(t(2), override="criteria met clinically; attending decision")
    assert d.episode is not None and d.episode.state.value == "resolved"
    refused = _refusal(d, _toci(t(3)))
    assert (refused.rule, refused.message) == ("PATHWAY_TRANSITION", "give tocilizumab is not a step from resolved")
    body = refused.as_json()
    assert body["overridable"] is False and body["violations"][0]["overridable"] is False
    # with a hard dose limit broken as well, the missing step is still named first
    both = _refusal(d, _toci(t(3), dose=900))
    assert both.rules[:2] == ("PATHWAY_TRANSITION", "TOCI_DOSE_MAX")


def test_a_step_the_machine_lacks_is_refused_even_if_the_state_table_lists_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Defence in depth: should MACHINE and states/ ever disagree (a machine built from another table),
    the step is refused by the machine, not routed anywhere, and no override passes it."""
    from transitions import Machine

    from pathway import machine
    from pathway.table import transition_specs

    without_toci = [spec for spec in transition_specs() if spec["trigger"] != "give_tocilizumab"]
    monkeypatch.setattr(machine, "MACHINE", Machine(states=list(DECLARED), transitions=without_toci,
                                                    initial="assessment", auto_transitions=False))
    refused = _refusal(_adult(72.0), _toci(t(2)))
    assert (refused.rule, refused.message) == ("PATHWAY_TRANSITION", "give_tocilizumab is not a step from assessment")
    assert refused.as_json()["violations"][0]["overridable"] is False


def test_a_routing_guard_that_cannot_answer_refuses_the_step(monkeypatch: pytest.MonkeyPatch) -> None:
    """A routed step goes where its guard says; a guard answering neither yes nor no sends it nowhere."""
    from pathway import guards

    monkeypatch.setitem(guards.ROUTES, "grade_4", lambda ctx: None)
    d = _adult(72.0)
    dex20 = AdministerDose(at=t(2), actor="nurse-a", episode_id="E0001", drug="dexamethasone", dose_mg=20,
                           override_reason="attending: escalate now")
    refused = _refusal(d, dex20)
    assert (refused.rule, refused.message) == ("PATHWAY_TRANSITION",
                                               "no declared step give_escalated_steroid from assessment")
    assert refused.as_json()["violations"][0]["overridable"] is False


def test_opening_an_episode_in_the_future_is_refused() -> None:
    now = t(0)
    command = OpenEpisode(at=now + timedelta(hours=1), actor="nurse-a", patient_ref="P-1", weight_kg=70,
                          age_years=40)
    with pytest.raises(Refused) as caught:
        decide_open(command, "E0001", now)
    assert caught.value.rule == "TIME_FUTURE"


def test_the_wrong_screen_for_the_age_is_invalid_input_with_the_right_option_named() -> None:
    child = Driver()
    child.open(t(0), patient_ref="P-CHILD", weight_kg=20, age_years=6)
    with pytest.raises(Invalid) as ice:
        child.observe(t(1), temp_c=37.0, ice_score=8)
    assert ice.value.message == ("the ICE score is not used under 12 years: record the CAPD with --capd N (0–32) "
                                 "or --capd unable")
    adult = _adult(72.0)
    with pytest.raises(Invalid) as capd:
        adult.observe(t(2), temp_c=37.0, capd_score=4)
    assert capd.value.message == ("the CAPD is for children under 12 years: record the ICE score with "
                                  "--ice N (0–10)")


def test_a_command_for_another_episode_or_a_late_entry_is_not_decided_here() -> None:
    d = _adult(72.0)
    assert d.episode is not None
    stray = RecordAction(at=t(2), actor="nurse-a", episode_id="E0002", action="labs")
    with pytest.raises(ValueError, match=r"^command is for another episode$"):
        decide(d.episode, stray, t(3))
    late = RecordAction(at=t(0.5), actor="nurse-a", episode_id="E0001", action="labs", late="charted after the round")
    with pytest.raises(ValueError) as caught:
        decide(d.episode, late, t(3))
    assert str(caught.value) == ("a late entry is decided against the episode's history "
                                 "(pathway.history.decide_change)")


def test_a_placed_step_is_not_judged_by_time_order() -> None:
    """Inside a corrected history a step sits at its own clinical time (pathway/history.py), so TIME_ORDER,
    which guards the end of the record, does not apply there; at the end of the record it does."""
    d = _adult(72.0)
    assert d.episode is not None
    earlier = RecordAction(at=t(0.5), actor="nurse-a", episode_id="E0001", action="labs")
    assert [v.rule for v in evaluate(d.episode, earlier, t(3)).found] == ["TIME_ORDER"]
    assert evaluate(d.episode, earlier, t(3), placed=True).found == []


def test_a_drug_the_pathway_does_not_classify_is_an_error_naming_it() -> None:
    d = _adult(72.0)
    assert d.episode is not None
    unknown = AdministerDose.model_construct(at=t(2), actor="nurse-a", episode_id="E0001", drug="aspirin",
                                             dose_mg=75.0, route=None, late=None, override_reason=None)
    with pytest.raises(ValueError, match=r"^unknown drug aspirin$"):
        trigger_for(unknown, d.episode)
