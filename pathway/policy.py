"""Policy: the parameters a site may choose, within hard limits no policy can pass.

CLINICAL.md marks every figure as either a policy parameter or a hard limit. A policy is frozen
and versioned; an episode keeps the policy it was opened with, so its history replays the same.
"""

import tomllib
import unicodedata
from dataclasses import dataclass
from typing import Literal

from pydantic import ConfigDict, Field, ValidationInfo, field_validator, model_validator

from pathway.model import Frozen


@dataclass(frozen=True)
class HardLimits:
    """Never exceeded, by any policy or override (CLINICAL.md §3–5, CONTRACT.md)."""

    toci_single_dose_max_mg: float = 800.0
    toci_mg_per_kg: float = 8.0  # label dose at or above 30 kg
    toci_mg_per_kg_under_30kg: float = 12.0
    toci_child_weight_kg: float = 30.0
    toci_weight_tolerance: float = 0.10  # rounding to vials
    toci_min_interval_h: float = 8.0
    toci_max_doses_24h: int = 3
    toci_max_doses_episode: int = 4
    dexamethasone_dose_max_mg: float = 20.0
    methylprednisolone_dose_max_mg: float = 1000.0
    methylprednisolone_24h_max_mg: float = 2000.0
    anakinra_dose_max_mg: float = 100.0
    anakinra_24h_max_mg: float = 400.0
    siltuximab_mg_per_kg: float = 11.0
    siltuximab_tolerance: float = 0.10
    future_tolerance_min: float = 5.0


HARD_LIMITS = HardLimits()

#: Characters a policy file may not put in its name or version (HAZARDS H22: they are printed on every
#: status and report): controls (ESC, newline), format characters (bidi overrides), surrogates, private
#: use, unassigned, and the line and paragraph separators. The same categories cli/values.py refuses in
#: free text, plus the two separators.
UNPRINTABLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
#: model_validate context under which a policy is new input (a policy file), not a stored record.
FROM_FILE = {"policy_file": True}


class Policy(Frozen):
    """Every parameter CLINICAL.md calls policy, with the default pathway's values."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)  # inf would be stored as null

    name: str = Field(default="default", min_length=1, max_length=64)
    version: str = Field(default="1", min_length=1, max_length=32)

    # §1 grading
    fever_threshold_c: float = Field(default=38.0, ge=37.5, le=39.0,
        description="fever threshold, °C (reached as the comparator says)")
    fever_comparator: Literal[">=", ">"] = Field(default=">=", description="fever is at (>=) or above (>) the threshold")
    high_flow_above_lpm: float = Field(default=6.0, gt=0, le=15,
        description="nasal cannula above this flow counts as high flow (CRS grade 3), L/min")
    # §2b children: CAPD instead of ICE below this age (ASCO-2021: < 12 years)
    capd_below_age_years: float = Field(default=12.0, ge=0, le=25,
        description="children younger than this are screened by CAPD instead of ICE (years)")

    # §3 tocilizumab
    toci_mg_per_kg: float = Field(default=8.0, gt=0,
        description="tocilizumab dose from the child weight up, mg/kg")
    toci_mg_per_kg_under_30kg: float = Field(default=12.0, gt=0,
        description="tocilizumab dose below the child weight, mg/kg")
    toci_child_weight_kg: float = Field(default=30.0, gt=0,
        description="the weight below which the child's tocilizumab dose applies, kg")
    toci_min_interval_h: float = Field(default=8.0, gt=0,
        description="hours between tocilizumab doses, at least")
    toci_max_doses_episode: int = Field(default=2, ge=1,
        description="tocilizumab doses per episode without an override")
    toci_max_doses_24h: int = Field(default=3, ge=1,
        description="tocilizumab doses in any 24 hours")
    toci_grade1_fever_hours: float | None = Field(default=72.0, gt=0,
        description="CRS grade 1: tocilizumab once fever has lasted this long (hours; none: never)")

    # §4 corticosteroids
    steroid_min_crs_grade: int = Field(default=3, ge=1, le=4,
        description="CRS grade from which a corticosteroid is indicated at once")
    steroid_after_toci_h: float = Field(default=8.0, ge=0,
        description="CRS grade 2 persisting this long after tocilizumab indicates a steroid (hours)")
    steroid_min_icans_grade: int = Field(default=2, ge=1, le=4,
        description="ICANS grade from which a corticosteroid is indicated")
    dexamethasone_standard_mg: float = Field(default=10.0, gt=0,
        description="standard dexamethasone dose, mg")
    dexamethasone_escalated_mg: float = Field(default=20.0, gt=0,
        description="escalated dexamethasone dose, mg")
    dexamethasone_every_h: float = Field(default=6.0, gt=0,
        description="dexamethasone interval, hours")
    # "escalated" is methylprednisolone above 2 mg/kg (CLINICAL §4): a site may lower the boundary, never raise it
    standard_methylprednisolone_mg_per_kg: float = Field(default=2.0, gt=0, le=2.0,
        description="methylprednisolone up to this is standard, above it escalated (mg/kg)")
    methylprednisolone_escalated_mg: float = Field(default=1000.0, gt=0,
        description="escalated methylprednisolone (pulse) dose, mg")
    methylprednisolone_escalated_every_h: float = Field(default=24.0, gt=0,
        description="escalated methylprednisolone interval, hours")
    escalated_course_days: float = Field(default=3.0, gt=0,
        description="days of escalated methylprednisolone before the taper")  # 1000 mg/day × 3 days, then taper
    # §4 per-kg ceilings (secondary: a site must review them against PALISI-2019); rule STEROID_DOSE_PER_KG
    dexamethasone_max_mg_per_kg_dose: float = Field(default=0.5, gt=0,
        description="dexamethasone ceiling per dose for a child, mg/kg (secondary source)")
    methylprednisolone_max_mg_per_kg_day: float = Field(default=30.0, gt=0,
        description="methylprednisolone ceiling per 24 hours for a child, mg/kg (secondary)")
    # §8 ICANS grade 3: methylprednisolone 1 mg/kg every 12 h, the alternative to dexamethasone
    icans3_methylprednisolone_mg_per_kg: float = Field(default=1.0, gt=0,
        description="ICANS grade 3: the methylprednisolone alternative, mg/kg")
    icans3_methylprednisolone_every_h: float = Field(default=12.0, gt=0,
        description="ICANS grade 3: its interval, hours")
    escalation_window_h: float = Field(default=24.0, gt=0,
        description="hours of standard steroid without improvement before escalation")

    # §5 refractory
    refractory_window_h: float = Field(default=24.0, gt=0,
        description="hours of escalated steroid without improvement before a refractory drug")
    anakinra_adult_mg: float = Field(default=100.0, gt=0,
        description="anakinra adult dose, mg")
    anakinra_child_mg_per_kg: float = Field(default=2.0, gt=0,
        description="anakinra child dose, mg/kg")
    anakinra_every_h: float = Field(default=6.0, gt=0,
        description="anakinra interval, hours")
    anakinra_adult_age_years: float = Field(default=18.0, ge=0,
        description="age from which the adult anakinra dose applies, years")
    siltuximab_mg_per_kg: float = Field(default=11.0, gt=0,
        description="siltuximab dose, mg/kg")

    # §9 hypotension: a vasopressor after this many fluid boluses within the window, still hypotensive
    fluid_boluses_before_vasopressor: int = Field(default=2, ge=1, le=5,
        description="fluid boluses, still hypotensive, before a vasopressor is recommended")
    fluid_bolus_window_h: float = Field(default=6.0, gt=0,
        description="the window those boluses count in, hours")

    # §7 time
    reassess_h_grade2_plus: float = Field(default=4.0, gt=0,
        description="reassess every this many hours while CRS grade is 2 or more")  # while CRS grade >= 2
    reassess_h_icans: float = Field(default=8.0, gt=0,
        description="reassess every this many hours while ICANS grade is 1 or more")  # while ICANS grade >= 1 (NCCN: neuro at least twice daily)
    reassess_h_otherwise: float = Field(default=12.0, gt=0,
        description="reassess every this many hours otherwise")
    resolution_window_h: float = Field(default=24.0, gt=0,
        description="hours of grade 0 on every observation before the episode may resolve")

    @field_validator("name", "version")
    @classmethod
    def _one_line_of_printable_text(cls, value: str, info: ValidationInfo) -> str:
        """Refuses, in a policy file, a name or version that could rewrite a screen or a report line.

        Checked for new input only (the FROM_FILE context): a policy stored by an older version is
        still read, so its record stays readable and verifiable; the CLI escapes it when shown.
        """
        if (info.context or {}).get("policy_file"):
            for char in value:
                if unicodedata.category(char) in UNPRINTABLE_CATEGORIES:
                    raise ValueError(f"contains the unprintable character U+{ord(char):04X}; a policy's "
                                     f"{info.field_name} must be one line of printable text")
        return value

    @model_validator(mode="after")
    def _within_hard_limits(self) -> "Policy":
        problem = hard_limit_problem(self)
        if problem is not None:
            raise ValueError(problem)
        return self

    @property
    def ref(self) -> dict[str, str]:
        return {"name": self.name, "version": self.version}

    @classmethod
    def from_toml(cls, text: str) -> "Policy":
        """Parse a policy file's text; unknown keys, out-of-limit values and an unprintable name or version
        fail validation."""
        return cls.model_validate(tomllib.loads(text), context=FROM_FILE)


def hard_limit_problem(policy: "Policy") -> str | None:
    """Why a policy would pass a hard limit (H24), or None. A module function, not the validator's body, so that
    mutation testing reaches it (mutmut skips decorated functions)."""
    limits = HARD_LIMITS
    checks: list[tuple[str, float, float, str]] = [
        # field, value, limit, direction ("max" means value must be <= limit)
        ("toci_min_interval_h", policy.toci_min_interval_h, limits.toci_min_interval_h, "min"),
        ("toci_max_doses_episode", policy.toci_max_doses_episode, limits.toci_max_doses_episode, "max"),
        ("toci_mg_per_kg", policy.toci_mg_per_kg, limits.toci_mg_per_kg, "max"),
        ("toci_mg_per_kg_under_30kg", policy.toci_mg_per_kg_under_30kg, limits.toci_mg_per_kg_under_30kg, "max"),
        ("toci_child_weight_kg", policy.toci_child_weight_kg, limits.toci_child_weight_kg, "max"),
        ("toci_max_doses_24h", policy.toci_max_doses_24h, limits.toci_max_doses_24h, "max"),
        ("dexamethasone_standard_mg", policy.dexamethasone_standard_mg, limits.dexamethasone_dose_max_mg, "max"),
        ("dexamethasone_escalated_mg", policy.dexamethasone_escalated_mg, limits.dexamethasone_dose_max_mg, "max"),
        ("methylprednisolone_escalated_mg", policy.methylprednisolone_escalated_mg,
         limits.methylprednisolone_dose_max_mg, "max"),
        ("anakinra_adult_mg", policy.anakinra_adult_mg, limits.anakinra_dose_max_mg, "max"),
        ("siltuximab_mg_per_kg", policy.siltuximab_mg_per_kg, limits.siltuximab_mg_per_kg, "max"),
    ]
    for field, value, limit, direction in checks:
        if direction == "max" and value > limit:
            return f"{field}: {value:g} is above the hard limit of {limit:g}"
        if direction == "min" and value < limit:
            return f"{field}: {value:g} is below the hard limit of {limit:g}"
    if policy.dexamethasone_standard_mg > policy.dexamethasone_escalated_mg:
        return "dexamethasone_standard_mg: must not exceed dexamethasone_escalated_mg"
    return None


DEFAULT_POLICY = Policy()
