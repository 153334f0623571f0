"""A tiny reference model run beside the real machine: time, closed, every dose's hard limits, the
per-kg steroid ceilings, the ICANS screen for the patient's age, and the ASTCT grades.

It knows nothing of the pathway's states or indications; it predicts only which HARD rules must
refuse a command (plus the policy's own tocilizumab maximum and the overridable per-kg steroid
ceiling STEROID_DOSE_PER_KG), whether an observation types the wrong ICANS screen for the patient's
age (pathway.errors.Invalid, exit 2), and the CRS and ICANS grade of every observation (null when not
assessed), from first principles in CLINICAL.md §1–§4. The stateful suite compares its prediction
with what decide() did, in both directions.
"""

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pathway.commands import AdministerDose, RecordObservation, StepCommand
from pathway.observations import Observation
from pathway.policy import Policy
from tests.properties import safety

#: Rules this model predicts exactly (hard ones, plus the overridable policy maximum of tocilizumab).
COVERED = frozenset({"TIME_ORDER", "TIME_FUTURE", "EPISODE_CLOSED", "DRUG_ROUTE", "TOCI_DOSE_MAX",
                     "TOCI_MIN_INTERVAL", "TOCI_MAX_DOSES", "STEROID_DOSE_MAX", "DOSE_MAX", "STEROID_DOSE_PER_KG"})
DEFAULT_ROUTE = {"ruxolitinib": "po"}


#: CLINICAL.md §1: the CRS grade an oxygen device's hypoxia sets (a nasal cannula above the policy's
#: high-flow threshold is high flow, grade 3; a cannula without a recorded flow reads as low flow).
DEVICE_GRADE = {"room-air": 0, "nasal-cannula": 2, "blow-by": 2, "hfnc": 3, "facemask": 3, "non-rebreather": 3,
                "venturi": 3, "cpap": 4, "bipap": 4, "ventilator": 4}
#: CLINICAL.md §2: the ICANS grade of each domain's finding.
CONSCIOUSNESS_GRADE = {"awake": 0, "voice": 2, "touch": 3, "unarousable": 4}
SEIZURE_GRADE = {"none": 0, "brief": 3, "prolonged": 4}
EDEMA_GRADE = {"none": 0, "focal": 3, "diffuse": 4}


def crs_grade(obs: Observation, policy: Policy, fever_masked: bool) -> int | None:
    """ASTCT CRS (§1): null unless temperature and oxygen support are recorded; the worse of hypotension
    and hypoxia; fever required unless tocilizumab or a steroid was given; fever alone is grade 1."""
    if obs.temp_c is None or obs.o2_device is None:
        return None
    fever = obs.temp_c >= policy.fever_threshold_c if policy.fever_comparator == ">=" \
        else obs.temp_c > policy.fever_threshold_c
    hypotension = 4 if obs.vasopressors >= 2 else 3 if (obs.vasopressors == 1 or obs.vasopressin) \
        else 2 if obs.hypotension else 0
    device = obs.o2_device.value
    hypoxia = DEVICE_GRADE[device]
    if device == "nasal-cannula" and obs.o2_flow_lpm is not None and obs.o2_flow_lpm > policy.high_flow_above_lpm:
        hypoxia = 3
    organ = max(hypotension, hypoxia)
    if not fever and not fever_masked:
        return 0
    if organ == 0:
        return 1 if fever else 0
    return organ


def icans_grade(obs: Observation, child: bool) -> int | None:
    """ASTCT ICANS (§2, §2b): null unless the age's screen (ICE; CAPD for a child) or consciousness is
    recorded; the worst domain."""
    domains: list[int] = []
    if child and obs.capd_unable:
        domains.append(4)
    elif child and obs.capd_score is not None:
        score = obs.capd_score
        domains.append(0 if score == 0 else 3 if score >= 9 else 2 if obs.consciousness == "voice" else 1)
    elif not child and obs.ice_score is not None:
        ice = obs.ice_score
        domains.append(0 if ice == 10 else 1 if ice >= 7 else 2 if ice >= 3
                       else 4 if ice == 0 and obs.consciousness == "unarousable" else 3)
    if not domains and obs.consciousness is None:
        return None
    if obs.consciousness is not None:
        domains.append(CONSCIOUSNESS_GRADE[obs.consciousness.value])
    if obs.seizure is not None:
        domains.append(SEIZURE_GRADE[obs.seizure.value])
    if obs.motor_weakness:
        domains.append(4)
    if obs.cerebral_edema is not None:
        domains.append(EDEMA_GRADE[obs.cerebral_edema.value])
    return max(domains)


def rounded_down(limit_mg: float) -> float:
    """A ceiling on a 0.1 mg grid may only round down (never above the true limit)."""
    return math.floor(limit_mg * 10 + 1e-9) / 10


@dataclass
class ReferenceModel:
    weight_kg: float
    policy: Policy
    last_at: datetime
    age_years: float = 40.0
    closed: bool = False
    gives: dict[str, list[tuple[datetime, float]]] = field(default_factory=lambda: {d: [] for d in safety.ROUTES})

    def expected(self, cmd: StepCommand, now: datetime) -> set[tuple[str, bool]]:
        """(rule, overridable) pairs the machine must report for this command, among COVERED rules."""
        out: set[tuple[str, bool]] = set()
        if cmd.at < self.last_at:
            out.add(("TIME_ORDER", False))
        if cmd.at > now + timedelta(minutes=5):
            out.add(("TIME_FUTURE", False))
        if self.closed:
            out.add(("EPISODE_CLOSED", False))
        if isinstance(cmd, AdministerDose):
            out |= self._dose(cmd)
        return out

    def wrong_screen(self, cmd: StepCommand) -> bool:
        """CLINICAL.md §2b: the CAPD below the policy's CAPD age, the ICE score from it on; the other one
        typed is invalid input (exit 2), whatever the episode's state."""
        if not isinstance(cmd, RecordObservation):
            return False
        obs = cmd.observation
        if self.age_years < self.policy.capd_below_age_years:
            return obs.ice_score is not None
        return obs.capd_score is not None or obs.capd_unable

    def grades(self, cmd: StepCommand) -> tuple[int | None, int | None] | None:
        """The (CRS, ICANS) grades an observation must be given (None: not an observation)."""
        if not isinstance(cmd, RecordObservation):
            return None
        masked = bool(self.gives["tocilizumab"] or self.gives["dexamethasone"] or self.gives["methylprednisolone"])
        child = self.age_years < self.policy.capd_below_age_years
        return crs_grade(cmd.observation, self.policy, masked), icans_grade(cmd.observation, child)

    def _window(self, drug: str, at: datetime) -> list[float]:
        return [dose for t, dose in self.gives[drug] if at - t < safety.DAY]

    def _dose(self, cmd: AdministerDose) -> set[tuple[str, bool]]:
        out: set[tuple[str, bool]] = set()
        drug, dose, at = cmd.drug.value, cmd.dose_mg, cmd.at
        route = cmd.route.value if cmd.route else DEFAULT_ROUTE.get(drug, "iv")
        if route not in safety.ROUTES[drug]:
            out.add(("DRUG_ROUTE", False))
        if drug == "tocilizumab":
            if dose > rounded_down(safety.toci_limit_mg(self.weight_kg)):
                out.add(("TOCI_DOSE_MAX", False))
            doses = self.gives[drug]
            if doses and at < doses[-1][0] + timedelta(hours=self.policy.toci_min_interval_h):
                out.add(("TOCI_MIN_INTERVAL", False))
            in_day = len(self._window(drug, at))
            if in_day >= safety.TOCI_MAX_24H or len(doses) >= safety.TOCI_MAX_EPISODE:
                out.add(("TOCI_MAX_DOSES", False))
            elif in_day >= self.policy.toci_max_doses_24h or len(doses) >= self.policy.toci_max_doses_episode:
                out.add(("TOCI_MAX_DOSES", True))
        elif drug == "dexamethasone" and dose > safety.DEX_MAX_MG:
            out.add(("STEROID_DOSE_MAX", False))
        elif drug == "methylprednisolone" and (dose > safety.MP_MAX_MG
                                               or sum(self._window(drug, at)) + dose > safety.MP_MAX_24H_MG):
            out.add(("STEROID_DOSE_MAX", False))
        elif drug == "anakinra" and (dose > safety.ANAKINRA_MAX_MG
                                     or sum(self._window(drug, at)) + dose > safety.ANAKINRA_MAX_24H_MG):
            out.add(("DOSE_MAX", False))
        elif drug == "siltuximab" and sum(self._window(drug, at)) + dose > rounded_down(
                safety.siltuximab_limit_mg(self.weight_kg)):
            out.add(("DOSE_MAX", False))
        # §4 per-kg ceilings (policy, overridable): dexamethasone a dose; methylprednisolone over 24 h,
        # this dose included; each ceiling × weight rounded down to 0.1 mg
        p, w = self.policy, self.weight_kg
        if drug == "dexamethasone" and dose > rounded_down(p.dexamethasone_max_mg_per_kg_dose * w):
            out.add(("STEROID_DOSE_PER_KG", True))
        if drug == "methylprednisolone" and (sum(self._window(drug, at)) + dose
                                             > rounded_down(p.methylprednisolone_max_mg_per_kg_day * w)):
            out.add(("STEROID_DOSE_PER_KG", True))
        return out

    def rebuild(self, effective: list[Any], last_at: datetime) -> None:
        """After a correction, void or late entry: the doses and the latest time of the effective history."""
        self.gives = {d: [] for d in safety.ROUTES}
        for ev in effective:
            if ev.kind == "give":
                self.gives[ev.data["drug"]].append((ev.at, float(ev.data["dose_mg"])))
        self.last_at = last_at

    def accept(self, cmd: StepCommand) -> None:
        self.last_at = cmd.at
        if cmd.kind == "close":
            self.closed = True
        if isinstance(cmd, AdministerDose):
            self.gives[cmd.drug.value].append((cmd.at, cmd.dose_mg))

    @property
    def toci_count(self) -> int:
        return len(self.gives["tocilizumab"])
