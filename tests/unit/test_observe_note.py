"""An observation's free-text note (`crs observe --note`, an imported blood pressure): recorded in the observe
event's data only when given, so every observe event recorded without one hashes exactly as before the note
existed; carried by replay, corrections (unchanged: the note is not an input a correction changes) and late
entries."""

import hashlib

import pytest
from pydantic import ValidationError

from pathway.commands import RecordObservation
from pathway.history import INPUTS, changes, episode_of
from pathway.observations import Observation
from pathway.replay import replay
from tests.scenarios.driver import Driver, t
from tests.unit.test_corrections import CRS2, ID, Ward, h

#: The canonical text and SHA-256 of this observe, computed with the code of commit 5147b82 (before the note
#: existed): an observe without a note must keep these bytes, or every stored record would read as forged.
GOLDEN_TEXT = (
    '{"actor":"nurse-a","at":"2026-03-01T13:00:00Z","data":{"crs_basis":{"citations":["ASTCT-2019"],'
    '"decided_by":["o2=nasal-cannula at 2 L/min"],"fever":true,"grade":2,"missing":[],"notes":[]},"crs_grade":2,'
    '"icans_basis":{"citations":["ASTCT-2019"],"decided_by":["no neurological finding"],"fever":null,"grade":0,'
    '"missing":["consciousness"],"notes":["ICANS partly assessed: consciousness not recorded (needed for '
    'resolution)"]},"icans_grade":0,"observation":{"ice_score":10,"o2_device":"nasal-cannula","o2_flow_lpm":2.0,'
    '"temp_c":39.2},"pathway":"2"},"episode_id":"E0001","from_state":"assessment","kind":"observe",'
    '"override":null,"recorded_at":"2026-03-01T13:01:00Z","seq":2,"to_state":"assessment"}')
GOLDEN_SHA256 = "ed40789be12903812e3b2168c7f1c2eb98f05954d028cd74e288b2855f37c75b"
NOTE = "blood pressure 88/50 mm[Hg] (from FHIR Observation/bp-1)"


def _observed(note: str | None = None) -> Driver:
    d = Driver()
    d.open(t(0), patient_ref="P-1", weight_kg=70, age_years=45)
    d.step(RecordObservation(at=t(1), actor=d.actor, episode_id="E0001", note=note,
                             observation=Observation(temp_c=39.2, o2_device="nasal-cannula", o2_flow_lpm=2,
                                                     ice_score=10)))
    return d


def test_an_observe_without_a_note_hashes_exactly_as_before_the_note_existed() -> None:
    event = _observed().events[-1]
    assert "note" not in event.data
    assert event.canonical() == GOLDEN_TEXT
    assert hashlib.sha256(event.canonical().encode()).hexdigest() == GOLDEN_SHA256


def test_a_note_is_one_more_key_of_the_data_and_nothing_else_changes() -> None:
    plain, noted = _observed().events[-1], _observed(NOTE).events[-1]
    assert noted.data["note"] == NOTE
    assert {k: v for k, v in noted.data.items() if k != "note"} == plain.data
    assert noted.model_copy(update={"data": plain.data}) == plain


def test_a_note_is_stripped_and_bounded_like_an_actions() -> None:
    assert _observed("  pale  ").events[-1].data["note"] == "pale"
    for bad in ("   ", "x" * 501):
        with pytest.raises(ValidationError):
            _observed(bad)


def test_an_observe_with_a_note_replays_exactly() -> None:
    d = _observed(NOTE)
    result = replay(d.events)
    assert result.problems == [] and result.episode == d.episode


def test_a_correction_carries_the_note_unchanged_and_the_note_is_not_a_correctable_input() -> None:
    ward = Ward()
    ward.run(RecordObservation(at=h(0), actor="nurse", episode_id=ID, observation=Observation(**CRS2), note=NOTE))
    assert "note" not in INPUTS["observe"]
    event = ward.run(*ward.correct(2, 1, temp_c=39.0))  # Ward.run re-folds and replays after every step
    assert event.data["corrected"]["note"] == NOTE
    assert episode_of(ward.events) == ward.ep
    assert "note" not in (changes(ward.events)[0].after or {})


def test_a_late_entry_keeps_its_note() -> None:
    ward = Ward()
    ward.observe(2, **CRS2)
    event = ward.run(RecordObservation(at=h(1), actor="nurse", episode_id=ID, observation=Observation(**CRS2),
                                       note=NOTE, late="charted after the round"), h(3))
    assert event.data["late"] is True and event.data["note"] == NOTE
