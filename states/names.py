"""The names of the pathway's states, in the order a patient moves through them."""

from enum import StrEnum


class State(StrEnum):
    ASSESSMENT = "assessment"
    TOCILIZUMAB = "tocilizumab"
    STEROID = "steroid"
    ESCALATED_STEROID = "escalated_steroid"
    REFRACTORY = "refractory"
    RESOLVED = "resolved"
    CLOSED = "closed"


INITIAL = State.ASSESSMENT
TERMINAL = frozenset({State.CLOSED})

#: Treatment phases in the order they are meant to be tried; a later phase is "further along".
PHASE_ORDER: tuple[State, ...] = (
    State.ASSESSMENT,
    State.TOCILIZUMAB,
    State.STEROID,
    State.ESCALATED_STEROID,
    State.REFRACTORY,
)
