"""audit verify's fast path reads a row exactly as the validating path would, or not at all.

`trusted_event` builds the stored Event without pydantic validation for a row whose hash matched;
these tests pin that it equals `event_from_row` for every kind of event on both backends, that it
declines every odd row (the full path then names the problem, as before), and that histories
rewritten consistently (chain and snapshot re-hashed, so only the replay can tell) are still caught.
"""

import sys
from typing import Any

import pytest

from pathway.commands import Close, RecordAction, Resolve
from pathway.events import Event
from persistence import audit
from persistence.audit import EventRow, trusted_event
from persistence.chain import GENESIS, link
from persistence.rows import EVENT_COLUMNS, canonical_from_row, event_from_row
from persistence.store import Store
from tests.support.steps import ACTOR, T0, give, minutes, observe, open_episode, run
from tests.support.tamper import placeholders, raw_connect, tamper


def every_kind(store: Store) -> str:
    """Every event kind, overrides on a dose and on resolve, a note, a reason, non-ASCII text."""
    e = open_episode(store, patient_ref="PT-FAST")
    observe(store, e, T0 + minutes(10))
    give(store, e, T0 + minutes(20))
    run(store, RecordAction(at=T0 + minutes(25), actor="nurse-ü", episode_id=e, action="labs", note="CRP — urgent"))
    give(store, e, T0 + minutes(30), drug="dexamethasone", dose_mg=10, override_reason="consultant's decision")
    observe(store, e, T0 + minutes(40), temp_c=36.8, ice_score=10, consciousness="awake")
    run(store, Resolve(at=T0 + minutes(50), actor=ACTOR, episode_id=e, override_reason="discharged"))
    run(store, Close(at=T0 + minutes(60), actor=ACTOR, episode_id=e, reason="follow-up"))
    return e


def stored_rows(url: str, episode_id: str) -> list[EventRow]:
    conn = raw_connect(url)
    try:
        sql = placeholders(url, f"SELECT {EVENT_COLUMNS} FROM event WHERE episode_id = ? ORDER BY seq")
        return [EventRow._make(row) for row in conn.execute(sql, (episode_id,)).fetchall()]
    finally:
        conn.close()


def test_the_fast_path_builds_the_very_event_validation_builds(store: Store, url: str) -> None:
    e = every_kind(store)
    rows = stored_rows(url, e)
    assert {row.kind for row in rows} == {"open", "observe", "give", "act", "resolve", "close"}
    assert sum(row.override is not None for row in rows) == 2
    for row in rows:
        fast, full = trusted_event(row), event_from_row(row).event
        assert fast is not None and type(fast) is Event
        assert fast == full and full == fast
        assert fast.model_dump() == full.model_dump() and fast.canonical() == full.canonical()
        assert fast.model_fields_set == full.model_fields_set
        assert fast.at.tzinfo == full.at.tzinfo and fast.recorded_at.tzinfo == full.recorded_at.tzinfo
        assert fast.override == full.override and type(fast.override) is type(full.override)
        assert link(row.prev_hash, fast.canonical()) == row.hash
        with pytest.raises(Exception):
            fast.seq = 99  # type: ignore[misc]  # frozen, like any Event


ODD = {
    "seq": "3", "kind": "bogus", "actor": None, "from_state": 7, "payload": "{not json", "at": "2025-03-01T08:00:00",
    "recorded_at": "yesterday", "override": '{"rule": "X"}',
}


@pytest.mark.parametrize(("column", "value"), [*ODD.items(), ("payload", "[1, 2]"), ("payload", "null"),
                                               ("seq", True), ("episode_id", b"E1")])
def test_the_fast_path_declines_every_odd_row(store: Store, url: str, column: str, value: Any) -> None:
    e = every_kind(store)
    row = stored_rows(url, e)[4]  # the overridden dose
    assert trusted_event(row) is not None
    assert trusted_event(row._replace(**{column: value})) is None


def rewrite(url: str, store: Store, episode_id: str, seq: int, payload: str) -> None:
    """Replace one event's payload and re-hash the chain from there (and the snapshot's head hash),
    as someone who knows the algorithm could: the chain is consistent, only the replay can tell."""
    rows = stored_rows(url, episode_id)
    statements: list[tuple[str, tuple[object, ...]]] = []
    prev = GENESIS
    for row in rows:
        if row.seq == seq:
            row = row._replace(payload=payload)
        if row.seq >= seq:
            new_hash = link(prev, canonical_from_row(row) or "")
            statements.append(("UPDATE event SET payload = ?, prev_hash = ?, hash = ? WHERE episode_id = ? AND seq = ?",
                               (row.payload, prev, new_hash, episode_id, row.seq)))
            prev = new_hash
        else:
            prev = row.hash
    statements.append(("UPDATE episode SET head_hash = ? WHERE id = ?", (prev, episode_id)))
    tamper(url, *statements)


def problems(report: audit.VerifyReport) -> list[tuple[int | None, str]]:
    return [(f.seq, f.problem) for f in report.failures]


def test_a_consistently_rewritten_type_change_is_caught(store: Store, audit_store: Store, url: str) -> None:
    """A grade stored as the text "2": the chain and head hash are consistent, the replay differs."""
    e = every_kind(store)
    row = stored_rows(url, e)[1]
    assert '"crs_grade":2,' in row.payload
    rewrite(url, store, e, 2, row.payload.replace('"crs_grade":2,', '"crs_grade":"2",'))
    report = audit.verify(audit_store)
    assert (2, "replay differs in data") in problems(report)
    assert all("hash" not in p for _, p in problems(report))
    assert all(f.episode == e for f in report.failures)


def test_a_consistently_rewritten_invalid_dose_cannot_be_replayed(store: Store, audit_store: Store, url: str) -> None:
    """-5 mg would be refused at the edge: the replay validates each command as the CLI does."""
    e = every_kind(store)
    row = stored_rows(url, e)[2]
    assert '"dose_mg":560.0,' in row.payload
    rewrite(url, store, e, 3, row.payload.replace('"dose_mg":560.0,', '"dose_mg":-5.0,'))
    assert (3, "the event cannot be replayed (ValidationError)") in problems(audit.verify(audit_store))


@pytest.mark.parametrize("payload", ["[1, 2]", "null", '{"drug": "tocilizumab"} trailing'])
def test_a_consistently_rewritten_unreadable_payload_is_named(store: Store, audit_store: Store, url: str,
                                                               payload: str) -> None:
    e = every_kind(store)
    rewrite(url, store, e, 3, payload)
    found = problems(audit.verify(audit_store))
    assert (3, "the stored event cannot be read (edited)") in found
    assert all("tocilizumab" not in p for _, p in found)  # never quotes stored values


def test_a_large_store_verifies_in_order_with_every_count(store: Store, audit_store: Store, url: str) -> None:
    """More episodes than one page of the episode query: each once, in id order."""
    ids = sorted(open_episode(store, patient_ref=f"PT-{n}") for n in range(audit._PAGE + 3))
    victim = ids[audit._PAGE + 1]
    tamper(url, ("DELETE FROM event WHERE episode_id = ?", (ids[3],)))
    tamper(url, ("UPDATE event SET actor = 'x' WHERE episode_id = ?", (victim,)))
    report = audit.verify(audit_store)
    assert report.episodes == len(ids) and report.events == len(ids) - 1
    assert [f.episode for f in report.failures] == [ids[3], victim]
    assert problems(report) == [(None, "the episode has no events"), (1, "its content does not match its hash (edited)")]


# -- worker processes (large databases) ---------------------------------------------------------

@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="workers are forked on Linux only")
def test_worker_processes_give_the_same_report_in_the_same_order(store: Store, audit_store: Store, url: str,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Forced on for a small store (tiny batches, two workers): failures of every kind, in several
    batches and out of worker order, come back exactly as the in-process check reports them."""
    long = [every_kind(store) for _ in range(3)]
    ids = sorted(long + [open_episode(store, patient_ref=f"PT-{n}") for n in range(9)])
    rows = stored_rows(url, long[1])
    rewrite(url, store, long[1], 3, rows[2].payload.replace('"dose_mg":560.0,', '"dose_mg":5000.0,'))
    others = [e for e in ids if e not in long]
    tamper(url, ("DELETE FROM event WHERE episode_id = ? AND seq = 2", (long[2],)),
           ("UPDATE event SET actor = 'x' WHERE episode_id = ?", (others[3],)),
           ("UPDATE episode SET snapshot = '{}' WHERE id = ?", (others[-1],)))
    in_process = audit.verify(audit_store).as_json()
    assert len({f["episode"] for f in in_process["failures"]}) == 4

    spied: list[int] = []
    in_workers = audit._in_workers

    def spy(histories: Any, workers: int, redeciding: bool) -> Any:
        spied.append(workers)
        return in_workers(histories, workers, redeciding)

    monkeypatch.setattr(audit, "_in_workers", spy)
    monkeypatch.setattr(audit, "_cpus", lambda: 2)
    monkeypatch.setattr(audit, "PARALLEL_MIN_EVENTS", 10)
    monkeypatch.setattr(audit, "_BATCH_EVENTS", 4)
    assert audit.verify(audit_store).as_json() == in_process
    assert spied == [2]
    assert audit.verify(audit_store, long[1]).as_json()["episodes"] == 1 and spied == [2]  # one episode: in-process
    monkeypatch.setattr(audit, "PARALLEL_MIN_EVENTS", 10_000)
    assert audit.verify(audit_store).as_json() == in_process and spied == [2]  # below the threshold: in-process


def test_a_failure_inside_a_worker_is_raised_in_the_parent(store: Store, audit_store: Store,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    for n in range(4):
        open_episode(store, patient_ref=f"PT-{n}")

    def broken(*args: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(audit, "check_history", broken)  # forked workers inherit the patch
    monkeypatch.setattr(audit, "_cpus", lambda: 2)
    monkeypatch.setattr(audit, "PARALLEL_MIN_EVENTS", 1)
    with pytest.raises(RuntimeError, match="boom"):
        audit.verify(audit_store)
