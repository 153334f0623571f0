"""assessment: the episode is open and graded; no anti-cytokine therapy yet."""

from states.common import ACT, OBSERVE, REASSESS, RESOLUTION, STEROID_START
from states.names import State
from states.spec import Edge, Recommend, StateSpec

SPEC = StateSpec(
    state=State.ASSESSMENT,
    meaning="Grade each bedside observation; start tocilizumab at CRS grade 2, steroids at CRS grade 3 or "
            "ICANS grade 2 (by ICANS grade when no CRS calls for more).",
    edges=(
        OBSERVE,
        ACT,
        Edge("give_tocilizumab", ("TOCI_INDICATION",), to=State.TOCILIZUMAB),
        Edge("give_standard_steroid", ("STEROID_INDICATION",), to=State.STEROID),
        Edge("give_escalated_steroid", ("STEROID_INDICATION", "ESCALATION_ORDER"), to=State.ESCALATED_STEROID,
             when="grade_4", otherwise=State.STEROID,
             note="escalated at once only at CRS or ICANS grade 4; under override it opens the standard steroid "
                  "phase"),
        Edge("give_refractory", ("REFRACTORY_ORDER",), to=State.REFRACTORY, when="refractory_prerequisites",
             otherwise=None, note="out of order (override): recorded as a deviation, no step skipped"),
        Edge("resolve", ("RESOLVE_CRITERIA",), to=State.RESOLVED),
        Edge("close", to=State.CLOSED),
    ),
    timed=(*REASSESS, RESOLUTION),
    recommends=(
        Recommend("REC_TOCILIZUMAB", "give", "toci_indicated",
                  "CRS grade 2 or more, or persistent grade-1 fever (never for ICANS alone)",
                  ("ASTCT-2019", "NCCN-2026", "ASCO-2021"), regimen="tocilizumab", priority=30),
        *STEROID_START,
    ),
    citations=("ASTCT-2019", "NCCN-2026", "ASCO-2021"),
)
