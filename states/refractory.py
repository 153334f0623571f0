"""refractory: a refractory-line drug given after tocilizumab and steroids."""

from states.common import ACT, OBSERVE, REASSESS, RESOLUTION, STEROID_COURSE, TOCI_REPEAT, TOCI_REPEAT_REC
from states.names import State
from states.spec import Edge, Recommend, StateSpec

SPEC = StateSpec(
    state=State.REFRACTORY,
    meaning="Refractory CRS: anakinra, siltuximab, ruxolitinib or cyclophosphamide alongside steroids; "
            "consider extracorporeal cytokine adsorption with CRRT. The steroid course continues.",
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
    timed=(TOCI_REPEAT, *REASSESS, RESOLUTION),
    recommends=(
        *STEROID_COURSE,
        Recommend("REC_REFRACTORY_ALTERNATIVE", "give", "refractory_still_due",
                  "no improvement on the refractory line: continue anakinra or add the IL-6 antagonist siltuximab",
                  ("NCCN-2026", "CARTOX-2018"), regimen="anakinra", alternatives=("siltuximab",), priority=20),
        Recommend("REC_ANAKINRA_CONTINUE", "give", "anakinra_course_continues",
                  "anakinra course continues while CRS persists", ("NCCN-2026", "ANAK-PED"),
                  regimen="anakinra", priority=21),
        TOCI_REPEAT_REC,
    ),
    citations=("NCCN-2026", "ASCO-2021", "CARTOX-2018"),
)
