"""resolved: CRS and ICANS grade 0 for the resolution window; taper steroids, then close."""

from states.common import ACT, OBSERVE, REASSESS
from states.names import State
from states.spec import Edge, Recommend, StateSpec

SPEC = StateSpec(
    state=State.RESOLVED,
    meaning="Resolved: taper steroids if any were given (watch for an ICANS flare), keep observing, then close. "
            "A recurrence is a new episode.",
    edges=(
        OBSERVE,
        ACT,
        Edge("give_standard_steroid", ("STEROID_INDICATION",), note="taper"),
        Edge("give_escalated_steroid", ("STEROID_INDICATION",), note="taper (methylprednisolone 250 mg q12h)"),
        Edge("close", to=State.CLOSED),
    ),
    timed=(*REASSESS,),
    recommends=(
        Recommend("REC_TAPER_METHYLPREDNISOLONE", "give", "methylprednisolone_taper_due",
                  "resolved after methylprednisolone: taper", ("ASCO-2021", "NCCN-2026"),
                  regimen="methylprednisolone_taper", priority=20),
        Recommend("REC_TAPER_DEXAMETHASONE", "give", "dexamethasone_taper_due",
                  "resolved after dexamethasone: taper", ("ASCO-2021", "CARTOX-2018"),
                  regimen="dexamethasone_taper", priority=20),
    ),
    citations=("ASCO-2021", "NCCN-2026"),
)
