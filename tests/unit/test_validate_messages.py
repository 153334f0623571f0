"""A broken pathway table never loads, and each way of breaking it is refused with its own sentence.

states/validate.py runs when states/ is imported, so a malformed table stops the program before any
step is decided. These tests build small tables by hand (a chain through the seven states) and break
them one way at a time; each must raise PathwayDefinitionError naming what is wrong and where, and
the well-formed tables (the real one included) must pass.
"""

import re

import pytest

from states import INITIAL, PATHWAY, TERMINAL, State
from states.spec import Edge, StateSpec
from states.validate import PathwayDefinitionError, destinations, validate

A, T, S, E, R, RES, C = (State.ASSESSMENT, State.TOCILIZUMAB, State.STEROID, State.ESCALATED_STEROID,
                         State.REFRACTORY, State.RESOLVED, State.CLOSED)


def chain(**edges: tuple[Edge, ...]) -> dict[State, StateSpec]:
    """assessment → tocilizumab → steroid → escalated_steroid → refractory → resolved → closed, one step
    each (so every state reaches `closed` only through all the later ones); `edges` replaces a state's steps."""
    steps = {
        A: (Edge("give_tocilizumab", to=T),),
        T: (Edge("give_standard_steroid", to=S),),
        S: (Edge("give_escalated_steroid", to=E),),
        E: (Edge("give_refractory", to=R),),
        R: (Edge("resolve", to=RES),),
        RES: (Edge("close", to=C),),
        C: (),
    }
    steps.update({State(name): value for name, value in edges.items()})
    return {state: StateSpec(state, f"{state} (test)", steps[state]) for state in State}


def refused(table: dict[State, StateSpec]) -> str:
    with pytest.raises(PathwayDefinitionError) as caught:
        validate(table, A, frozenset({C}))
    return str(caught.value)


def test_the_real_pathway_and_a_plain_chain_are_well_formed() -> None:
    assert validate(PATHWAY, INITIAL, TERMINAL) is None
    assert validate(chain(), A, frozenset({C})) is None


def test_a_state_without_a_module_is_named() -> None:
    table = {state: spec for state, spec in chain().items() if state not in (R, RES)}
    message = refused(table)
    assert message.startswith("states without a module: ")
    assert re.fullmatch(r"states without a module: \[.*'refractory'.*, .*'resolved'.*\]", message), message


def test_a_trigger_declared_twice_is_named_with_its_state() -> None:
    twice = (Edge("give_standard_steroid", to=S), Edge("give_standard_steroid", to=E))
    assert refused(chain(tocilizumab=twice)) == "tocilizumab: a trigger is declared twice"


def test_a_final_state_with_a_step_is_refused() -> None:
    assert refused(chain(closed=(Edge("observe"),))) == "closed is final but declares steps"


@pytest.mark.parametrize("steps", [
    (Edge("observe"),),  # stays
    (Edge("observe", to=RES), Edge("act")),  # only back to itself
    (Edge("close", otherwise=C),),  # an `otherwise` no `when` can ever choose leads nowhere
], ids=["stays", "to-itself", "otherwise-without-when"])
def test_a_trap_state_is_named(steps: tuple[Edge, ...]) -> None:
    assert refused(chain(resolved=steps)) == "resolved is a trap state: no step leaves it"


def test_otherwise_without_when_is_named_with_state_and_trigger() -> None:
    steps = (Edge("give_refractory", to=R), Edge("close", to=C, otherwise=RES))
    assert refused(chain(escalated_steroid=steps)) == "escalated_steroid.close: 'otherwise' without 'when'"


def test_a_state_no_step_reaches_is_named() -> None:
    # refractory now skips resolved: nothing leads there any more
    message = refused(chain(refractory=(Edge("close", to=C),)))
    assert re.fullmatch(r"unreachable from assessment: \[[^,]*'resolved'[^,]*\]", message), message


def test_a_state_reached_only_through_an_otherwise_branch_is_reachable() -> None:
    routed = (Edge("resolve", to=C, when="resolution_met", otherwise=RES),)
    assert validate(chain(refractory=routed), A, frozenset({C})) is None


def test_states_that_only_lead_to_each_other_cannot_reach_the_end() -> None:
    # refractory ⇄ resolved: neither is a trap (each leaves), both are reachable, neither ends
    # (escalated_steroid keeps its own way to the end, so closed stays reachable)
    message = refused(chain(escalated_steroid=(Edge("give_refractory", to=R), Edge("close", to=C)),
                            resolved=(Edge("give_refractory", to=R),)))
    assert re.fullmatch(r"(refractory|resolved) cannot reach a final state", message), message


def test_a_longer_closed_loop_is_caught_too() -> None:
    # tocilizumab → steroid → escalated_steroid → refractory → steroid: every state in it is reachable
    # and leaves, but only assessment still has a way to the end (through resolved)
    table = chain(assessment=(Edge("give_tocilizumab", to=T), Edge("resolve", to=RES)),
                  refractory=(Edge("give_standard_steroid", to=S),))
    message = refused(table)
    assert re.fullmatch(r"(tocilizumab|steroid|escalated_steroid|refractory) cannot reach a final state",
                        message), message


def test_the_final_states_are_the_ones_the_caller_names() -> None:
    """With resolved declared final too, a resolved without steps is an end, not a trap."""
    table = chain(escalated_steroid=(Edge("give_refractory", to=R), Edge("close", to=C)), resolved=())
    assert validate(table, A, frozenset({C, RES})) is None
    assert refused(table) == "resolved is a trap state: no step leaves it"


def test_destinations_count_otherwise_only_where_a_when_chooses_it() -> None:
    assert destinations(StateSpec(A, "x", (Edge("observe"),))) == set()
    assert destinations(StateSpec(A, "x", (Edge("give_tocilizumab", to=T),))) == {T}
    assert destinations(StateSpec(A, "x", (Edge("give_escalated_steroid", to=E, when="grade_4", otherwise=S),))) \
        == {E, S}
    assert destinations(StateSpec(A, "x", (Edge("give_refractory", to=R, when="refractory_prerequisites"),))) == {R}
    assert destinations(StateSpec(A, "x", (Edge("close", otherwise=C),))) == set()
