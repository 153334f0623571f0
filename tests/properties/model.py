"""A tiny reference model run beside the real machine: time, closed, and every dose's hard limits.

It knows nothing of the pathway's states or indications; it predicts only which HARD rules must
refuse a command (and the policy's own tocilizumab maximum), from first principles in CLINICAL.md.
The stateful suite compares its prediction with what decide() did, in both directions.
"""

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pathway.commands import AdministerDose, StepCommand
from pathway.policy import Policy
from tests.properties import safety

#: Rules this model predicts exactly (hard ones, plus the overridable policy maximum of tocilizumab).
COVERED = frozenset({"TIME_ORDER", "TIME_FUTURE", "EPISODE_CLOSED", "DRUG_ROUTE", "TOCI_DOSE_MAX",
                     "TOCI_MIN_INTERVAL", "TOCI_MAX_DOSES", "STEROID_DOSE_MAX", "DOSE_MAX"})
DEFAULT_ROUTE = {"ruxolitinib": "po"}


def rounded_down(limit_mg: float) -> float:
    """A ceiling on a 0.1 mg grid may only round down (never above the true limit)."""
    return math.floor(limit_mg * 10 + 1e-9) / 10


@dataclass
class ReferenceModel:
    weight_kg: float
    policy: Policy
    last_at: datetime
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
        return out

    def accept(self, cmd: StepCommand) -> None:
        self.last_at = cmd.at
        if cmd.kind == "close":
            self.closed = True
        if isinstance(cmd, AdministerDose):
            self.gives[cmd.drug.value].append((cmd.at, cmd.dose_mg))

    @property
    def toci_count(self) -> int:
        return len(self.gives["tocilizumab"])
