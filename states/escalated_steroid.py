"""escalated_steroid: high-dose steroid; refractory therapy after 24 h without improvement."""

from states.common import ACT, OBSERVE, REASSESS, RESOLUTION, TOCI_REPEAT
from states.names import State
from states.spec import Edge, Recommend, StateSpec, TimedGuard

SPEC = StateSpec(
    state=State.ESCALATED_STEROID,
    meaning="Escalated steroid (dexamethasone 20 mg IV q6h, or methylprednisolone 1000 mg/day × 3 days). "
            "Refractory therapy after 24 h without improvement.",
    edges=(
        OBSERVE,
        ACT,
        Edge("give_tocilizumab", ("TOCI_INDICATION",)),
        Edge("give_standard_steroid", ("STEROID_INDICATION",), note="course or taper continues"),
        Edge("give_escalated_steroid", ("STEROID_INDICATION",), note="escalated course continues"),
        Edge("give_refractory", ("REFRACTORY_ORDER",), to=State.REFRACTORY, when="refractory_prerequisites",
             otherwise=None, note="without tocilizumab (override): recorded as a deviation"),
        Edge("resolve", ("RESOLVE_CRITERIA",), to=State.RESOLVED),
        Edge("close", to=State.CLOSED),
    ),
    timed=(
        TimedGuard("refractory window ends", "phase_start", "refractory_window_h",
                   "refractory therapy becomes due if there is no improvement"),
        TOCI_REPEAT,
        REASSESS, RESOLUTION,
    ),
    recommends=(
        Recommend("REC_REFRACTORY_ANAKINRA", "give", "refractory_due",
                  "no improvement after 24 h of escalated steroid: refractory therapy",
                  ("NCCN-2026", "ASCO-2021", "SEED-001"), regimen="anakinra", priority=15),
        Recommend("REC_REFRACTORY_SILTUXIMAB", "give", "refractory_due",
                  "no improvement after 24 h of escalated steroid: refractory therapy (alternative IL-6 antagonist)",
                  ("CARTOX-2018", "SEED-000", "SEED-001"), regimen="siltuximab", priority=16),
        Recommend("REC_STEROID_ESCALATED_CONTINUE", "give", "escalated_course_continues",
                  "escalated steroid course continues", ("NCCN-2026", "SEED-000"),
                  regimen="methylprednisolone_escalated", priority=25),
    ),
    citations=("NCCN-2026", "CARTOX-2018", "SEED-000", "SEED-001"),
)
