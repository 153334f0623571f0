"""THE PATHWAY AS DATA: one module per state, assembled into one table and validated on import."""

from states import assessment, closed, escalated_steroid, refractory, resolved, steroid, tocilizumab
from states.common import DRUG_RULES, STEP_RULES, SUPPORTIVE
from states.names import INITIAL, PHASE_ORDER, TERMINAL, State
from states.spec import Edge, Recommend, StateSpec, TimedGuard
from states.validate import validate

PATHWAY: dict[State, StateSpec] = {
    spec.state: spec
    for spec in (assessment.SPEC, tocilizumab.SPEC, steroid.SPEC, escalated_steroid.SPEC, refractory.SPEC,
                 resolved.SPEC, closed.SPEC)
}

validate(PATHWAY, INITIAL, TERMINAL)

__all__ = [
    "PATHWAY", "State", "INITIAL", "TERMINAL", "PHASE_ORDER", "STEP_RULES", "DRUG_RULES", "SUPPORTIVE",
    "Edge", "Recommend", "StateSpec", "TimedGuard",
]
