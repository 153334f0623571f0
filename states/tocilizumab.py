"""tocilizumab: IL-6 blockade given; repeat if no improvement after 8 h, add steroid if it persists."""

from states.common import ACT, OBSERVE, REASSESS, RESOLUTION, STEROID_START, TOCI_REPEAT, TOCI_REPEAT_REC
from states.names import State
from states.spec import Edge, StateSpec

SPEC = StateSpec(
    state=State.TOCILIZUMAB,
    meaning="Tocilizumab given. Repeat at 8 h or later without improvement (policy maximum per episode); "
            "add a steroid at grade 3, or grade 2 persisting 8 h after tocilizumab.",
    edges=(
        OBSERVE,
        ACT,
        Edge("give_tocilizumab", ("TOCI_INDICATION",), note="repeat dose"),
        Edge("give_standard_steroid", ("STEROID_INDICATION",), to=State.STEROID),
        Edge("give_escalated_steroid", ("STEROID_INDICATION", "ESCALATION_ORDER"), to=State.ESCALATED_STEROID,
             when="grade_4", otherwise=State.STEROID),
        Edge("give_refractory", ("REFRACTORY_ORDER",), to=State.REFRACTORY, when="refractory_prerequisites",
             otherwise=None, note="out of order (override): recorded as a deviation, steroids still next"),
        Edge("resolve", ("RESOLVE_CRITERIA",), to=State.RESOLVED),
        Edge("close", to=State.CLOSED),
    ),
    timed=(
        TOCI_REPEAT,
        *REASSESS, RESOLUTION,
    ),
    recommends=(
        TOCI_REPEAT_REC,
        *STEROID_START,
    ),
    citations=("LABEL-TOCI", "NCCN-2026", "ASCO-2021"),
)
