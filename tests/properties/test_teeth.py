"""Tests with teeth: disable ONE hard guard and the property suite must catch it.

For each hard rule the guard is switched off in the live core, then
  1. the stateful machine runs (reference model OFF, so only the history invariants judge:
     they restate the hard limits from CLINICAL.md, not from pathway/guards.py), derandomized,
     generation only, and must fail with a message naming the rule; and
  2. the exhaustive check (breadth-first, stop at the first violation) must find a reachable
     state breaking the rule.

How each guard is disabled:
- rule checks (TOCI_DOSE_MAX, TOCI_MIN_INTERVAL, TOCI_MAX_DOSES, STEROID_DOSE_MAX, DOSE_MAX, TIME_ORDER,
  TIME_FUTURE, DRUG_ROUTE): `pathway.guards.CHECKS[rule]` is replaced by a check that never refuses
  (machine.violations looks the check up in that same dict at call time).
- EPISODE_CLOSED is structural (closed declares no edges, so violations() reports it): the closed
  state's spec in `states.PATHWAY` is given the resolved state's edges (observe, act, steroid, close)
  and the transitions machine is rebuilt from the patched table (`machine.build_machine()`), i.e. a
  table bug where closed still takes steps.
- PATHWAY_TRANSITION (bonus): the resolved state is given an undeclared edge back to tocilizumab; the
  edge invariant compares against the table as it was declared (snapshot at import).
monkeypatch undoes every change after each test.
"""

from dataclasses import replace

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from pathway import guards, machine
from pathway.policy import DEFAULT_POLICY
from states import PATHWAY, Edge, State
from tests.properties.episode_machine import DefaultPolicyEpisodes, EpisodeMachine, RandomPolicyEpisodes
from tests.properties.exhaustive import SLICES, explore

CHECKED_RULES = ["TOCI_DOSE_MAX", "TOCI_MIN_INTERVAL", "TOCI_MAX_DOSES", "STEROID_DOSE_MAX", "DOSE_MAX",
                 "TIME_ORDER", "TIME_FUTURE", "DRUG_ROUTE"]
TEETH_SETTINGS = settings(max_examples=600, derandomize=True, database=None, deadline=None, phases=[Phase.generate],
                          report_multiple_bugs=False, print_blob=False, stateful_step_count=15,
                          suppress_health_check=list(HealthCheck))
#: Which exhaustive slice can reach a breach of each rule.
SLICE_FOR = {"STEROID_DOSE_MAX": "daily-limits", "DOSE_MAX": "daily-limits"}
#: A fifth tocilizumab dose lies ten steps deep; breadth-first over the full alphabet gets there only
#: after ~25 s, so that search runs over the three steps that matter (still exhaustive over them).
FOCUS = {"TOCI_MAX_DOSES": ("observe crs=3 icans=0", "give tocilizumab 416", "jump 8 h")}


def disable(rule: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Switch one guard off in the live core (undone by monkeypatch)."""
    if rule in guards.CHECKS:
        monkeypatch.setitem(guards.CHECKS, rule, lambda ctx: None)
        return
    if rule == "EPISODE_CLOSED":
        monkeypatch.setitem(PATHWAY, State.CLOSED, replace(PATHWAY[State.CLOSED], edges=PATHWAY[State.RESOLVED].edges))
    elif rule == "PATHWAY_TRANSITION":
        spec = PATHWAY[State.RESOLVED]
        monkeypatch.setitem(PATHWAY, State.RESOLVED, replace(spec, edges=spec.edges + (
            Edge("give_tocilizumab", ("TOCI_INDICATION",), to=State.TOCILIZUMAB),)))
    else:
        raise KeyError(rule)
    monkeypatch.setattr(machine, "MACHINE", machine.build_machine())


def stateful_failure(base: type[EpisodeMachine]) -> str | None:
    """Run the state machine with the history invariants only; the failure message, or None."""
    teeth = type(f"Teeth{base.__name__}", (base,), {"REFERENCE": False, "DEEP_TEARDOWN": False, "COUNTED": False})
    try:
        run_state_machine_as_test(teeth, settings=TEETH_SETTINGS)
    except AssertionError as err:
        return str(err)
    return None


@pytest.mark.parametrize("rule", CHECKED_RULES + ["EPISODE_CLOSED", "PATHWAY_TRANSITION"])
def test_the_state_machine_catches_a_disabled_guard(rule: str, monkeypatch: pytest.MonkeyPatch) -> None:
    disable(rule, monkeypatch)
    failure = stateful_failure(DefaultPolicyEpisodes) or stateful_failure(RandomPolicyEpisodes)
    assert failure is not None, f"with {rule} disabled the state machine found nothing: the invariant has no teeth"
    assert f"{rule}:" in failure, f"with {rule} disabled the machine failed for another reason:\n{failure[:2000]}"


@pytest.mark.parametrize("rule", CHECKED_RULES + ["EPISODE_CLOSED", "PATHWAY_TRANSITION"])
def test_the_exhaustive_check_catches_a_disabled_guard(rule: str, monkeypatch: pytest.MonkeyPatch) -> None:
    disable(rule, monkeypatch)
    slice_ = {s.name: s for s in SLICES}[SLICE_FOR.get(rule, "pathway")]
    actions = None
    if rule in FOCUS:
        actions = [a for a in slice_.actions(52.0, DEFAULT_POLICY) if a.label in FOCUS[rule]]
        assert len(actions) == len(FOCUS[rule])
    result = explore(slice_, actions=actions, stop_on_violation=True)
    assert result.violations, f"with {rule} disabled the exhaustive check found nothing ({result.states} states)"
    assert any(v.startswith(f"{rule}:") for v in result.violations), \
        f"with {rule} disabled the exhaustive check found other problems:\n" + "\n".join(result.violations[:10])


def test_the_guards_are_back_after_each_teeth_test() -> None:
    """monkeypatch restored the core: the real guards refuse again."""
    assert all(guards.CHECKS[r] is not None and guards.CHECKS[r].__name__.startswith("check_") for r in CHECKED_RULES)
    assert PATHWAY[State.CLOSED].edges == ()
