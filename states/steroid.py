"""steroid: standard-dose corticosteroid; escalate after 24 h without improvement, or at once if worse."""

from states.common import ACT, OBSERVE, REASSESS, RESOLUTION, STEROID_TAPER, TOCI_REPEAT, TOCI_REPEAT_REC
from states.names import State
from states.spec import Edge, Recommend, StateSpec, TimedGuard

SPEC = StateSpec(
    state=State.STEROID,
    meaning="Standard steroid course (dexamethasone 10 mg IV q6h, 1–3 days). Escalate after 24 h without "
            "improvement, or at once on CRS or ICANS grade 4 or worsening.",
    edges=(
        OBSERVE,
        ACT,
        Edge("give_tocilizumab", ("TOCI_INDICATION",), note="repeat dose alongside steroids"),
        Edge("give_standard_steroid", ("STEROID_INDICATION",), note="course continues"),
        Edge("give_escalated_steroid", ("STEROID_INDICATION", "ESCALATION_ORDER"), to=State.ESCALATED_STEROID),
        Edge("give_refractory", ("REFRACTORY_ORDER",), to=State.REFRACTORY, when="refractory_prerequisites",
             otherwise=None, note="before escalation (override): recorded as a deviation"),
        Edge("resolve", ("RESOLVE_CRITERIA",), to=State.RESOLVED),
        Edge("close", to=State.CLOSED),
    ),
    timed=(
        TimedGuard("escalation window ends", "phase_start", "escalation_window_h",
                   "escalated steroid becomes due if there is no improvement", "ESCALATION_ORDER",
                   only_if="escalation_pending"),
        TOCI_REPEAT,
        *REASSESS, RESOLUTION,
    ),
    recommends=(
        Recommend("REC_STEROID_ESCALATE", "give", "escalation_due",
                  "no improvement after 24 h of standard steroid (or CRS/ICANS grade 4, or worsening): escalate",
                  ("CARTOX-2018", "NCCN-2026", "ASCO-2021"), regimen="dexamethasone_escalated",
                  alternatives=("methylprednisolone_escalated",), priority=15),
        Recommend("REC_STEROID_CONTINUE", "give", "standard_course_continues",
                  "standard steroid course continues while the escalation window runs",
                  ("CARTOX-2018", "ASCO-2021"), regimen="standard_course", priority=25),
        *STEROID_TAPER,  # once the worse grade is 1 or less
        TOCI_REPEAT_REC,
    ),
    citations=("CARTOX-2018", "ASCO-2021", "NCCN-2026"),
)
