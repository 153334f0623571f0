"""refractory: a refractory-line drug given after tocilizumab and steroids."""

from states.common import ACT, OBSERVE, REASSESS, RESOLUTION
from states.names import State
from states.spec import Edge, Recommend, StateSpec

SPEC = StateSpec(
    state=State.REFRACTORY,
    meaning="Refractory CRS: anakinra, siltuximab, ruxolitinib or cyclophosphamide alongside steroids; "
            "consider extracorporeal cytokine adsorption with CRRT.",
    edges=(
        OBSERVE,
        ACT,
        Edge("give_tocilizumab", ("TOCI_INDICATION",)),
        Edge("give_standard_steroid", ("STEROID_INDICATION",)),
        Edge("give_escalated_steroid", ("STEROID_INDICATION",)),
        Edge("give_refractory", ("REFRACTORY_ORDER",)),
        Edge("resolve", ("RESOLVE_CRITERIA",), to=State.RESOLVED),
        Edge("close", to=State.CLOSED),
    ),
    timed=(REASSESS, RESOLUTION),
    recommends=(
        Recommend("REC_ANAKINRA_CONTINUE", "give", "anakinra_course_continues",
                  "anakinra course continues while CRS persists", ("NCCN-2026", "ANAK-PED"),
                  regimen="anakinra", priority=20),
        Recommend("REC_REFRACTORY_SILTUXIMAB", "give", "refractory_still_due",
                  "no improvement on the refractory line: alternative IL-6 antagonist",
                  ("CARTOX-2018", "SEED-001"), regimen="siltuximab", priority=25),
    ),
    citations=("NCCN-2026", "ASCO-2021", "CARTOX-2018", "SEED-001"),
)
