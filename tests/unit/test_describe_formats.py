"""What a reader of each `crs pathway` format must find: the JSON document, the transition table, the drawing.

tests/unit/test_describe.py proves the frozen copy (pathway/described.py) equals what pathway/describe.py
generates; that says nothing about whether what it generates is right. These tests state, by hand, what
each format must say about the pathway (CONTRACT.md `crs pathway`: states, transitions, guards, rules with
their IDs, limits and citations), with the clinical figures of docs/CLINICAL.md.
"""

import json
from typing import Any

import pytest

from pathway.describe import describe, mermaid, table_rows
from pathway.policy import Policy

ORDER = ["assessment", "tocilizumab", "steroid", "escalated_steroid", "refractory", "resolved", "closed"]


def document(policy: Policy | None = None) -> dict[str, Any]:
    """The document as `crs pathway --format json` prints it (and a JSON reader gets it back)."""
    described = describe(policy) if policy else describe()
    return json.loads(json.dumps(described))


def state(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in doc["states"] if s["name"] == name)


def transition(doc: dict[str, Any], name: str, trigger: str) -> dict[str, Any]:
    return next(t for t in state(doc, name)["transitions"] if t["trigger"] == trigger)


# -- the JSON document -------------------------------------------------------------------------------------

def test_the_document_has_the_contract_sections_and_the_states_in_order() -> None:
    doc = document()
    assert list(doc) == ["states", "step_rules", "drug_rules", "supportive_care", "rules", "hard_limits",
                         "policy", "sources"]
    assert [s["name"] for s in doc["states"]] == ORDER
    assert list(doc["states"][0]) == ["name", "meaning", "initial", "terminal", "transitions", "timed_guards",
                                      "recommends", "citations"]
    assert [s["name"] for s in doc["states"] if s["initial"]] == ["assessment"]
    assert [s["name"] for s in doc["states"] if s["terminal"]] == ["closed"]
    assert state(doc, "closed")["transitions"] == []


def test_a_routed_step_names_its_guard_and_both_destinations() -> None:
    doc = document()
    escalate = transition(doc, "assessment", "give_escalated_steroid")
    assert {k: escalate[k] for k in ("trigger", "to", "rules", "when", "otherwise")} == {
        "trigger": "give_escalated_steroid", "to": "escalated_steroid",
        "rules": ["STEROID_INDICATION", "ESCALATION_ORDER"], "when": "grade_4", "otherwise": "steroid"}
    refractory = transition(doc, "assessment", "give_refractory")
    assert (refractory["to"], refractory["when"], refractory["otherwise"]) == \
        ("refractory", "refractory_prerequisites", None)  # otherwise: stays (a recorded deviation)


def test_a_plain_step_has_no_routing_keys_and_a_note_only_when_it_has_one() -> None:
    doc = document()
    assert transition(doc, "assessment", "close") == {"trigger": "close", "to": "closed", "rules": []}
    assert transition(doc, "steroid", "resolve") == {"trigger": "resolve", "to": "resolved",
                                                     "rules": ["RESOLVE_CRITERIA"]}
    assert transition(doc, "assessment", "observe") == {"trigger": "observe", "to": None, "rules": [],
                                                        "note": "record and grade a bedside assessment"}


def test_timers_show_the_policy_hours_and_none_for_the_grade_dependent_reassessment() -> None:
    timers = {g["name"]: g for g in state(document(), "tocilizumab")["timed_guards"]}
    repeat = timers["repeat tocilizumab allowed"]
    assert (repeat["hours"], repeat["rule"], repeat["starts_at"], repeat["only_if"], repeat["deadline"]) == \
        (8.0, "TOCI_MIN_INTERVAL", "last_tocilizumab", "toci_doses_below_policy_max", False)
    assert timers["resolution criteria met"]["hours"] == 24.0
    assert timers["reassess CRS"]["hours"] is None and timers["reassess CRS"]["deadline"] is True
    escalation = {g["name"]: g for g in state(document(), "steroid")["timed_guards"]}["escalation window ends"]
    assert (escalation["hours"], escalation["rule"]) == (24.0, "ESCALATION_ORDER")


def test_a_site_policy_shows_its_own_hours_and_figures() -> None:
    site = Policy(name="site-a", toci_min_interval_h=12, escalation_window_h=12, toci_max_doses_episode=1)
    doc = document(site)
    repeat = {g["name"]: g for g in state(doc, "tocilizumab")["timed_guards"]}["repeat tocilizumab allowed"]
    assert repeat["hours"] == 12
    assert {g["name"]: g for g in state(doc, "steroid")["timed_guards"]}["escalation window ends"]["hours"] == 12
    assert (doc["policy"]["name"], doc["policy"]["toci_max_doses_episode"]) == ("site-a", 1)
    # the hard limits do not move with the policy
    assert doc["hard_limits"]["toci_max_doses_episode"] == 4


def test_the_default_policy_and_hard_limits_carry_the_clinical_figures() -> None:
    doc = document()
    policy, hard = doc["policy"], doc["hard_limits"]
    assert (policy["name"], policy["fever_threshold_c"], policy["fever_comparator"]) == ("default", 38.0, ">=")
    assert (policy["toci_mg_per_kg"], policy["toci_min_interval_h"], policy["toci_max_doses_episode"]) == (8.0, 8.0, 2)
    assert (policy["dexamethasone_standard_mg"], policy["steroid_min_crs_grade"]) == (10.0, 3)
    assert (hard["toci_single_dose_max_mg"], hard["toci_max_doses_24h"], hard["toci_max_doses_episode"]) == \
        (800.0, 3, 4)
    assert (hard["dexamethasone_dose_max_mg"], hard["methylprednisolone_dose_max_mg"],
            hard["methylprednisolone_24h_max_mg"]) == (20.0, 1000.0, 2000.0)


def test_rules_name_their_kind_and_the_step_and_drug_rules_are_listed() -> None:
    doc = document()
    kinds = {r["id"]: r["kind"] for r in doc["rules"]}
    assert (kinds["TOCI_DOSE_MAX"], kinds["TOCI_INDICATION"], kinds["TOCI_MAX_DOSES"]) == \
        ("hard", "overridable", "hard or overridable")
    assert doc["step_rules"] == ["TIME_FUTURE", "TIME_ORDER"]
    assert doc["drug_rules"]["tocilizumab"] == ["DRUG_ROUTE", "TOCI_DOSE_MAX", "TOCI_MIN_INTERVAL", "TOCI_MAX_DOSES"]
    assert {"ASTCT-2019", "ASCO-2021", "NCCN-2026", "LABEL-TOCI"} <= set(doc["sources"])


def test_recommendations_show_regimen_alternatives_and_priority() -> None:
    recs = {r["id"]: r for r in state(document(), "steroid")["recommends"]}
    escalate = recs["REC_STEROID_ESCALATE"]
    assert (escalate["kind"], escalate["regimen"], escalate["alternatives"], escalate["priority"]) == \
        ("give", "dexamethasone_escalated", ["methylprednisolone_escalated"], 15)
    labs = {r["id"]: r for r in document()["supportive_care"]}["SUPPORT_LABS"]
    assert (labs["action"], labs["again_after_h"]) == ("labs", 24)


def test_the_document_is_plain_json_with_no_python_objects() -> None:
    """json.dumps needs no fallback: what describe() returns is what the JSON reader gets back."""
    described = describe(Policy(name="site-b", toci_grade1_fever_hours=None))
    text = json.dumps(described)
    assert json.loads(text)["policy"]["toci_grade1_fever_hours"] is None


# -- the transition table ------------------------------------------------------------------------------------

def rows() -> dict[tuple[str, str], dict[str, str]]:
    return {(r["from"], r["step"]): r for r in table_rows()}


def test_the_table_has_one_row_per_declared_step_and_none_from_closed() -> None:
    table = table_rows()
    assert all(list(r) == ["from", "step", "to", "rules"] for r in table)
    assert [r["step"] for r in table if r["from"] == "assessment"] == [
        "observe", "act", "give_tocilizumab", "give_standard_steroid", "give_escalated_steroid", "give_refractory",
        "resolve", "close"]
    assert [r["step"] for r in table if r["from"] == "resolved"] == [
        "observe", "act", "give_standard_steroid", "give_escalated_steroid", "close"]
    assert not [r for r in table if r["from"] == "closed"]
    assert [r["from"] for r in table] == sorted((r["from"] for r in table), key=ORDER.index)


def test_table_rows_say_where_a_step_goes_in_words() -> None:
    table = rows()
    assert table[("assessment", "observe")]["to"] == "(stays)"
    assert table[("assessment", "give_tocilizumab")]["to"] == "tocilizumab"
    assert table[("assessment", "give_escalated_steroid")]["to"] == "escalated_steroid if grade_4, else steroid"
    assert table[("steroid", "give_refractory")]["to"] == "refractory if refractory_prerequisites, else (stays)"
    assert table[("steroid", "give_escalated_steroid")]["to"] == "escalated_steroid"


def test_table_rows_list_the_step_rules_first_then_the_step_s_own() -> None:
    table = rows()
    assert table[("assessment", "close")]["rules"] == "TIME_FUTURE, TIME_ORDER"
    assert table[("tocilizumab", "give_escalated_steroid")]["rules"] == \
        "TIME_FUTURE, TIME_ORDER, STEROID_INDICATION, ESCALATION_ORDER"


# -- the mermaid drawing -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def drawing() -> str:
    return mermaid()


def lines(drawing: str) -> list[str]:
    return [line.strip() for line in drawing.splitlines()]


def test_the_drawing_is_a_titled_mermaid_state_diagram_starting_at_assessment(drawing: str) -> None:
    drawn = lines(drawing)
    assert drawn[:4] == ["---", "CRS pathway", "---", "stateDiagram-v2"]
    assert "[*] --> assessment" in drawn
    for name in ORDER:
        assert f'state "{name}" as {name}' in drawn


def test_the_drawing_shows_each_route_with_its_guard(drawing: str) -> None:
    drawn = lines(drawing)
    assert "assessment --> escalated_steroid: give_escalated_steroid [grade_4]" in drawn
    assert "assessment --> steroid: give_standard_steroid | give_escalated_steroid [!grade_4]" in drawn
    assert "steroid --> escalated_steroid: give_escalated_steroid" in drawn
    assert "refractory --> closed: close" in drawn
    assert "resolved --> closed: close" in drawn


def test_the_drawing_has_no_step_out_of_closed_and_no_automatic_jumps(drawing: str) -> None:
    drawn = lines(drawing)
    assert not [line for line in drawn if line.startswith("closed -->")]
    assert "to_" not in drawing
    arrows = [line for line in drawn if "-->" in line and not line.startswith("[*]")]
    assert len(arrows) == 27  # 7 + 6 + 5 + 4 + 3 + 2 source/destination pairs


class _GraphvizInstalled:
    """Stands in for an installed graphviz/pygraphviz: any use of it fails the test."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the drawing used the graphviz engine ({name}), not mermaid")


def test_the_drawing_is_mermaid_even_where_graphviz_is_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    """`crs pathway --format mermaid` must print mermaid on every machine: with graphviz installed,
    transitions would draw with it unless mermaid is asked for by name."""
    from transitions.extensions import diagrams_graphviz, diagrams_pygraphviz

    monkeypatch.setattr(diagrams_graphviz, "pgv", _GraphvizInstalled())
    monkeypatch.setattr(diagrams_pygraphviz, "pgv", _GraphvizInstalled())
    drawn = mermaid()
    assert drawn.splitlines()[3] == "stateDiagram-v2"
