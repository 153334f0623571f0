"""The rule catalogue: every rule that can refuse a step, with its kind, sentence and sources.

A rule's check lives in pathway/guards.py under the same ID; the states/ tables name rules by
ID. A test proves every ID named anywhere exists here and has a check.
"""

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    HARD = "hard"  # never passed, by any policy or override
    OVERRIDABLE = "overridable"  # passed with a documented clinician reason, recorded as a deviation
    MIXED = "hard or overridable"  # a hard ceiling above an overridable policy limit


@dataclass(frozen=True)
class Rule:
    id: str
    kind: Kind
    sentence: str
    citations: tuple[str, ...]

    def as_json(self) -> dict[str, object]:
        return {"id": self.id, "kind": self.kind.value, "sentence": self.sentence, "citations": list(self.citations)}


_RULES = (
    Rule("TOCI_DOSE_MAX", Kind.HARD,
         "A tocilizumab dose may not exceed 800 mg, nor the weight-based dose (8 mg/kg at 30 kg or more, "
         "12 mg/kg under 30 kg) by more than 10%.", ("LABEL-TOCI", "NCCN-2026")),
    Rule("TOCI_MIN_INTERVAL", Kind.HARD,
         "Tocilizumab doses must be at least 8 hours apart.", ("LABEL-TOCI", "NCCN-2026", "ASCO-2021")),
    Rule("TOCI_MAX_DOSES", Kind.MIXED,
         "No more than 3 tocilizumab doses in 24 hours or 4 in an episode (hard); no more than the policy's "
         "own maximum per episode, default 2 (overridable).", ("LABEL-TOCI", "NCCN-2026")),
    Rule("TOCI_INDICATION", Kind.OVERRIDABLE,
         "Tocilizumab needs CRS grade 2 or more on record, or grade 1 with fever persisting beyond the policy's "
         "window; it does not treat ICANS alone.", ("ASTCT-2019", "NCCN-2026", "ASCO-2021")),
    Rule("STEROID_INDICATION", Kind.OVERRIDABLE,
         "A corticosteroid needs CRS grade 3 or more, CRS grade 2 or more persisting 8 hours after tocilizumab "
         "without improvement, ICANS grade 2 or more, or a steroid course already under way.",
         ("CARTOX-2018", "ASCO-2021", "NCCN-2026")),
    Rule("STEROID_DOSE_MAX", Kind.HARD,
         "Dexamethasone may not exceed 20 mg a dose; methylprednisolone 1000 mg a dose or 2000 mg in 24 hours.",
         ("CARTOX-2018", "NCCN-2026")),
    Rule("STEROID_DOSE_PER_KG", Kind.OVERRIDABLE,
         "A steroid dose may not exceed the policy's per-kg ceiling (default dexamethasone 0.5 mg/kg a dose, "
         "methylprednisolone 30 mg/kg in 24 hours): it binds for children; the absolute limits stay.",
         ("PALISI-2019", "ASCO-2021", "NCI-2016")),
    Rule("ESCALATION_ORDER", Kind.OVERRIDABLE,
         "Escalated steroid comes after 24 hours of standard steroid without improvement, unless CRS or ICANS "
         "is grade 4 or the worse of them has risen since the steroid started.", ("CARTOX-2018", "NCCN-2026")),
    Rule("REFRACTORY_ORDER", Kind.OVERRIDABLE,
         "A refractory-line drug (anakinra, siltuximab, ruxolitinib, cyclophosphamide) comes only after "
         "tocilizumab and a corticosteroid have both been given.", ("ASCO-2021", "NCCN-2026")),
    Rule("RESOLVE_CRITERIA", Kind.OVERRIDABLE,
         "An episode resolves when CRS and ICANS have been grade 0, each fully assessed (CRS: temperature and "
         "oxygen; ICANS: ICE or CAPD, and consciousness), on every observation for the last 24 hours, "
         "the latest of them within the reassessment interval (12 hours); a not-assessed grade never counts as 0.",
         ("ASTCT-2019",)),
    Rule("DOSE_MAX", Kind.HARD,
         "Anakinra may not exceed 100 mg a dose or 400 mg in 24 hours; siltuximab 11 mg/kg + 10% (a dose or "
         "in 24 hours).", ("NCCN-2026", "ANAK-PED", "CARTOX-2018")),
    Rule("DRUG_ROUTE", Kind.HARD,
         "A drug is given only by a route the pathway lists for it (tocilizumab and siltuximab IV; "
         "ruxolitinib by mouth).", ("LABEL-TOCI", "CARTOX-2018", "NCCN-2026")),
    Rule("TIME_ORDER", Kind.HARD,
         "An event may not be earlier than the episode's latest event; a step charted after the fact is a late "
         "entry (--late REASON), and no entry may precede the episode's opening.", ("CONTRACT", "CFR-11")),
    Rule("CORRECTION_TARGET", Kind.HARD,
         "Only an observation, dose or action that still stands can be corrected (and a resolve voided); "
         "an open, close, correction or void, or an event already superseded or voided, cannot.",
         ("CFR-11", "FHIR-R4")),
    Rule("RECORD_INTEGRITY", Kind.HARD,
         "A step is decided only on an episode whose stored snapshot matches its hash-chained history; "
         "a mismatch refuses every step on the episode until QA has run `crs audit verify`.",
         ("CFR-11",)),
    Rule("TIME_FUTURE", Kind.HARD,
         "An event may not be more than 5 minutes in the future.", ("CONTRACT",)),
    Rule("EPISODE_CLOSED", Kind.HARD,
         "A closed episode takes no further step.", ("CONTRACT",)),
    Rule("PATHWAY_TRANSITION", Kind.HARD,
         "A step must be a transition the pathway declares from the episode's current state (a resolved "
         "episode takes observations, actions, a steroid taper and close; a recurrence is a new episode).",
         ("CONTRACT",)),
)

RULES: dict[str, Rule] = {rule.id: rule for rule in _RULES}


def rule(rule_id: str) -> Rule:
    return RULES[rule_id]
