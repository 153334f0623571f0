"""Weight-based doses, ceilings and the named regimens the pathway recommends (CLINICAL.md §3–5).

Ceilings come from HARD_LIMITS (never a policy); recommended doses come from the policy. Every
dose a recommendation names is checked against the same rules as a dose given.
"""

import math
from dataclasses import dataclass
from typing import Callable

from pathway.drugs import STEROIDS, Drug, Route
from pathway.episode import Episode
from pathway.policy import HARD_LIMITS, Policy


def floor_tenth_mg(value: float) -> float:
    """Round a ceiling DOWN to 0.1 mg, so a rounded limit never sits above the true one.

    The 1e-9 absorbs binary floating error (52 × 8 × 1.1 is 457.60000000000002, not above 457.6).
    """
    return math.floor(value * 10 + 1e-9) / 10


def toci_mg_per_kg(weight_kg: float, policy: Policy) -> float:
    return policy.toci_mg_per_kg_under_30kg if weight_kg < policy.toci_child_weight_kg else policy.toci_mg_per_kg


def toci_dose_mg(weight_kg: float, policy: Policy) -> float:
    """The recommended tocilizumab dose: weight-based, capped at 800 mg and never above the hard ceiling."""
    return min(round(weight_kg * toci_mg_per_kg(weight_kg, policy), 1), toci_ceiling_mg(weight_kg))


def toci_ceiling_mg(weight_kg: float) -> float:
    """The hard ceiling for one tocilizumab dose: label weight-based dose + 10%, and never above 800 mg."""
    limits = HARD_LIMITS
    per_kg = limits.toci_mg_per_kg_under_30kg if weight_kg < limits.toci_child_weight_kg else limits.toci_mg_per_kg
    return floor_tenth_mg(min(weight_kg * per_kg * (1 + limits.toci_weight_tolerance), limits.toci_single_dose_max_mg))


def siltuximab_dose_mg(weight_kg: float, policy: Policy) -> float:
    return round(weight_kg * policy.siltuximab_mg_per_kg, 1)


def siltuximab_ceiling_mg(weight_kg: float) -> float:
    return floor_tenth_mg(weight_kg * HARD_LIMITS.siltuximab_mg_per_kg * (1 + HARD_LIMITS.siltuximab_tolerance))


def anakinra_dose_mg(weight_kg: float, age_years: float, policy: Policy) -> float:
    """100 mg in adults; 2 mg/kg (at most 100 mg) in children (ANAK-PED)."""
    if age_years >= policy.anakinra_adult_age_years:
        return policy.anakinra_adult_mg
    return round(min(weight_kg * policy.anakinra_child_mg_per_kg, HARD_LIMITS.anakinra_dose_max_mg), 1)


@dataclass(frozen=True)
class DoseLimit:
    """A drug's hard limits, by body weight: one dose, and the total in any 24 hours."""

    rule: str
    per_dose_mg: Callable[[float], float]
    per_day_mg: Callable[[float], float] | None = None
    weight_based: bool = False


#: Every hard dose limit of CLINICAL.md §3–5 in one table (ruxolitinib, cyclophosphamide: none sourced).
DOSE_LIMITS: dict[Drug, DoseLimit] = {
    Drug.TOCILIZUMAB: DoseLimit("TOCI_DOSE_MAX", toci_ceiling_mg, weight_based=True),
    Drug.DEXAMETHASONE: DoseLimit("STEROID_DOSE_MAX", lambda _w: HARD_LIMITS.dexamethasone_dose_max_mg),
    Drug.METHYLPREDNISOLONE: DoseLimit("STEROID_DOSE_MAX", lambda _w: HARD_LIMITS.methylprednisolone_dose_max_mg,
                                       lambda _w: HARD_LIMITS.methylprednisolone_24h_max_mg),
    Drug.ANAKINRA: DoseLimit("DOSE_MAX", lambda _w: HARD_LIMITS.anakinra_dose_max_mg,
                             lambda _w: HARD_LIMITS.anakinra_24h_max_mg),
    Drug.SILTUXIMAB: DoseLimit("DOSE_MAX", siltuximab_ceiling_mg, siltuximab_ceiling_mg, weight_based=True),
}


def steroid_intensity(drug: Drug, dose_mg: float, weight_kg: float, policy: Policy) -> str:
    """Standard or escalated (CLINICAL.md §4): the intensity decides the state a dose opens."""
    if drug is Drug.DEXAMETHASONE:
        return "standard" if dose_mg <= policy.dexamethasone_standard_mg else "escalated"
    if drug is Drug.METHYLPREDNISOLONE:
        return "standard" if dose_mg <= policy.standard_methylprednisolone_mg_per_kg * weight_kg else "escalated"
    raise ValueError(f"{drug} is not a corticosteroid")


def steroid_per_kg_ceiling_mg(drug: Drug, weight_kg: float, policy: Policy, every_h: float | None = None) -> float:
    """The policy's per-kg ceiling for one steroid dose (CLINICAL.md §4; rule STEROID_DOSE_PER_KG).

    Dexamethasone: mg/kg a dose. Methylprednisolone: mg/kg a day, so one dose of a regimen given every
    `every_h` hours may take that share of the day (a once-daily pulse, the whole day). Rounded down.
    """
    if drug is Drug.DEXAMETHASONE:
        return floor_tenth_mg(policy.dexamethasone_max_mg_per_kg_dose * weight_kg)
    if drug is Drug.METHYLPREDNISOLONE:
        share = 1.0 if every_h is None or every_h >= 24 else every_h / 24
        return floor_tenth_mg(policy.methylprednisolone_max_mg_per_kg_day * weight_kg * share)
    raise ValueError(f"{drug} is not a corticosteroid")


def steroid_day_ceiling_mg(drug: Drug, weight_kg: float, policy: Policy) -> float | None:
    """The per-kg ceiling over any 24 hours (methylprednisolone only; dexamethasone is per dose)."""
    if drug is Drug.METHYLPREDNISOLONE:
        return floor_tenth_mg(policy.methylprednisolone_max_mg_per_kg_day * weight_kg)
    return None


def child_steroid_dose_mg(drug: Drug, adult_mg: float, weight_kg: float, policy: Policy,
                          every_h: float | None) -> float:
    """min(adult dose, per-kg ceiling × weight), rounded down to 0.1 mg: never an adult dose for a child (H2)."""
    return floor_tenth_mg(min(adult_mg, steroid_per_kg_ceiling_mg(drug, weight_kg, policy, every_h)))


@dataclass(frozen=True)
class Regimen:
    """A named dose rule: what to give, how much, how often, and on whose authority."""

    name: str
    drug: Drug
    dose_mg: float | None
    route: Route
    every_hours: float | None
    text: str
    citations: tuple[str, ...]
    schedule: tuple[str, ...] = ()
    intensity: str | None = None  # steroids: the intensity the regimen is meant to be


def _steroid(name: str, drug: Drug, adult_mg: float, every_h: float | None, what: str, citations: tuple[str, ...],
             episode: Episode, intensity: str | None, schedule: tuple[str, ...] = ()) -> Regimen:
    """A steroid regimen dosed for this patient: the adult dose, capped by the per-kg ceiling."""
    w = episode.weight_kg
    dose = child_steroid_dose_mg(drug, adult_mg, w, episode.policy, every_h)
    capped = f" (capped at {dose:g} mg for {w:g} kg by the per-kg ceiling)" if dose < adult_mg else ""
    return Regimen(name, drug, dose, Route.IV, every_h, what.format(dose=f"{dose:g}") + capped, citations,
                   schedule, intensity)


def _per(every_h: float) -> str:
    """"/day" for a once-daily dose, else its interval (500 mg q12h is not "500 mg/day")."""
    return "/day" if every_h >= 24 else f" every {every_h:g} h"


def last_steroid(episode: Episode, intensity: str | None = None) -> Drug | None:
    """The corticosteroid given last (of that intensity, if named): the one a course or taper continues."""
    given = [d for d in episode.doses if d.drug in STEROIDS and (intensity is None or d.intensity == intensity)]
    return given[-1].drug if given else None


def regimen(name: str, episode: Episode) -> Regimen:
    """Compute a named regimen for this patient under the episode's policy."""
    p, w = episode.policy, episode.weight_kg
    if name == "tocilizumab":
        per_kg = toci_mg_per_kg(w, p)
        dose = toci_dose_mg(w, p)
        capped = ", 800 mg cap" if dose >= HARD_LIMITS.toci_single_dose_max_mg else ""
        return Regimen(name, Drug.TOCILIZUMAB, dose, Route.IV, None,
                       f"tocilizumab {dose:g} mg IV over 1 h ({per_kg:g} mg/kg{capped})",
                       ("LABEL-TOCI", "NCCN-2026", "ASCO-2021"))
    if name == "dexamethasone_standard":
        return _steroid(name, Drug.DEXAMETHASONE, p.dexamethasone_standard_mg, p.dexamethasone_every_h,
                        f"dexamethasone {{dose}} mg IV every {p.dexamethasone_every_h:g} h for 1–3 days",
                        ("CARTOX-2018", "ASCO-2021"), episode, "standard")
    if name == "dexamethasone_escalated":
        return _steroid(name, Drug.DEXAMETHASONE, p.dexamethasone_escalated_mg, p.dexamethasone_every_h,
                        f"dexamethasone {{dose}} mg IV every {p.dexamethasone_every_h:g} h",
                        ("CARTOX-2018",), episode, "escalated")
    if name == "methylprednisolone_escalated":
        return _steroid(name, Drug.METHYLPREDNISOLONE, p.methylprednisolone_escalated_mg,
                        p.methylprednisolone_escalated_every_h,
                        f"methylprednisolone {{dose}} mg{_per(p.methylprednisolone_escalated_every_h)} IV for "
                        f"{p.escalated_course_days:g} days, then taper",
                        ("NCCN-2026", "ASCO-2021"), episode, "escalated")
    if name == "methylprednisolone_icans3":
        adult = min(p.icans3_methylprednisolone_mg_per_kg * w, HARD_LIMITS.methylprednisolone_dose_max_mg)
        return _steroid(name, Drug.METHYLPREDNISOLONE, floor_tenth_mg(adult), p.icans3_methylprednisolone_every_h,
                        f"methylprednisolone {{dose}} mg IV every {p.icans3_methylprednisolone_every_h:g} h "
                        f"({p.icans3_methylprednisolone_mg_per_kg:g} mg/kg)", ("ASCO-2021", "NCI-2016"), episode,
                        "standard")
    if name == "escalated_course":
        # the escalated course under way continues with the drug it started with (days 2–3)
        drug = last_steroid(episode, "escalated")
        return regimen("dexamethasone_escalated" if drug is Drug.DEXAMETHASONE else "methylprednisolone_escalated",
                       episode)
    if name == "standard_course":
        drug = last_steroid(episode, "standard")
        return regimen("methylprednisolone_icans3" if drug is Drug.METHYLPREDNISOLONE else "dexamethasone_standard",
                       episode)
    if name == "anakinra":
        dose = anakinra_dose_mg(w, episode.age_years, p)
        who = "adult" if episode.age_years >= p.anakinra_adult_age_years else f"{p.anakinra_child_mg_per_kg:g} mg/kg"
        return Regimen(name, Drug.ANAKINRA, dose, Route.IV, p.anakinra_every_h,
                       f"anakinra {dose:g} mg IV/SC every {p.anakinra_every_h:g} h ({who})", ("NCCN-2026", "ANAK-PED"))
    if name == "siltuximab":
        dose = siltuximab_dose_mg(w, p)
        return Regimen(name, Drug.SILTUXIMAB, dose, Route.IV, None,
                       f"siltuximab {dose:g} mg IV once ({p.siltuximab_mg_per_kg:g} mg/kg)", ("CARTOX-2018",))
    if name == "methylprednisolone_taper":
        # a child's taper steps down from the child's pulse: each adult step scaled by pulse / adult pulse
        pulse = child_steroid_dose_mg(Drug.METHYLPREDNISOLONE, p.methylprednisolone_escalated_mg, w, p, 24.0)
        scale = min(1.0, pulse / p.methylprednisolone_escalated_mg)
        steps = (250.0, 125.0, 60.0)
        doses = [floor_tenth_mg(mg * scale) for mg in steps]
        schedule = tuple(f"{mg:g} mg IV q12h × 2 days" for mg in doses)
        return _steroid(name, Drug.METHYLPREDNISOLONE, doses[0], 12.0,
                        "taper methylprednisolone: " + ", ".join(f"{mg:g} mg q12h × 2 d" for mg in doses),
                        ("ASCO-2021", "NCCN-2026"), episode, None, schedule)
    if name == "dexamethasone_taper":
        return Regimen(name, Drug.DEXAMETHASONE, None, Route.IV, None,
                       "taper dexamethasone over several days (site protocol); watch for an ICANS flare on a "
                       "rapid taper", ("ASCO-2021", "CARTOX-2018"))
    raise KeyError(f"unknown regimen {name!r}")


REGIMENS = (
    "tocilizumab", "dexamethasone_standard", "dexamethasone_escalated", "methylprednisolone_escalated",
    "methylprednisolone_icans3", "escalated_course", "standard_course",
    "anakinra", "siltuximab", "methylprednisolone_taper", "dexamethasone_taper",
)
