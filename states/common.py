"""What holds in every state: the step rules, each drug's own limits, bedside steps and supportive care."""

from states.spec import Edge, Recommend, TimedGuard

#: Checked before every step, in every state.
STEP_RULES: tuple[str, ...] = ("TIME_FUTURE", "TIME_ORDER")

#: Checked before every dose of a drug, whatever the state (the drug's own hard limits).
DRUG_RULES: dict[str, tuple[str, ...]] = {
    "tocilizumab": ("DRUG_ROUTE", "TOCI_DOSE_MAX", "TOCI_MIN_INTERVAL", "TOCI_MAX_DOSES"),
    "dexamethasone": ("DRUG_ROUTE", "STEROID_DOSE_MAX"),
    "methylprednisolone": ("DRUG_ROUTE", "STEROID_DOSE_MAX"),
    "anakinra": ("DRUG_ROUTE", "DOSE_MAX"),
    "siltuximab": ("DRUG_ROUTE", "DOSE_MAX"),
    "ruxolitinib": ("DRUG_ROUTE",),
    "cyclophosphamide": ("DRUG_ROUTE",),
}

#: Bedside steps every open state takes without moving.
OBSERVE = Edge("observe", note="record and grade a bedside assessment")
ACT = Edge("act", note="record a supportive-care action")

#: A reassessment is always due: 4 h while CRS grade >= 2, else 12 h (CLINICAL.md §7).
REASSESS = TimedGuard("reassess", "latest_observation", "reassess_h_*", "reassess (new observation)")
#: A repeat tocilizumab dose: 8 h after the last (policy), while the policy maximum is not reached.
TOCI_REPEAT = TimedGuard("repeat tocilizumab allowed", "last_tocilizumab", "toci_min_interval_h",
                         "a repeat tocilizumab dose becomes allowed", "TOCI_MIN_INTERVAL",
                         only_if="toci_doses_below_policy_max")
RESOLUTION = TimedGuard("resolution criteria met", "zero_streak_start", "resolution_window_h",
                        "CRS and ICANS grade 0 for the resolution window", "RESOLVE_CRITERIA")

#: Supportive care by grade (CLINICAL.md §6): shown in next_steps until recorded.
SUPPORTIVE: tuple[Recommend, ...] = (
    Recommend("SUPPORT_ICU", "act", "crs_grade_3_plus", "CRS grade 3 or more: transfer to ICU",
              ("SEED-000", "ASCO-2021"), action="icu-transfer", priority=10),
    Recommend("SUPPORT_INFECTION_WORKUP", "act", "fever_on_record",
              "fever: infection work-up (blood cultures, urine, chest X-ray)", ("SEED-000", "ASCO-2021"),
              action="infection-workup", priority=40),
    Recommend("SUPPORT_ANTIBIOTICS", "act", "fever_on_record",
              "fever: broad-spectrum antibiotics if neutropenic", ("SEED-000", "ASCO-2021"),
              action="antibiotics", priority=41),
    Recommend("SUPPORT_TELEMETRY", "act", "crs_grade_2_plus",
              "CRS grade 2 or more: continuous cardiac telemetry and pulse oximetry", ("SEED-001", "ASCO-2021"),
              action="telemetry", priority=45),
    Recommend("SUPPORT_LABS", "act", "crs_grade_2_plus",
              "CRS grade 2 or more: daily labs (CBC, CMP, Mg, phosphate, CRP, LDH, ferritin, fibrinogen, PT/PTT)",
              ("SEED-000", "ASCO-2021"), action="labs", priority=46, again_after_h=24),
    Recommend("SUPPORT_ECHO", "act", "crs_grade_3_plus", "CRS grade 3 or more: echocardiogram",
              ("SEED-001", "ASCO-2021"), action="echocardiogram", priority=47),
    Recommend("SUPPORT_ANTIFUNGAL", "act", "steroid_on_record",
              "on corticosteroids: antifungal prophylaxis", ("SEED-000", "ASCO-2021"),
              action="antifungal-prophylaxis", priority=48),
)
