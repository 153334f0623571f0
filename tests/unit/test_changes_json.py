"""The change record a QA auditor reads: `Change.as_json` and `changes()` (pathway/history.py), exactly.

CONTRACT "Corrections and late entries" and issue 10: every correction, void and late entry is told as
who, when, why, before -> after, with the override that passed what it broke and, per recorded event,
the rules that override passed. `crs correct|void|--late --json` prints this object (key `correction`),
`status --as-of` lists them (`corrected_entries`) and the report's Corrections section is built on it,
so each key and each value below is written out as the auditor reads it, never taken from the code.
"""

from typing import Any

from pathway.commands import RecordObservation, Resolve
from pathway.history import changes
from pathway.observations import Observation
from tests.unit.test_corrections import CRS1, CRS2, ID, ZERO, Ward, crs2_toci, h

#: The keys of one change, in the contract's words (and no others).
KEYS = ["seq", "kind", "target_seq", "target_kind", "at", "recorded_at", "actor", "reason", "before", "after",
        "override", "overrides"]
TOCI_560 = {"drug": "tocilizumab", "dose_mg": 560.0, "route": "iv"}


def only_change(ward: Ward) -> dict[str, Any]:
    (change,) = changes(ward.events)
    return change.as_json()


def test_the_56_mg_correction_reads_who_when_why_and_before_and_after() -> None:
    ward = Ward()
    crs2_toci(ward, 56)  # the dose at 10:12 typed as 56 mg (seq 3)
    ward.run(*ward.correct(3, 1, dose_mg=560))  # seq 4, recorded at 11:00 by the charge nurse
    row = only_change(ward)
    assert list(row) == KEYS
    assert row == {"seq": 4, "kind": "correct", "target_seq": 3, "target_kind": "give",
                   "at": "2026-11-01T10:12:00Z",  # the dose's own clinical time, in UTC with a Z
                   "recorded_at": "2026-11-01T11:00:00Z", "actor": "charge-nurse", "reason": "typo",
                   "before": {"drug": "tocilizumab", "dose_mg": 56.0, "route": "iv"}, "after": TOCI_560,
                   "override": None, "overrides": {}}


def test_a_void_with_an_override_names_the_rule_it_passed_at_each_recorded_event() -> None:
    ward = Ward()
    crs2_toci(ward)  # seq 2, 3 (tocilizumab at 10:12)
    ward.observe(9, **CRS2)  # seq 4: grade 2 persisting 8 h after tocilizumab
    ward.give(9.2, "dexamethasone", 10)  # seq 5: indicated by it
    ward.run(*ward.void(3, 10, override="the dose was charted on the wrong patient"))  # seq 6
    row = only_change(ward)
    assert list(row) == KEYS
    assert row == {"seq": 6, "kind": "void", "target_seq": 3, "target_kind": "give",
                   "at": "2026-11-01T10:12:00Z", "recorded_at": "2026-11-01T20:00:00Z", "actor": "charge-nurse",
                   "reason": "wrong episode", "before": TOCI_560, "after": None,
                   "override": {"rule": "STEROID_INDICATION", "rules": ["STEROID_INDICATION"],
                                "reason": "the dose was charted on the wrong patient", "actor": "charge-nurse"},
                   "overrides": {"5": ["STEROID_INDICATION"]}}


def test_a_late_dose_that_needed_its_own_override_reads_not_recorded_before_and_the_dose_after() -> None:
    ward = Ward()
    ward.observe(0, **CRS2)  # seq 2
    ward.observe(2, **CRS1)  # seq 3: grade 1 on record from 12:00
    ward.observe(4, **CRS1)  # seq 4
    # tocilizumab given at 13:00 on grade 1, charted at 15:00: its own TOCI_INDICATION needs the override
    ward.give(3, "tocilizumab", 560, late="charted after the transfer", override="rapidly rising oxygen need",
              now=5)  # seq 5
    row = only_change(ward)
    assert list(row) == KEYS
    assert row == {"seq": 5, "kind": "late", "target_seq": None, "target_kind": "give",
                   "at": "2026-11-01T13:00:00Z", "recorded_at": "2026-11-01T15:00:00Z", "actor": "nurse",
                   "reason": "charted after the transfer", "before": None, "after": TOCI_560,
                   "override": {"rule": "TOCI_INDICATION", "rules": ["TOCI_INDICATION"],
                                "reason": "rapidly rising oxygen need", "actor": "nurse"},
                   "overrides": {"5": ["TOCI_INDICATION"]}}


def test_a_late_observation_without_override_reads_its_inputs_after() -> None:
    ward = Ward()
    ward.observe(0, **CRS2)
    ward.observe(4, **CRS2)
    ward.run(RecordObservation(at=h(2), actor="night-nurse", episode_id=ID, observation=Observation(**CRS1),
                               late="paper chart"), h(5))  # seq 4
    row = only_change(ward)
    assert row == {"seq": 4, "kind": "late", "target_seq": None, "target_kind": "observe",
                   "at": "2026-11-01T12:00:00Z", "recorded_at": "2026-11-01T15:00:00Z", "actor": "night-nurse",
                   "reason": "paper chart", "before": None, "after": {"temp_c": 38.4, "o2_device": "room-air"},
                   "override": None, "overrides": {}}


def test_a_voided_resolve_has_no_inputs_before_or_after() -> None:
    ward = Ward()
    for hours in (0, 12, 24.5):
        ward.observe(hours, **ZERO)
    ward.run(Resolve(at=h(25), actor="doctor", episode_id=ID))  # seq 5
    ward.run(*ward.void(5, 26))  # seq 6
    row = only_change(ward)
    assert row == {"seq": 6, "kind": "void", "target_seq": 5, "target_kind": "resolve",
                   "at": "2026-11-02T11:00:00Z", "recorded_at": "2026-11-02T12:00:00Z", "actor": "charge-nurse",
                   "reason": "wrong episode", "before": None, "after": None, "override": None, "overrides": {}}


def test_changes_are_listed_in_the_order_recorded_each_with_its_own_seq() -> None:
    ward = Ward()
    crs2_toci(ward, 56)  # seq 2, 3
    ward.observe(5, **CRS2)  # seq 4
    ward.run(*ward.correct(4, 6, temp_c=39.0))  # seq 5
    ward.run(*ward.correct(3, 6.5, dose_mg=560))  # seq 6
    rows = [c.as_json() for c in changes(ward.events)]
    assert [(r["seq"], r["kind"], r["target_seq"], r["target_kind"]) for r in rows] == [
        (5, "correct", 4, "observe"), (6, "correct", 3, "give")]
    assert rows[0]["before"] == {"temp_c": 38.6, "o2_device": "nasal-cannula", "o2_flow_lpm": 4}
    assert rows[0]["after"] == {"temp_c": 39.0, "o2_device": "nasal-cannula", "o2_flow_lpm": 4}
    assert rows[0]["at"] == "2026-11-01T15:00:00Z" and rows[1]["at"] == "2026-11-01T10:12:00Z"


def test_a_late_entry_always_reads_a_reason_even_one_whose_record_lacks_it() -> None:
    ward = Ward()
    ward.observe(0, **CRS2)
    ward.observe(4, **CRS2)
    late = ward.run(RecordObservation(at=h(2), actor="nurse", episode_id=ID, observation=Observation(**CRS1),
                                      late="paper chart"), h(5))
    bare = late.model_copy(update={"data": {k: v for k, v in late.data.items() if k != "late_reason"}})
    (change,) = changes([*ward.events[:-1], bare])  # a record written without it (not by this pathway)
    assert change.as_json()["reason"] == ""  # a string, as on every change: never null
