"""steroid: standard-dose corticosteroid; escalate after 24 h without improvement, or at once if worse."""

from states.common import ACT, OBSERVE, REASSESS, RESOLUTION, TOCI_REPEAT
from states.names import State
from states.spec import Edge, Recommend, StateSpec, TimedGuard

SPEC = StateSpec(
    state=State.STEROID,
    meaning="Standard steroid course (dexamethasone 10 mg IV q6h, 1–3 days). Escalate after 24 h without "
            "improvement, or at once on CRS grade 4 or worsening.",
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
                   "escalated steroid becomes due if there is no improvement", "ESCALATION_ORDER"),
        TOCI_REPEAT,
        REASSESS, RESOLUTION,
    ),
    recommends=(
        Recommend("REC_STEROID_ESCALATE_DEX", "give", "escalation_due",
                  "no improvement after 24 h of standard steroid (or grade 4 / worsening): escalate",
                  ("CARTOX-2018", "SEED-000"), regimen="dexamethasone_escalated", priority=15),
        Recommend("REC_STEROID_ESCALATE_MP", "give", "escalation_due",
                  "no improvement after 24 h of standard steroid (or grade 4 / worsening): escalate",
                  ("NCCN-2026", "SEED-000", "SEED-001"), regimen="methylprednisolone_escalated", priority=16),
        Recommend("REC_STEROID_CONTINUE", "give", "standard_course_continues",
                  "standard steroid course continues while the escalation window runs",
                  ("CARTOX-2018", "SEED-000"), regimen="dexamethasone_standard", priority=25),
        Recommend("REC_TOCILIZUMAB_REPEAT", "give", "toci_repeat_indicated",
                  "no improvement 8 h or more after tocilizumab: repeat dose (policy maximum per episode)",
                  ("LABEL-TOCI", "NCCN-2026", "SEED-000"), regimen="tocilizumab", priority=30),
    ),
    citations=("CARTOX-2018", "ASCO-2021", "NCCN-2026", "SEED-000"),
)
