"""The pathway table (states/) is well formed and every name it uses is implemented in pathway/."""

import re
from pathlib import Path

import pytest

from pathway.dosing import REGIMENS
from pathway.guards import CHECKS, CONDITIONS, ROUTES, STRUCTURAL_RULES
from pathway.machine import MACHINE
from pathway.table import transition_specs
from pathway.policy import Policy
from pathway.rules import RULES, Kind
from pathway.sources import SOURCES
from states import DRUG_RULES, PATHWAY, STEP_RULES, SUPPORTIVE, State
from states.spec import Edge, StateSpec
from states.validate import PathwayDefinitionError, validate

CONTRACT_RULES = {
    "TOCI_DOSE_MAX": Kind.HARD, "TOCI_MIN_INTERVAL": Kind.HARD, "TOCI_MAX_DOSES": Kind.MIXED,
    "TOCI_INDICATION": Kind.OVERRIDABLE, "STEROID_INDICATION": Kind.OVERRIDABLE, "STEROID_DOSE_MAX": Kind.HARD,
    "ESCALATION_ORDER": Kind.OVERRIDABLE, "REFRACTORY_ORDER": Kind.OVERRIDABLE, "RESOLVE_CRITERIA": Kind.OVERRIDABLE,
    "DOSE_MAX": Kind.HARD, "TIME_ORDER": Kind.HARD, "TIME_FUTURE": Kind.HARD, "EPISODE_CLOSED": Kind.HARD,
    "STEROID_DOSE_PER_KG": Kind.OVERRIDABLE,
}
#: Contract v2 rules that arrive with a later issue (corrections: issue 10); until then v1 stands.
LATER_ISSUES = {"CORRECTION_TARGET"}
CONTRACT_FILE = Path(__file__).resolve().parents[3] / "shared" / "CONTRACT.md"


def test_every_contract_rule_is_catalogued_with_its_kind() -> None:
    for rule_id, kind in CONTRACT_RULES.items():
        assert RULES[rule_id].kind is kind, rule_id


@pytest.mark.skipif(not CONTRACT_FILE.exists(), reason="shared/CONTRACT.md is not beside this checkout")
def test_contract_rule_table_matches_catalogue() -> None:
    ids = set(re.findall(r"^\| `([A-Z_]+)` \|", CONTRACT_FILE.read_text(), flags=re.M))
    assert ids and ids - LATER_ISSUES <= set(RULES)


def test_every_rule_has_a_sentence_citations_and_a_check() -> None:
    for rule in RULES.values():
        assert rule.sentence.endswith(".") and rule.citations
        assert set(rule.citations) <= set(SOURCES), rule.id
        assert rule.id in CHECKS or rule.id in STRUCTURAL_RULES, rule.id


def test_every_name_in_the_table_is_implemented() -> None:
    named_rules = set(STEP_RULES) | {r for rules in DRUG_RULES.values() for r in rules}
    for spec in PATHWAY.values():
        assert set(spec.citations) <= set(SOURCES)
        for edge in spec.edges:
            named_rules |= set(edge.rules)
            assert edge.when is None or edge.when in ROUTES
            assert edge.trigger in MACHINE.events
        for guard in spec.timed:
            assert guard.hours_field == "reassess_h_*" or guard.hours_field in Policy.model_fields
            assert guard.only_if is None or guard.only_if in CONDITIONS
            assert guard.rule is None or guard.rule in RULES
        for rec in spec.recommends + SUPPORTIVE:
            assert rec.when in CONDITIONS
            assert rec.regimen is None or rec.regimen in REGIMENS
            assert set(rec.citations) <= set(SOURCES)
    assert named_rules <= set(CHECKS)


def test_no_automatic_transitions_and_invalid_triggers_raise() -> None:
    assert not [name for name in MACHINE.events if name.startswith("to_")]
    assert MACHINE.ignore_invalid_triggers is False


def test_closed_is_final_and_every_state_reachable() -> None:
    assert PATHWAY[State.CLOSED].edges == ()
    sources = {t["source"] for t in transition_specs()}
    assert State.CLOSED.value not in sources
    dests = {t["dest"] for t in transition_specs()} | {State.ASSESSMENT.value}
    assert {s.value for s in State} <= dests


def _broken(state: State, spec: StateSpec) -> dict[State, StateSpec]:
    return {**PATHWAY, state: spec}


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (_broken(State.CLOSED, StateSpec(State.CLOSED, "x", (Edge("observe"),))), "final"),
        (_broken(State.RESOLVED, StateSpec(State.RESOLVED, "x", (Edge("observe"),))), "trap"),
        (_broken(State.ASSESSMENT, StateSpec(State.ASSESSMENT, "x", (Edge("close", to=State.CLOSED),))),
         "unreachable"),
        (_broken(State.ASSESSMENT, StateSpec(State.ASSESSMENT, "x", (Edge("act"), Edge("act")))), "twice"),
    ],
)
def test_validation_rejects_broken_tables(table: dict, message: str) -> None:
    with pytest.raises(PathwayDefinitionError, match=message):
        validate(table, State.ASSESSMENT, frozenset({State.CLOSED}))


def _fired(trigger: str, state: str, verdicts: dict[str, bool]) -> str | None:
    """Fire a fresh transitions machine on the same table, its routing guards answering `verdicts`."""
    from transitions import Machine, MachineError

    class Model:
        pass

    model = Model()
    for name in ROUTES:
        setattr(model, name, lambda event, answer=verdicts[name]: answer)
    Machine(model=model, states=[s.value for s in State], transitions=transition_specs(), initial=state,
            auto_transitions=False, ignore_invalid_triggers=False, send_event=True)
    try:
        return model.state if model.trigger(trigger) else None  # type: ignore[attr-defined]
    except MachineError:
        return None


def test_routing_reads_the_machine_exactly_as_firing_it_would(monkeypatch: pytest.MonkeyPatch) -> None:
    """decide() reads destinations from MACHINE's table without firing it (machine._route): for
    every state, trigger and combination of routing-guard answers it lands where firing lands."""
    from itertools import product

    from pathway import guards, machine
    from pathway.errors import Refused

    names = sorted(ROUTES)
    compared = 0
    for answers in product((False, True), repeat=len(names)):
        verdicts = dict(zip(names, answers))
        for name, answer in verdicts.items():
            monkeypatch.setitem(guards.ROUTES, name, lambda ctx, answer=answer: answer)
        for state in State:
            for trigger in MACHINE.events:
                try:
                    routed: str | None = machine._route(trigger, state, None).value  # type: ignore[arg-type]
                except Refused as refused:
                    assert refused.rule == "PATHWAY_TRANSITION"
                    routed = None
                assert routed == _fired(trigger, state.value, verdicts), (trigger, state, verdicts)
                compared += 1
    assert compared == 2 ** len(names) * len(State) * len(MACHINE.events)
