"""assessment: the episode is open and graded; no anti-cytokine therapy yet."""

from states.common import ACT, OBSERVE, REASSESS, RESOLUTION
from states.names import State
from states.spec import Edge, Recommend, StateSpec

SPEC = StateSpec(
    state=State.ASSESSMENT,
    meaning="Grade each bedside observation; start tocilizumab at CRS grade 2, steroids at grade 3 or for ICANS.",
    edges=(
        OBSERVE,
        ACT,
        Edge("give_tocilizumab", ("TOCI_INDICATION",), to=State.TOCILIZUMAB),
        Edge("give_standard_steroid", ("STEROID_INDICATION",), to=State.STEROID),
        Edge("give_escalated_steroid", ("STEROID_INDICATION", "ESCALATION_ORDER"), to=State.ESCALATED_STEROID,
             when="crs_grade_4", otherwise=State.STEROID,
             note="escalated at once only at CRS grade 4; under override it opens the standard steroid phase"),
        Edge("give_refractory", ("REFRACTORY_ORDER",), to=State.REFRACTORY, when="refractory_prerequisites",
             otherwise=None, note="out of order (override): recorded as a deviation, no step skipped"),
        Edge("resolve", ("RESOLVE_CRITERIA",), to=State.RESOLVED),
        Edge("close", to=State.CLOSED),
    ),
    timed=(REASSESS, RESOLUTION),
    recommends=(
        Recommend("REC_TOCILIZUMAB", "give", "toci_indicated",
                  "CRS grade 2 or more (or persistent grade-1 fever): tocilizumab",
                  ("ASTCT-2019", "NCCN-2026", "ASCO-2021", "SEED-001"), regimen="tocilizumab", priority=30),
        Recommend("REC_STEROID_STANDARD", "give", "steroid_indicated",
                  "CRS grade 3 or more, or ICANS grade 2 or more: standard-dose dexamethasone",
                  ("CARTOX-2018", "ASCO-2021", "SEED-000"), regimen="dexamethasone_standard", priority=20),
        Recommend("REC_STEROID_GRADE4", "give", "crs_grade_4",
                  "CRS grade 4: high-dose methylprednisolone at once", ("NCCN-2026", "SEED-001"),
                  regimen="methylprednisolone_escalated", priority=15),
    ),
    citations=("ASTCT-2019", "NCCN-2026", "ASCO-2021"),
)
