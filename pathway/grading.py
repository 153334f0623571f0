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
    grade: int
    decided_by: tuple[str, ...]  # the inputs that set the grade (all that reach it)
    notes: tuple[str, ...] = ()
    fever: bool | None = None  # CRS only: fever present, absent, or not recorded
    citations: tuple[str, ...] = (CITATION,)

    def basis(self) -> dict[str, Any]:
        return {"grade": self.grade, "decided_by": list(self.decided_by), "notes": list(self.notes),
                "fever": self.fever, "citations": list(self.citations)}


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


def crs_grade(obs: Observation, policy: Policy, *, fever_masked: bool = False) -> Grade:
    """ASTCT CRS grade. `fever_masked`: tocilizumab or a steroid was given in the episode."""
    fever = has_fever(obs.temp_c, policy)
    hypo_g, hypo_by = hypotension_grade(obs)
    oxy_g, oxy_by, oxy_note = hypoxia_grade(obs, policy)
    notes = [oxy_note] if oxy_note else []
    organ = max(hypo_g, oxy_g)
    deciders = tuple(by for g, by in ((hypo_g, hypo_by), (oxy_g, oxy_by)) if by and g == organ and g > 0)

    if not fever and not fever_masked:
        if fever is None:
            notes.append("temperature not recorded: CRS cannot be called without fever")
        if organ:
            notes.append("no fever and no prior tocilizumab or steroid: hypotension/hypoxia not graded as CRS")
        return Grade(0, ("no fever",) if fever is False else ("temperature not recorded",), tuple(notes), fever)
    if organ == 0:
        if fever:
            return Grade(1, (f"temp_c={obs.temp_c:g}",), tuple(notes), fever)
        return Grade(0, ("no fever, no hypotension, no hypoxia",), tuple(notes), fever)
    if not fever:
        notes.append("fever not required after tocilizumab or a steroid")
    return Grade(organ, deciders, tuple(notes), fever)


def icans_grade(obs: Observation, *, age_years: float | None = None) -> Grade:
    """ASTCT ICANS grade: the worst of its domains."""
    domains: list[tuple[int, str]] = []
    notes: list[str] = []
    ice = obs.ice_score
    if ice is not None:
        if ice == 10:
            g = 0
        elif ice >= 7:
            g = 1
        elif ice >= 3:
            g = 2
        elif ice == 0 and obs.consciousness is Consciousness.UNAROUSABLE:
            g = 4
        else:
            g = 3
        domains.append((g, f"ice={ice}"))
    if obs.consciousness is not None:
        domains.append((CONSCIOUSNESS_GRADE[obs.consciousness], f"consciousness={obs.consciousness.value}"))
    if obs.seizure is not None:
        domains.append((SEIZURE_GRADE[obs.seizure], f"seizure={obs.seizure.value}"))
    if obs.motor_weakness:
        domains.append((4, "motor_weakness"))
    if obs.cerebral_edema is not None:
        domains.append((EDEMA_GRADE[obs.cerebral_edema], f"cerebral_edema={obs.cerebral_edema.value}"))
    if ice is None and obs.consciousness is None:
        notes.append("neither ICE score nor consciousness recorded: ICANS not fully assessed")
    if age_years is not None and age_years < 12:
        notes.append("under 12 years ICANS is assessed with CAPD in practice; this tool takes the ICE score only")
    grade = max((g for g, _ in domains), default=0)
    if not domains:
        return Grade(0, ("not assessed",), tuple(notes))
    deciders = tuple(by for g, by in domains if g == grade and grade > 0) or ("no neurological finding",)
    return Grade(grade, deciders, tuple(notes))
