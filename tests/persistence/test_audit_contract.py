"""`audit verify` and digests against tampering, on both backends; read-only audit on SQLite.

Tampering goes around the append-only triggers (see tests/support/tamper.py): the point is that
even someone who can do that cannot change the history without `verify` naming episode and seq.
"""

import hashlib
import os
from pathlib import Path

import pytest

from pathway.errors import Invalid, NotFound, Refused
from persistence import audit
from persistence.chain import link
from persistence.rows import dumps, snapshot_sha256, snapshot_text, time_text
from persistence.store import Store, reset_process_cache
from tests.support.steps import T0, give, minutes, observe, treated_episode
from tests.support.tamper import tamper

COLUMNS = "episode_id, seq, kind, at, recorded_at, actor, from_state, to_state, payload, override, prev_hash, hash"


def two_episodes(store: Store) -> tuple[str, str]:
    """The victim (five events) and a bystander that must stay clean in every report."""
    return treated_episode(store, patient_ref="PT-VICTIM"), treated_episode(store, patient_ref="PT-BYSTANDER")


def named(report: audit.VerifyReport) -> set[tuple[str, int | None]]:
    return {(f.episode, f.seq) for f in report.failures}


def assert_caught(report: audit.VerifyReport, victim: str, bystander: str, seq: int) -> None:
    assert not report.ok
    assert (victim, seq) in named(report), report.as_json()
    assert all(f.episode == victim for f in report.failures), report.as_json()
    assert report.as_json()["ok"] is False and report.episodes == 2


def test_an_untouched_store_verifies(store: Store, audit_store: Store) -> None:
    victim, _ = two_episodes(store)
    with pytest.raises(Refused):
        give(store, victim, T0 + minutes(50))  # refusals are in the refusal log's own chain, not an episode's
    report = audit.verify(audit_store)
    assert report.as_json() == {"ok": True, "episodes": 2, "events": 10, "refusals": 1, "earlier_pathway_events": 0, "failures": []}
    assert audit.verify(audit_store, victim).as_json()["episodes"] == 1
    with pytest.raises(NotFound):
        audit.verify(audit_store, "EZZZZZ")


def test_verify_detects_an_edited_event(store: Store, audit_store: Store, url: str) -> None:
    victim, bystander = two_episodes(store)
    tamper(url, ("UPDATE event SET payload = replace(payload, '38.5', '37.5') WHERE episode_id = ? AND seq = 2",
                 (victim,)))
    report = audit.verify(audit_store)
    assert_caught(report, victim, bystander, seq=2)
    assert any("does not match its hash" in f.problem for f in report.failures)


def test_verify_detects_an_edited_actor_or_time(store: Store, audit_store: Store, url: str) -> None:
    victim, bystander = two_episodes(store)
    tamper(url, ("UPDATE event SET actor = 'someone-else' WHERE episode_id = ? AND seq = 3", (victim,)),
           ("UPDATE event SET at = replace(at, 'T08:', 'T07:') WHERE episode_id = ? AND seq = 4", (victim,)))
    report = audit.verify(audit_store)
    assert_caught(report, victim, bystander, seq=3)
    assert (victim, 4) in named(report)


def test_verify_detects_a_deleted_event(store: Store, audit_store: Store, url: str) -> None:
    victim, bystander = two_episodes(store)
    tamper(url, ("DELETE FROM event WHERE episode_id = ? AND seq = 3", (victim,)))
    report = audit.verify(audit_store)
    assert_caught(report, victim, bystander, seq=3)
    assert any("missing" in f.problem for f in report.failures)


def test_verify_detects_reordered_events(store: Store, audit_store: Store, url: str) -> None:
    victim, bystander = two_episodes(store)
    tamper(url,
           ("UPDATE event SET seq = 1000 WHERE episode_id = ? AND seq = 3", (victim,)),
           ("UPDATE event SET seq = 3 WHERE episode_id = ? AND seq = 4", (victim,)),
           ("UPDATE event SET seq = 4 WHERE episode_id = ? AND seq = 1000", (victim,)))
    assert_caught(audit.verify(audit_store), victim, bystander, seq=3)


def test_verify_detects_an_inserted_event(store: Store, audit_store: Store, url: str) -> None:
    """A copy of seq 2 slipped in as seq 3, later events shifted up one (hashes copied as they were)."""
    victim, bystander = two_episodes(store)
    shifts = [(f"UPDATE event SET seq = {n + 1} WHERE episode_id = ? AND seq = {n}", (victim,)) for n in (5, 4, 3)]
    insert = (f"INSERT INTO event ({COLUMNS}) SELECT episode_id, 3, kind, at, recorded_at, actor, from_state, "
              "to_state, payload, override, prev_hash, hash FROM event WHERE episode_id = ? AND seq = 2", (victim,))
    tamper(url, *shifts, insert)
    assert_caught(audit.verify(audit_store), victim, bystander, seq=3)


def test_verify_detects_an_appended_event_even_with_a_valid_hash(store: Store, audit_store: Store, url: str) -> None:
    """Whoever knows the algorithm can extend a chain; the snapshot (and a digest) still disagree."""
    victim, bystander = two_episodes(store)
    last = store.history(victim)[-1]
    forged = last.event.model_copy(update={"seq": 6, "at": last.event.at + minutes(1), "data": {
        **last.event.data, "crs_grade": 0}})
    forged_hash = link(last.hash, forged.canonical())
    row = (victim, 6, forged.kind, "2025-03-01T08:41:00.000000+00:00", "2025-03-01T08:42:00.000000+00:00",
           forged.actor, forged.from_state, forged.to_state, dumps(forged.model_dump(mode="json")["data"]), None,
           last.hash, forged_hash)
    tamper(url, (f"INSERT INTO event ({COLUMNS}) VALUES ({', '.join('?' * 12)})", row))
    report = audit.verify(audit_store)
    assert_caught(report, victim, bystander, seq=6)


def test_verify_detects_an_edited_snapshot(store: Store, audit_store: Store, url: str) -> None:
    victim, bystander = two_episodes(store)
    snapshot = store.episode(victim).model_copy(update={"deviations": 3}).model_dump_json()
    tamper(url, ("UPDATE episode SET snapshot = ? WHERE id = ?", (snapshot, victim)))
    report = audit.verify(audit_store)
    assert_caught(report, victim, bystander, seq=5)
    assert any("snapshot" in f.problem for f in report.failures)


def test_verify_detects_an_unreadable_event(store: Store, audit_store: Store, url: str) -> None:
    victim, bystander = two_episodes(store)
    tamper(url, ("UPDATE event SET payload = '{not json' WHERE episode_id = ? AND seq = 4", (victim,)))
    assert_caught(audit.verify(audit_store), victim, bystander, seq=4)


def test_verify_replays_a_consistently_rewritten_chain(store: Store, audit_store: Store, url: str) -> None:
    """Rewrite the tocilizumab dose to 5000 mg and re-hash the whole tail and the snapshot: the
    chain and the snapshot agree, but the pathway refuses that dose on replay (pathway.replay)."""
    from pathway.episode import fold

    victim, bystander = two_episodes(store)
    history = store.history(victim)
    events = [s.event for s in history]
    assert events[2].kind == "give"
    events[2] = events[2].model_copy(update={"data": {**events[2].data, "dose_mg": 5000.0}})
    snapshot = fold(events)
    assert snapshot is not None
    # the head event records the forged snapshot's hash too (the strongest forgery: nothing but the replay objects)
    events[-1] = events[-1].model_copy(update={"snapshot_sha256": snapshot_sha256(snapshot_text(snapshot))})
    statements: list[tuple[str, tuple[object, ...]]] = []
    prev = history[1].hash
    for event in events[2:]:
        new_hash = link(prev, event.canonical())
        statements.append(("UPDATE event SET payload = ?, snapshot_sha256 = ?, prev_hash = ?, hash = ? "
                           "WHERE episode_id = ? AND seq = ?",
                           (dumps(event.model_dump(mode="json")["data"]), event.snapshot_sha256, prev, new_hash,
                            victim, event.seq)))
        prev = new_hash
    statements.append(("UPDATE episode SET snapshot = ?, head_hash = ? WHERE id = ?",
                       (snapshot_text(snapshot), prev, victim)))
    taken = audit.digest(audit_store)
    tamper(url, *statements)
    report = audit.verify(audit_store)
    assert_caught(report, victim, bystander, seq=3)
    assert all("hash" not in f.problem for f in report.failures)  # the chain itself is consistent
    assert (victim, 5) in named(audit.verify_digest(audit_store, taken))


def _truncate_tail(url: str, store: Store, episode_id: str, keep: int) -> None:
    """Cut the history after `keep` events and make the episode row agree (snapshot, head, updated_at): the chain
    alone is fine."""
    kept = store.history(episode_id)[:keep]
    from pathway.episode import fold

    snapshot = fold(s.event for s in kept)
    assert snapshot is not None
    tamper(url, ("DELETE FROM event WHERE episode_id = ? AND seq > ?", (episode_id, keep)),
           ("UPDATE episode SET version = ?, state = ?, snapshot = ?, head_hash = ?, updated_at = ? WHERE id = ?",
            (keep, str(snapshot.state), snapshot_text(snapshot), kept[-1].hash, time_text(kept[-1].event.recorded_at),
             episode_id)))


def test_digest_detects_tail_truncation_that_verify_cannot(store: Store, audit_store: Store, url: str) -> None:
    victim, bystander = two_episodes(store)
    taken = audit.digest(audit_store)
    assert taken["episodes"][victim] == {"seq": 5, "hash": store.history(victim)[-1].hash}
    observe(store, bystander, T0 + minutes(60))  # growth since the digest is fine
    assert audit.verify_digest(audit_store, taken).ok
    _truncate_tail(url, store, victim, keep=3)
    assert audit.verify(audit_store).ok  # the truncated chain is self-consistent...
    report = audit.verify_digest(audit_store, taken)  # ...but not with the digest
    assert not report.ok and named(report) == {(victim, 5)}
    assert "truncated" in report.failures[0].problem


def test_digest_detects_a_rewritten_tail(store: Store, audit_store: Store, url: str) -> None:
    victim, _ = two_episodes(store)
    taken = audit.digest(audit_store)
    _truncate_tail(url, store, victim, keep=4)
    observe(store, victim, T0 + minutes(45))  # a different fifth event, properly chained
    assert audit.verify(audit_store).ok
    report = audit.verify_digest(audit_store, taken)
    assert named(report) == {(victim, 5)} and "rewritten" in report.failures[0].problem


def test_digest_detects_a_whole_episode_removed(store: Store, audit_store: Store, url: str) -> None:
    victim, bystander = two_episodes(store)
    taken = audit.digest(audit_store)
    tamper(url, ("DELETE FROM event WHERE episode_id = ?", (victim,)), ("DELETE FROM episode WHERE id = ?", (victim,)))
    assert audit.verify(audit_store).ok  # nothing left to check...
    report = audit.verify_digest(audit_store, taken)  # ...but the digest remembers it
    assert named(report) == {(victim, 5)} and "missing" in report.failures[0].problem


def test_verify_detects_events_whose_episode_row_was_removed(store: Store, audit_store: Store, url: str) -> None:
    """Possible only with foreign keys off (SQLite's default for a raw connection; replica mode)."""
    victim, _ = two_episodes(store)
    tamper(url, ("DELETE FROM episode WHERE id = ?", (victim,)))
    report = audit.verify(audit_store)
    assert named(report) == {(victim, None)}


def test_a_malformed_digest_is_invalid(store: Store, audit_store: Store) -> None:
    for bad in ({}, {"format": "other"}, {"format": audit.DIGEST_FORMAT, "episodes": {"E1": {"seq": "x"}}}):
        with pytest.raises(Invalid):
            audit.verify_digest(audit_store, bad)


# -- read-only audit leaves SQLite byte-identical -----------------------------------------------

def _digest_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_audit_leaves_the_sqlite_file_byte_identical(tmp_path: Path) -> None:
    """The database file is byte-identical after an audit. SQLite cannot read a WAL database
    without its shared-memory index, so a `mode=ro` reader may create the `-shm` index and an
    empty `-wal` (no frames: nothing written); the next writer's last close removes both."""
    path = tmp_path / "crs.db"
    url = f"sqlite:///{path}"
    writer = Store.open(url)
    victim = treated_episode(writer)
    with pytest.raises(Refused):
        give(writer, victim, T0 + minutes(50))
    reset_process_cache()  # close every writer: the last close checkpoints and removes the WAL
    assert os.listdir(tmp_path) == ["crs.db"]
    before = _digest_file(path)

    auditor = Store.open(url, read_only=True)
    assert audit.verify(auditor).ok
    assert audit.verify_digest(auditor, audit.digest(auditor)).ok
    assert len(auditor.history(victim)) == 5 and len(auditor.refusals()) == 1 and auditor.episodes()
    reset_process_cache()

    assert _digest_file(path) == before
    wal = tmp_path / "crs.db-wal"
    assert not wal.exists() or wal.stat().st_size == 0
    writer = Store.open(url)  # and a writer carries on normally afterwards
    observe(writer, victim, T0 + minutes(60))
    reset_process_cache()
    assert os.listdir(tmp_path) == ["crs.db"]


# -- corrections, voids and late entries (issue 10) -------------------------------------------------------------

def _corrected_victim(store: Store) -> tuple[str, str]:
    """The victim's tocilizumab (seq 3, 560 mg) corrected to 500 mg (seq 6), then one more observation (seq 7)."""
    from pathway.commands import Correct
    from tests.support.steps import run

    victim, bystander = two_episodes(store)
    run(store, Correct(at=T0 + minutes(50), actor="dr-b", episode_id=victim, target_seq=3, reason="typo",
                       changes={"dose_mg": 500}), now=T0 + minutes(50))
    observe(store, victim, T0 + minutes(55))
    assert audit.verify(store).ok
    return victim, bystander


def _forge_900_mg(store: Store, url: str, victim: str) -> None:
    """The correction's payload rewritten to 900 mg (above the 616 mg ceiling for 70 kg) and the chain re-hashed
    from there on (seq 6 and 7): every hash agrees, only re-deciding the correction can find it."""
    from tests.support.tamper import forge_tail

    events = [s.event for s in store.history(victim)]
    correction = events[5]
    assert correction.kind == "correct" and correction.data["corrected"]["dose_mg"] == 500
    forged = correction.model_copy(update={"data": {**correction.data, "corrected": {
        **correction.data["corrected"], "dose_mg": 900.0}}})
    forge_tail(url, victim, 5, [forged, events[6]])


def test_verify_catches_a_forged_correction_the_pathway_would_refuse(store: Store, audit_store: Store,
                                                                      url: str) -> None:
    victim, bystander = _corrected_victim(store)
    _forge_900_mg(store, url, victim)
    report = audit.verify(audit_store)
    assert not report.ok and {f.episode for f in report.failures} == {victim}, report.as_json()
    assert {f.seq for f in report.failures} <= {6, 7}  # somewhere in the forged tail (see the next test)
    assert all("hash" not in f.problem and "900" not in f.problem for f in report.failures), report.as_json()


def test_verify_names_the_forged_correction_itself_and_its_rule(store: Store, audit_store: Store, url: str) -> None:
    victim, bystander = _corrected_victim(store)
    _forge_900_mg(store, url, victim)
    report = audit.verify(audit_store)
    assert_caught(report, victim, bystander, seq=6)
    assert any(f.seq == 6 and "TOCI_DOSE_MAX" in f.problem for f in report.failures), report.as_json()


@pytest.mark.parametrize(("seq", "value"), [(6, 4), (6, None), (2, 1)], ids=["wrong target", "cleared", "on an observe"])
def test_verify_catches_a_target_seq_column_that_disagrees_with_the_payload(store: Store, audit_store: Store, url: str,
                                                                           seq: int, value: int | None) -> None:
    """target_seq is outside the hash (an index of data.target_seq): verify compares the two."""
    victim, bystander = _corrected_victim(store)
    tamper(url, ("UPDATE event SET target_seq = ? WHERE episode_id = ? AND seq = ?", (value, victim, seq)))
    report = audit.verify(audit_store)
    assert_caught(report, victim, bystander, seq=seq)
    assert named(report) == {(victim, seq)}
    assert "target_seq column does not match" in report.failures[0].problem


@pytest.mark.parametrize("target", [99, 6, 1], ids=["missing", "itself", "the open"])
def test_verify_catches_a_void_whose_target_does_not_stand(store: Store, audit_store: Store, url: str,
                                                          target: int) -> None:
    """A void appended with a valid hash (and the snapshot row pointed at it) of an event that does not exist,
    of itself, or of the open: the chain is fine, the replay names the void."""
    from pathway.events import Event
    from tests.support.tamper import forge_tail

    victim, bystander = two_episodes(store)
    last = store.history(victim)[-1].event
    void = Event(episode_id=victim, seq=6, kind="void", at=last.at, recorded_at=last.recorded_at + minutes(5),
                 actor="dr-b", from_state=last.to_state, to_state=last.to_state,
                 data={"target_seq": target, "target_kind": "give", "reason": "entered in error"})
    forge_tail(url, victim, 5, [void])
    report = audit.verify(audit_store)
    assert_caught(report, victim, bystander, seq=6)
    assert all("hash" not in f.problem and "target_seq column" not in f.problem for f in report.failures)


def test_verify_catches_a_forged_late_dose_inside_the_8_hour_window(store: Store, audit_store: Store,
                                                                   url: str) -> None:
    """A late tocilizumab dose 5 minutes before the recorded one, hashed onto the chain: the pathway would
    have refused it (TOCI_MIN_INTERVAL, the recorded dose breaking), so verify names it."""
    from tests.support.tamper import forge_tail

    victim, bystander = two_episodes(store)
    events = [s.event for s in store.history(victim)]
    dose = events[2]
    late = dose.model_copy(update={"seq": 6, "at": dose.at - minutes(5), "recorded_at": events[-1].recorded_at
                                   + minutes(5), "from_state": events[-1].to_state, "to_state": events[-1].to_state,
                                   "data": {**dose.data, "late": True, "late_reason": "charted late"}})
    forge_tail(url, victim, 5, [late])
    report = audit.verify(audit_store)
    assert_caught(report, victim, bystander, seq=6)
    assert any(f.seq == 6 and "TOCI_MIN_INTERVAL" in f.problem for f in report.failures), report.as_json()


def test_verify_catches_a_correction_removed_and_the_chain_re_hashed(store: Store, audit_store: Store,
                                                                    url: str) -> None:
    """Dropping the correction (seq 6) and re-chaining the tail leaves a self-consistent chain whose snapshot
    still holds the correction's count and dose: the replay no longer makes the stored snapshot."""
    from tests.support.tamper import forge_tail

    victim, bystander = _corrected_victim(store)
    events = [s.event for s in store.history(victim)]
    taken = audit.digest(audit_store)
    shifted = events[6].model_copy(update={"seq": 6})
    forge_tail(url, victim, 5, [shifted])
    report = audit.verify(audit_store)
    assert_caught(report, victim, bystander, seq=6)
    assert any("snapshot" in f.problem for f in report.failures), report.as_json()
    assert (victim, 7) in named(audit.verify_digest(audit_store, taken))
