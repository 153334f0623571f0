"""ASTCT 2019 CRS and ICANS grades from one observation (CLINICAL.md §1–2). Total, pure functions.

Each grade comes with its basis: which input decided it, so a clinician can check the call.
"""

from dataclasses import dataclass
from typing import Any

from pathway.observations import CerebralEdema, Consciousness, O2Device, Observation, Seizure
from pathway.policy import Policy

CITATION = "ASTCT-2019"

#: Oxygen devices and the CRS grade their hypoxia sets (a nasal cannula depends on its flow).
DEVICE_GRADE: dict[O2Device, int] = {
    O2Device.ROOM_AIR: 0,
    O2Device.NASAL_CANNULA: 2,  # low flow; > policy.high_flow_above_lpm makes it 3
    O2Device.BLOW_BY: 2,
    O2Device.HFNC: 3,
    O2Device.FACEMASK: 3,
    O2Device.NON_REBREATHER: 3,
    O2Device.VENTURI: 3,
    O2Device.CPAP: 4,
    O2Device.BIPAP: 4,
    O2Device.VENTILATOR: 4,
}

CONSCIOUSNESS_GRADE: dict[Consciousness, int] = {
    # "awakens spontaneously" is the grade-1 column, but alone it grades nothing: ICE 10 and awake
    # with nothing else is grade 0 (CLINICAL.md §2), so it never raises the grade by itself.
    Consciousness.AWAKE: 0,
    Consciousness.VOICE: 2,
    Consciousness.TOUCH: 3,
    Consciousness.UNAROUSABLE: 4,
}
SEIZURE_GRADE: dict[Seizure, int] = {Seizure.NONE: 0, Seizure.BRIEF: 3, Seizure.PROLONGED: 4}
EDEMA_GRADE: dict[CerebralEdema, int] = {CerebralEdema.NONE: 0, CerebralEdema.FOCAL: 3, CerebralEdema.DIFFUSE: 4}


@dataclass(frozen=True)
class Grade:
    """A grade with its basis. `grade` None: not assessed (never 0), and `missing` says what to record.

    `missing` lists the inputs a full assessment still needs (CRS: temperature and oxygen support;
    ICANS: the age-appropriate screen and consciousness). A grade can stand with items missing
    (ICANS by consciousness alone), but only a grade with nothing missing counts toward resolution.
    """

    grade: int | None
    decided_by: tuple[str, ...]  # the inputs that set the grade (all that reach it)
    notes: tuple[str, ...] = ()
    fever: bool | None = None  # CRS only: fever present, absent, or not recorded
    citations: tuple[str, ...] = (CITATION,)
    missing: tuple[str, ...] = ()

    @property
    def assessed(self) -> bool:
        return self.grade is not None

    @property
    def fully_assessed(self) -> bool:
        return fully_assessed(self.grade, self.missing)

    def basis(self) -> dict[str, Any]:
        return {"grade": self.grade, "decided_by": list(self.decided_by), "notes": list(self.notes),
                "fever": self.fever, "missing": list(self.missing), "citations": list(self.citations)}


def fully_assessed(grade: int | None, missing: tuple[str, ...] | list[str]) -> bool:
    """A grade was given and nothing it needs is missing (a module function so mutation testing reaches it)."""
    return grade is not None and not missing


def has_fever(temp_c: float | None, policy: Policy) -> bool | None:
    if temp_c is None:
        return None
    if policy.fever_comparator == ">=":
        return temp_c >= policy.fever_threshold_c
    return temp_c > policy.fever_threshold_c


def hypotension_grade(obs: Observation) -> tuple[int, str | None]:
    if obs.vasopressors >= 2:
        return 4, f"vasopressors={obs.vasopressors}"
    if obs.vasopressors == 1 or obs.vasopressin:
        parts = [f"vasopressors={obs.vasopressors}"] if obs.vasopressors else []
        if obs.vasopressin:
            parts.append("vasopressin")
        return 3, "+".join(parts)
    if obs.hypotension:
        return 2, "hypotension"
    return 0, None


def hypoxia_grade(obs: Observation, policy: Policy) -> tuple[int, str | None, str | None]:
    """Grade, the deciding input, and a note (e.g. flow not recorded)."""
    device = obs.o2_device
    if device is None or device is O2Device.ROOM_AIR:
        return 0, None, None
    grade = DEVICE_GRADE[device]
    note = None
    label = f"o2={device.value}"
    if device is O2Device.NASAL_CANNULA:
        if obs.o2_flow_lpm is None:
            note = "nasal cannula flow not recorded: read as low flow"
        elif obs.o2_flow_lpm > policy.high_flow_above_lpm:
            grade = 3
            label = f"o2=nasal-cannula at {obs.o2_flow_lpm:g} L/min (> {policy.high_flow_above_lpm:g}: high flow)"
        else:
            label = f"o2=nasal-cannula at {obs.o2_flow_lpm:g} L/min"
    return grade, label, note


def crs_missing(obs: Observation) -> tuple[str, ...]:
    """What a CRS grade still needs: a recorded temperature and a recorded oxygen support (§1)."""
    return tuple(name for name, value in (("temp_c", obs.temp_c), ("o2_device", obs.o2_device)) if value is None)


def crs_grade(obs: Observation, policy: Policy, *, fever_masked: bool = False) -> Grade:
    """ASTCT CRS grade. `fever_masked`: tocilizumab or a steroid was given in the episode.

    Not assessed (grade None) unless the observation records both temperature and oxygen support:
    silence is never normal (CLINICAL.md §1). Hypotension and vasopressors are flags, read as absent
    only inside an observation that records both.
    """
    fever = has_fever(obs.temp_c, policy)
    hypo_g, hypo_by = hypotension_grade(obs)
    oxy_g, oxy_by, oxy_note = hypoxia_grade(obs, policy)
    notes = [oxy_note] if oxy_note else []
    organ = max(hypo_g, oxy_g)
    deciders = tuple(by for g, by in ((hypo_g, hypo_by), (oxy_g, oxy_by)) if by and g == organ and g > 0)

    missing = crs_missing(obs)
    if missing:
        if obs.temp_c is None and organ:
            notes.insert(0, "hypotension or oxygen above room air without a temperature: measure the temperature "
                            "now (never reassuring)")
        named = " and ".join({"temp_c": "temperature", "o2_device": "oxygen support (room-air counts)"}[m]
                             for m in missing)
        notes.append(f"CRS not assessed: {named} not recorded")
        return Grade(None, ("not assessed",), tuple(notes), fever, missing=missing)
    if not fever and not fever_masked:
        if organ:
            notes.append("no fever and no prior tocilizumab or steroid: hypotension/hypoxia not graded as CRS")
        return Grade(0, ("no fever",), tuple(notes), fever)
    if organ == 0:
        if fever:
            return Grade(1, (f"temp_c={obs.temp_c:g}",), tuple(notes), fever)
        return Grade(0, ("no fever, no hypotension, no hypoxia",), tuple(notes), fever)
    if not fever:
        notes.append("fever not required after tocilizumab or a steroid")
    return Grade(organ, deciders, tuple(notes), fever)


def uses_capd(age_years: float, policy: Policy) -> bool:
    """Children below the policy's CAPD age are screened with the CAPD, not the ICE score (§2b)."""
    return age_years < policy.capd_below_age_years


def _ice_domain(obs: Observation) -> tuple[int, str] | None:
    ice = obs.ice_score
    if ice is None:
        return None
    if ice == 10:
        g = 0
    elif ice >= 7:
        g = 1
    elif ice >= 3:
        g = 2
    elif ice == 0 and obs.consciousness is Consciousness.UNAROUSABLE:
        g = 4
    else:
        g = 3  # 0–2 awake (ICE 0 in an awake patient, e.g. global aphasia, is grade 3)
    return g, f"ice={ice}"


def _capd_domain(obs: Observation) -> tuple[int, str] | None:
    """Paediatric ICANS by CAPD (§2b): 1–8 grade 1 awake / 2 to voice; >= 9 grade 3; unable grade 4."""
    if obs.capd_unable:
        return 4, "capd=unable"
    score = obs.capd_score
    if score is None:
        return None
    if score == 0:
        g = 0
    elif score >= 9:
        g = 3
    elif obs.consciousness is Consciousness.VOICE:
        g = 2
    else:
        g = 1
    return g, f"capd={score}"


def icans_grade(obs: Observation, *, age_years: float, policy: Policy) -> Grade:
    """ASTCT ICANS grade: the worst of its domains, with the screen the patient's age calls for.

    Not assessed (grade None) unless the observation records the screen (ICE, or CAPD for a child)
    or the level of consciousness (CLINICAL.md §2). The caller refuses the wrong screen for the age.
    """
    child = uses_capd(age_years, policy)
    screen_name = "capd_score" if child else "ice_score"
    screen = _capd_domain(obs) if child else _ice_domain(obs)
    domains: list[tuple[int, str]] = [screen] if screen is not None else []
    if obs.consciousness is not None:
        domains.append((CONSCIOUSNESS_GRADE[obs.consciousness], f"consciousness={obs.consciousness.value}"))
    if obs.seizure is not None:
        domains.append((SEIZURE_GRADE[obs.seizure], f"seizure={obs.seizure.value}"))
    if obs.motor_weakness:
        domains.append((4, "motor_weakness"))
    if obs.cerebral_edema is not None:
        domains.append((EDEMA_GRADE[obs.cerebral_edema], f"cerebral_edema={obs.cerebral_edema.value}"))
    citations = (CITATION, "ASCO-2021") if child else (CITATION,)
    missing = tuple(name for name, absent in ((screen_name, screen is None),
                                              ("consciousness", obs.consciousness is None)) if absent)
    notes: list[str] = []
    if screen is None and obs.consciousness is None:
        found = [by for g, by in domains if g > 0]
        if found:
            notes.append(f"{', '.join(found)} recorded without {'a CAPD' if child else 'an ICE score'} or "
                         "consciousness: ICANS is at least that grade; assess now")
        notes.append(f"ICANS not assessed: neither {'CAPD' if child else 'ICE score'} nor consciousness recorded")
        return Grade(None, ("not assessed",), tuple(notes), citations=citations, missing=missing)
    grade = max(g for g, _ in domains)
    deciders = tuple(by for g, by in domains if g == grade and grade > 0) or ("no neurological finding",)
    if missing:
        named = {"capd_score": "CAPD", "ice_score": "ICE score", "consciousness": "consciousness"}
        notes.append(f"ICANS partly assessed: {' and '.join(named[m] for m in missing)} not recorded "
                     "(needed for resolution)")
    return Grade(grade, deciders, tuple(notes), citations=citations, missing=missing)
