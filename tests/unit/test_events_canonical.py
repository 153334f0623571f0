"""Event.canonical(): the exact bytes the hash chain covers (persistence/chain.py hashes this text).

Every byte matters: a key order, a space, a time written with its offset instead of in UTC, or an absent
stamp written as `null` would give every stored event a new hash, and `crs audit verify` would call an
intact record forged (or, if the store and the audit disagreed, a forged one intact). So the expected
texts here are written out by hand: keys sorted, no spaces, times in UTC with `Z`, non-ASCII kept as is,
the store's stamps (`login`, `snapshot_sha256`) present when stamped and left out when absent (events from
before schema 0003 hash as they always did).
"""

import json
from datetime import datetime, timedelta, timezone

from pathway.events import PATHWAY_VERSION, STAMPS, Event, Override, decided_by

UTC = timezone.utc
PLUS2 = timezone(timedelta(hours=2))
SHA = "ab" * 32


def given(**update: object) -> Event:
    """A dose given with an override, recorded with a +02:00 clock: the fields in declaration order."""
    fields: dict[str, object] = dict(
        episode_id="E7MF73", seq=3, kind="give", at=datetime(2026, 3, 1, 14, 30, tzinfo=PLUS2),
        recorded_at=datetime(2026, 3, 1, 12, 31, 5, tzinfo=UTC), actor="Dr Zoë", from_state="tocilizumab",
        to_state="steroid", data={"route": "iv", "drug": "dexamethasone", "dose_mg": 10.0, "pathway": "2"},
        override=Override(rule="STEROID_INDICATION", rules=("STEROID_INDICATION",), reason="consultant: ICANS",
                          actor="Dr Zoë"))
    fields.update(update)
    return Event(**fields)  # type: ignore[arg-type]


#: The same event as the chain must see it, typed out key by key (sorted, no spaces, UTC, stamps absent).
UNSTAMPED = ('{"actor":"Dr Zoë","at":"2026-03-01T12:30:00Z",'
             '"data":{"dose_mg":10.0,"drug":"dexamethasone","pathway":"2","route":"iv"},'
             '"episode_id":"E7MF73","from_state":"tocilizumab","kind":"give",'
             '"override":{"actor":"Dr Zoë","reason":"consultant: ICANS","rule":"STEROID_INDICATION",'
             '"rules":["STEROID_INDICATION"]},'
             '"recorded_at":"2026-03-01T12:31:05Z","seq":3,"to_state":"steroid"}')


def test_an_event_without_stamps_is_written_exactly_as_before_schema_0003() -> None:
    assert given().canonical() == UNSTAMPED
    assert "null" not in UNSTAMPED and "login" not in given().canonical()


def test_both_stamps_are_inside_the_hashed_text_in_key_order() -> None:
    text = given(login="nurse.a", snapshot_sha256=SHA).canonical()
    assert text == UNSTAMPED.replace('"kind":"give",', '"kind":"give","login":"nurse.a",').replace(
        '"seq":3,', f'"seq":3,"snapshot_sha256":"{SHA}",')


def test_each_stamp_is_left_out_on_its_own_when_absent() -> None:
    only_login = given(login="nurse.a").canonical()
    assert '"login":"nurse.a"' in only_login and "snapshot_sha256" not in only_login
    only_snapshot = given(snapshot_sha256=SHA).canonical()
    assert f'"snapshot_sha256":"{SHA}"' in only_snapshot and "login" not in only_snapshot


def test_nulls_that_are_not_stamps_stay_in_the_text() -> None:
    """`from_state` of an open and an absent override are facts of the event, written as null."""
    opened = Event(episode_id="E1", seq=1, kind="open", at=datetime(2026, 3, 1, 12, tzinfo=UTC),
                   recorded_at=datetime(2026, 3, 1, 12, 1, tzinfo=UTC), actor="nurse-a", from_state=None,
                   to_state="assessment", data={"patient_ref": "P-1"})
    assert opened.canonical() == ('{"actor":"nurse-a","at":"2026-03-01T12:00:00Z","data":{"patient_ref":"P-1"},'
                                  '"episode_id":"E1","from_state":null,"kind":"open","override":null,'
                                  '"recorded_at":"2026-03-01T12:01:00Z","seq":1,"to_state":"assessment"}')


def test_the_same_instant_in_another_zone_is_the_same_text() -> None:
    assert given(at=datetime(2026, 3, 1, 12, 30, tzinfo=UTC)).canonical() == UNSTAMPED


def test_the_canonical_text_reads_back_as_the_same_event() -> None:
    for event in (given(), given(login="nurse.a", snapshot_sha256=SHA)):
        assert Event.from_canonical(event.canonical()) == event


def test_decided_drops_the_stores_stamps_and_nothing_else() -> None:
    plain = given()
    assert plain.decided() == plain
    for stamped in (given(login="nurse.a", snapshot_sha256=SHA), given(login="nurse.a"), given(snapshot_sha256=SHA)):
        decided = stamped.decided()
        assert decided.login is None and decided.snapshot_sha256 is None
        assert decided == plain and decided.canonical() == UNSTAMPED
    assert STAMPS == ("login", "snapshot_sha256")


def test_as_json_is_the_history_entry_with_every_field_and_plain_json_values() -> None:
    """`crs history --json` shows `login` even when it is not known (null), unlike the hashed text."""
    body = given(login="nurse.a").as_json()
    assert body == {
        "episode_id": "E7MF73", "seq": 3, "kind": "give", "at": "2026-03-01T12:30:00Z",
        "recorded_at": "2026-03-01T12:31:05Z", "actor": "Dr Zoë", "from_state": "tocilizumab", "to_state": "steroid",
        "data": {"route": "iv", "drug": "dexamethasone", "dose_mg": 10.0, "pathway": "2"},
        "override": {"rule": "STEROID_INDICATION", "rules": ["STEROID_INDICATION"], "reason": "consultant: ICANS",
                     "actor": "Dr Zoë"},
        "login": "nurse.a", "snapshot_sha256": None,
    }
    assert json.loads(json.dumps(body)) == body


def test_the_version_that_decided_is_read_only_from_a_string() -> None:
    assert PATHWAY_VERSION == "2"
    assert decided_by({"pathway": "2"}) == "2"
    assert decided_by({"pathway": "1"}) == "1"
    assert decided_by({}) is None  # before versions were recorded
    assert decided_by({"pathway": 2}) is None  # not a version this project writes
