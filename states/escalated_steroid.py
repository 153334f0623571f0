"""escalated_steroid: high-dose steroid; refractory therapy after 24 h without improvement."""

from states.common import ACT, OBSERVE, REASSESS, RESOLUTION, STEROID_COURSE, TOCI_REPEAT, TOCI_REPEAT_REC
from states.names import State
from states.spec import Edge, Recommend, StateSpec, TimedGuard

SPEC = StateSpec(
    state=State.ESCALATED_STEROID,
    meaning="Escalated steroid (dexamethasone 20 mg IV q6h, or methylprednisolone 1000 mg/day × 3 days). "
            "Refractory therapy is added after 24 h without improvement; the steroid course continues.",
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
                   "refractory therapy becomes due if there is no improvement", only_if="refractory_pending"),
        TOCI_REPEAT,
        *REASSESS, RESOLUTION,
    ),
    recommends=(
        *STEROID_COURSE,
        Recommend("REC_REFRACTORY", "give", "refractory_due",
                  "no improvement after 24 h of escalated steroid (or worsening): add refractory therapy, "
                  "anakinra or siltuximab", ("NCCN-2026", "ASCO-2021", "CARTOX-2018"), regimen="anakinra",
                  alternatives=("siltuximab",), priority=15),
        TOCI_REPEAT_REC,
    ),
    citations=("NCCN-2026", "CARTOX-2018", "ASCO-2021"),
)
