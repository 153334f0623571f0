"""What holds in every state: the step rules, each drug's own limits, bedside steps and supportive care."""

from states.spec import Edge, Recommend, TimedGuard

#: Checked before every step, in every state.
STEP_RULES: tuple[str, ...] = ("TIME_FUTURE", "TIME_ORDER")

#: Checked before every dose of a drug, whatever the state (the drug's own hard limits, then the
#: per-kg steroid ceiling that binds for children).
DRUG_RULES: dict[str, tuple[str, ...]] = {
    "tocilizumab": ("DRUG_ROUTE", "TOCI_DOSE_MAX", "TOCI_MIN_INTERVAL", "TOCI_MAX_DOSES"),
    "dexamethasone": ("DRUG_ROUTE", "STEROID_DOSE_MAX", "STEROID_DOSE_PER_KG"),
    "methylprednisolone": ("DRUG_ROUTE", "STEROID_DOSE_MAX", "STEROID_DOSE_PER_KG"),
    "anakinra": ("DRUG_ROUTE", "DOSE_MAX"),
    "siltuximab": ("DRUG_ROUTE", "DOSE_MAX"),
    "ruxolitinib": ("DRUG_ROUTE",),
    "cyclophosphamide": ("DRUG_ROUTE",),
}

#: Bedside steps every open state takes without moving.
OBSERVE = Edge("observe", note="record and grade a bedside assessment")
ACT = Edge("act", note="record a supportive-care action")

#: The next assessment is due from the latest *assessed* observation of each domain (CRS, ICANS),
#: at once for a domain never assessed (a new episode: at its opening); every 4 h while CRS grade
#: >= 2, 8 h while ICANS grade >= 1, else 12 h (CLINICAL.md §7). Recorded times only: never slides.
REASSESS: tuple[TimedGuard, ...] = (
    TimedGuard("reassess CRS", "latest_crs_assessment", "reassess_h_*",
               "reassess CRS (temperature and oxygen support)", deadline=True),
    TimedGuard("reassess ICANS", "latest_icans_assessment", "reassess_h_*",
               "neuro assessment (ICE or CAPD, and consciousness)", deadline=True),
)
#: A repeat tocilizumab dose: 8 h after the last (policy), while the policy maximum is not reached.
TOCI_REPEAT = TimedGuard("repeat tocilizumab allowed", "last_tocilizumab", "toci_min_interval_h",
                         "a repeat tocilizumab dose becomes allowed", "TOCI_MIN_INTERVAL",
                         only_if="toci_doses_below_policy_max")
RESOLUTION = TimedGuard("resolution criteria met", "zero_streak_start", "resolution_window_h",
                        "CRS and ICANS fully assessed grade 0 for the resolution window", "RESOLVE_CRITERIA")

#: Supportive care by grade (CLINICAL.md §6, §8, §9): shown in next_steps until recorded. An action
#: recommended for several reasons appears once, with the most urgent reason.
SUPPORTIVE: tuple[Recommend, ...] = (
    Recommend("SUPPORT_ICU", "act", "crs_grade_3_plus", "CRS grade 3 or more: transfer to ICU",
              ("ASCO-2021",), action="icu-transfer", priority=10),
    Recommend("SUPPORT_ICU_ICANS", "act", "icans_grade_3_plus",
              "ICANS grade 3 or more: transfer to ICU (airway protection at grade 4)", ("ASCO-2021", "CARTOX-2018"),
              action="icu-transfer", priority=10),
    Recommend("SUPPORT_ICU_FLUIDS", "act", "fluids_failed",
              "hypotension persisting after fluid boluses: transfer to ICU", ("CARTOX-2018", "NCI-2016"),
              action="icu-transfer", priority=10),
    Recommend("SUPPORT_VASOPRESSOR", "support", "fluids_failed_no_vasopressor",
              "hypotension persisting after fluid boluses: start a vasopressor (norepinephrine first line); "
              "record it with `observe --vasopressors N`", ("CARTOX-2018", "NCI-2016"),
              action="vasopressor", priority=11),
    Recommend("SUPPORT_FLUID_BOLUS", "act", "fluid_bolus_due",
              "hypotension: IV fluid bolus (adults 500–1000 mL normal saline; children per local protocol), "
              "then reassess; a second if it persists", ("CARTOX-2018", "NCI-2016"),
              action="fluid-bolus", priority=12, repeat=True),
    Recommend("SUPPORT_ANTISEIZURE", "act", "seizure_on_record",
              "seizure: antiseizure treatment (levetiracetam; a benzodiazepine for status epilepticus)",
              ("CARTOX-2018", "ASCO-2021"), action="antiseizure", priority=13),
    Recommend("SUPPORT_ASPIRATION", "act", "icans_grade_1_plus",
              "ICANS: aspiration precautions (nil by mouth until swallowing is assessed), head of bed raised",
              ("ASCO-2021", "CARTOX-2018"), action="aspiration-precautions", priority=35),
    Recommend("SUPPORT_NEUROLOGY", "act", "icans_grade_1_plus", "signs of neurotoxicity: neurology consultation",
              ("ASCO-2021",), action="neurology-consult", priority=36),
    Recommend("SUPPORT_NEUROIMAGING", "act", "icans_grade_2_plus",
              "ICANS grade 2 or more: neuroimaging (MRI; CT if MRI is not feasible)", ("ASCO-2021", "CARTOX-2018"),
              action="neuroimaging", priority=37),
    Recommend("SUPPORT_EEG", "act", "icans_grade_2_plus", "ICANS grade 2 or more: EEG for non-convulsive seizures",
              ("ASCO-2021", "CARTOX-2018"), action="eeg", priority=38),
    Recommend("SUPPORT_INFECTION_WORKUP", "act", "fever_on_record",
              "fever: infection work-up (blood cultures, urine, chest X-ray)", ("ASCO-2021",),
              action="infection-workup", priority=40),
    Recommend("SUPPORT_ANTIBIOTICS", "act", "fever_on_record",
              "fever: broad-spectrum antibiotics if neutropenic", ("ASCO-2021",),
              action="antibiotics", priority=41),
    Recommend("SUPPORT_TELEMETRY", "act", "crs_grade_2_plus",
              "CRS grade 2 or more: continuous cardiac telemetry and pulse oximetry", ("ASCO-2021",),
              action="telemetry", priority=45),
    Recommend("SUPPORT_LABS", "act", "crs_grade_2_plus",
              "CRS grade 2 or more: daily labs (CBC, CMP, Mg, phosphate, CRP, LDH, ferritin, fibrinogen, PT/PTT)",
              ("ASCO-2021",), action="labs", priority=46, again_after_h=24),
    Recommend("SUPPORT_ECHO", "act", "crs_grade_3_plus", "CRS grade 3 or more: echocardiogram",
              ("ASCO-2021",), action="echocardiogram", priority=47),
    Recommend("SUPPORT_ECHO_FLUIDS", "act", "fluids_failed",
              "hypotension persisting after fluid boluses: echocardiogram", ("CARTOX-2018", "NCI-2016"),
              action="echocardiogram", priority=47),
    Recommend("SUPPORT_ANTIFUNGAL", "act", "steroid_on_record",
              "on corticosteroids: antifungal prophylaxis", ("ASCO-2021",),
              action="antifungal-prophylaxis", priority=48),
)

#: Steroid recommendations that read the same in the first two states (before any steroid).
STEROID_START: tuple[Recommend, ...] = (
    Recommend("REC_STEROID_GRADE4", "give", "grade_4",
              "CRS or ICANS grade 4: high-dose methylprednisolone at once", ("NCCN-2026", "ASCO-2021"),
              regimen="methylprednisolone_escalated", priority=15),
    Recommend("REC_STEROID_ICANS3", "give", "icans_grade_3_steroid",
              "ICANS grade 3: dexamethasone every 6 h, or methylprednisolone 1 mg/kg every 12 h",
              ("ASCO-2021", "CARTOX-2018"), regimen="dexamethasone_standard",
              alternatives=("methylprednisolone_icans3",), priority=18),
    Recommend("REC_STEROID_STANDARD", "give", "steroid_indicated",
              "CRS grade 3 or more, CRS grade 2 persisting after tocilizumab, or ICANS grade 2 or more: "
              "standard-dose dexamethasone", ("CARTOX-2018", "ASCO-2021"), regimen="dexamethasone_standard",
              priority=20),
)

#: A repeat tocilizumab dose stays on offer in every treatment state while its rules allow one.
TOCI_REPEAT_REC = Recommend("REC_TOCILIZUMAB_REPEAT", "give", "toci_repeat_indicated",
                            "no improvement 8 h or more after tocilizumab: repeat dose (policy maximum per episode)",
                            ("LABEL-TOCI", "NCCN-2026"), regimen="tocilizumab", priority=30)

#: A steroid course, once under way: days 2–3 of an escalated course continue with the drug it started
#: with while the worse grade is 2 or more; the course steps down (taper) once its days are done or the
#: worse grade is 1 or less (ASCO-2021). Refractory drugs are added to it, never substituted (§5).
STEROID_TAPER: tuple[Recommend, ...] = (
    Recommend("REC_STEROID_TAPER_METHYLPREDNISOLONE", "give", "methylprednisolone_step_down",
              "course complete or grade 1 or less: taper methylprednisolone (watch for an ICANS flare)",
              ("ASCO-2021", "NCCN-2026"), regimen="methylprednisolone_taper", priority=14),
    Recommend("REC_STEROID_TAPER_DEXAMETHASONE", "give", "dexamethasone_step_down",
              "grade 1 or less: taper dexamethasone (watch for an ICANS flare)", ("ASCO-2021", "CARTOX-2018"),
              regimen="dexamethasone_taper", priority=14),
)
STEROID_COURSE: tuple[Recommend, ...] = (
    Recommend("REC_STEROID_ESCALATED_CONTINUE", "give", "escalated_course_continues",
              "escalated steroid course continues (refractory drugs are added to it, not substituted)",
              ("NCCN-2026", "ASCO-2021"), regimen="escalated_course", priority=14),
    # a refractory drug given during a standard course (H12): that course continues too
    Recommend("REC_STEROID_STANDARD_CONTINUE", "give", "standard_course_under_way",
              "standard steroid course continues (refractory drugs are added to it, not substituted)",
              ("NCCN-2026", "ASCO-2021"), regimen="standard_course", priority=14),
    *STEROID_TAPER,
)
