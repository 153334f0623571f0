"""Signed checkpoints and the verify that reads everything it vouches for (HAZARDS H19), on both backends.

Every forgery of tests/support/forgeries.py is built the strongest way (re-decided by the pathway,
re-hashed with persistence/rows.py, the refusal log re-chained) after a checkpoint was taken: plain
verify catches what the database alone can show; verify with the checkpoint catches every one.
"""

import importlib.util
import re
from pathlib import Path
from typing import Any

import pytest

from pathway.errors import IntegrityError, Invalid, Refused, UntrustedRecord
from persistence import audit, checkpoint, triggers
from persistence.store import Store
from tests.support import forgeries
from tests.support.forgeries import (AFTER, BACKDATED, BYSTANDER_REF, CHECKPOINT_AT, VICTIM_REF, build_scene,
                                     checkpoint_of, episode_id, grow)
from tests.support.steps import T0, give, minutes, observe
from tests.support.tamper import tamper

MIGRATIONS = Path(__file__).resolve().parents[2] / "persistence" / "migrations" / "versions"


def caught(report: audit.VerifyReport) -> bool:
    return not report.ok


def problems(report: audit.VerifyReport) -> list[str]:
    return [f.problem for f in report.failures]


# -- the file: signed, exact, with its own key ---------------------------------------------------------------

def _signed_text(store: Store) -> tuple[bytes, Any]:
    report, body = checkpoint.take(store, CHECKPOINT_AT)
    assert body is not None and report.ok
    key = checkpoint.generate_key()
    return checkpoint.text_of(checkpoint.sign(body, key)).encode("utf-8"), key


def test_a_checkpoint_holds_every_head_and_reads_back(store: Store, audit_store: Store) -> None:
    scene = build_scene(store)
    text, key = _signed_text(audit_store)
    read = checkpoint.read(text, key.public_key())
    assert read.episodes == {e: (5, store.history(e)[-1].hash) for e in (scene.victim, scene.bystander)}
    assert read.refusals[0] == 3 and read.events == 10 and read.backend == store.backend and read.schema == "0003"
    assert read.taken_at == CHECKPOINT_AT and read.complete_through == CHECKPOINT_AT - checkpoint.IN_FLIGHT
    assert read.public_key == checkpoint.fingerprint(key.public_key())
    assert checkpoint.verify_checkpoint(audit_store, read).ok


def test_a_checkpoint_edited_by_one_byte_fails(store: Store, audit_store: Store) -> None:
    """Every byte of the file, changed: the format, the layout or the signature objects (exit 5), never a pass."""
    build_scene(store)
    text, key = _signed_text(audit_store)
    for index in range(len(text)):
        edited = bytearray(text)
        edited[index] = ord("1") if text[index] != ord("1") else ord("2")
        with pytest.raises(IntegrityError):
            checkpoint.read(bytes(edited), key.public_key())
    with pytest.raises(IntegrityError):
        checkpoint.read(text + b"\n", key.public_key())


def test_verify_with_the_wrong_public_key_fails(store: Store, audit_store: Store) -> None:
    """The key is given separately: a checkpoint re-signed by someone else's key (its fingerprint made to match
    theirs) is refused, and so is the right checkpoint under another key."""
    build_scene(store)
    text, key = _signed_text(audit_store)
    other = checkpoint.generate_key()
    with pytest.raises(IntegrityError, match="another key"):
        checkpoint.read(text, other.public_key())
    _, body = checkpoint.take(audit_store, CHECKPOINT_AT)
    assert body is not None
    forged = checkpoint.text_of(checkpoint.sign(body, other)).encode("utf-8")
    with pytest.raises(IntegrityError):
        checkpoint.read(forged, key.public_key())
    with pytest.raises(IntegrityError, match="not an Ed25519 public key"):
        checkpoint.load_public_key(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "k.pub")
    with pytest.raises(Invalid):
        checkpoint.load_private_key(b"not a key", "k")


def test_checkpoint_refuses_a_database_that_does_not_verify(store: Store, audit_store: Store, url: str) -> None:
    scene = build_scene(store)
    tamper(url, ("UPDATE event SET actor = 'x' WHERE episode_id = ? AND seq = 2", (scene.victim,)))
    report, body = checkpoint.take(audit_store, CHECKPOINT_AT)
    assert body is None and not report.ok and report.failures[0].episode == scene.victim


def test_a_database_that_only_grew_passes(store: Store, audit_store: Store) -> None:
    build_scene(store)
    taken, _ = checkpoint_of(audit_store)
    new = grow(store)
    for incremental in (False, True):
        report = checkpoint.verify_checkpoint(audit_store, taken, incremental=incremental)
        assert report.ok, report.as_json()
        assert report.episodes == 3 and report.refusals == 4
    assert new not in taken.episodes


def test_an_empty_database_checkpoints_and_then_grows(store: Store, audit_store: Store) -> None:
    taken, _ = checkpoint_of(audit_store, T0)
    assert taken.episodes == {} and taken.refusals == (0, audit.GENESIS)
    build_scene(store)  # recorded after T0: growth
    assert checkpoint.verify_checkpoint(audit_store, taken).ok


def test_a_step_in_flight_when_the_checkpoint_was_read_is_growth_not_forgery(store: Store, audit_store: Store) -> None:
    """A step stamps recorded_at before it commits: one that lands after the checkpoint was read with a
    recorded_at up to IN_FLIGHT before taken_at passes; one recorded earlier than that is backdated."""
    scene = build_scene(store)
    taken, _ = checkpoint_of(audit_store)
    margin = checkpoint.IN_FLIGHT
    from tests.support.steps import run
    from pathway.commands import RecordObservation
    from pathway.observations import Observation

    def observe_recorded(episode: str, recorded_at: Any) -> None:
        run(store, RecordObservation(at=recorded_at - minutes(1), actor="tester", episode_id=episode,
                                     observation=Observation(temp_c=37.0)), now=recorded_at)

    observe_recorded(scene.victim, CHECKPOINT_AT - margin / 2)
    assert checkpoint.verify_checkpoint(audit_store, taken).ok
    observe_recorded(scene.bystander, CHECKPOINT_AT - margin - minutes(1))
    report = checkpoint.verify_checkpoint(audit_store, taken)
    assert [(f.episode, f.seq) for f in report.failures] == [(scene.bystander, 6)]
    assert "backdated" in report.failures[0].problem


# -- every forgery after a checkpoint: plain verify, verify with the checkpoint, a step ---------------------------

PHI = re.compile(r"PT-|dr-house|Gregory|nothing happened|forged refusal|SOMEONE", re.IGNORECASE)


@pytest.mark.parametrize("name", sorted(forgeries.FORGERIES))
def test_each_forgery_after_a_checkpoint(store: Store, audit_store: Store, url: str, name: str) -> None:
    """The forgery's documented outcome, exactly: plain verify catches it or not as it says, verify with the
    checkpoint (full and incremental) always does, a step on its episode is refused or not as it says, and no
    problem quotes a stored value."""
    forge = forgeries.FORGERIES[name]
    build_scene(store)
    taken, _ = checkpoint_of(audit_store)
    assert audit.verify(audit_store).ok
    target = forge(url, store)
    plain = audit.verify(audit_store)
    assert caught(plain) is forge.caught_by_plain, plain.as_json()  # type: ignore[attr-defined]
    for incremental in (False, True):
        anchored = checkpoint.verify_checkpoint(audit_store, taken, incremental=incremental)
        assert caught(anchored), (incremental, anchored.as_json())
        assert not any(PHI.search(p) for p in problems(anchored)), anchored.as_json()
    if target is not None:
        try:
            observe(store, target, AFTER)
        except UntrustedRecord:
            refused = True
        else:
            refused = False
        assert refused is forge.caught_at_step  # type: ignore[attr-defined]
    else:
        assert not forge.caught_at_step  # type: ignore[attr-defined]


# -- the findings of the review, each by name (every one passed the previous release's verify) -----------------

def _after_checkpoint(store: Store, audit_store: Store, url: str, name: str) -> tuple[audit.VerifyReport,
                                                                                       audit.VerifyReport]:
    build_scene(store)
    taken, _ = checkpoint_of(audit_store)
    forgeries.FORGERIES[name](url, store)
    return audit.verify(audit_store), checkpoint.verify_checkpoint(audit_store, taken)


def test_refusal_log_edit_fails_verify(store: Store, audit_store: Store, url: str) -> None:
    plain, anchored = _after_checkpoint(store, audit_store, url, "refusal_edited")
    assert [(f.episode, f.refusal) for f in plain.failures] == [(None, 2)]
    assert "refusal log: entry 2 does not match its hash" in plain.failures[0].problem
    assert caught(anchored)


def test_refusal_log_delete_fails_verify(store: Store, audit_store: Store, url: str) -> None:
    build_scene(store)
    tamper(url, ("DELETE FROM refusal WHERE seq = 2", ()))
    report = audit.verify(audit_store)
    assert any("entry 2 missing (deleted)" in p for p in problems(report)), report.as_json()


def test_refusal_log_insert_fails_verify(store: Store, audit_store: Store, url: str) -> None:
    """A row slipped in beside the chain (no seq), and one given a place in it without re-chaining."""
    build_scene(store)
    columns = "at, recorded_at, actor, episode_id, kind, command, rule, rules, message, login"
    tamper(url, (f"INSERT INTO refusal ({columns}) SELECT {columns} FROM refusal WHERE seq = 1", ()))
    report = audit.verify(audit_store)
    assert any("no place in the chain" in p for p in problems(report)), report.as_json()


def test_refusal_log_re_chained_edit_delete_insert_fail_verify_with_a_checkpoint(store: Store, audit_store: Store,
                                                                                url: str) -> None:
    for name in ("refusal_edited_rechained", "refusal_deleted_rechained", "refusal_inserted_rechained"):
        plain, anchored = _after_checkpoint(store, audit_store, url, name)
        assert plain.ok and caught(anchored), (name, anchored.as_json())
        assert all(f.problem.startswith("refusal log: ") for f in anchored.failures)
        tamper(url, "DELETE FROM refusal", "DELETE FROM event", "DELETE FROM episode")


def test_fabricated_episode_fails_verify_with_a_checkpoint(store: Store, audit_store: Store, url: str) -> None:
    build_scene(store)
    taken, _ = checkpoint_of(audit_store)
    digest = audit.digest(audit_store)
    fabricated = forgeries.episode_fabricated(url, store)
    assert audit.verify(audit_store).ok and audit.verify_digest(audit_store, digest).ok
    report = checkpoint.verify_checkpoint(audit_store, taken)
    assert [(f.episode, f.seq) for f in report.failures] == [(fabricated, 1)]
    assert "not in the checkpoint" in report.failures[0].problem


def test_event_appended_with_a_backdated_recorded_at_fails_verify_with_a_checkpoint(store: Store, audit_store: Store,
                                                                                   url: str) -> None:
    build_scene(store)
    taken, _ = checkpoint_of(audit_store)
    digest = audit.digest(audit_store)
    forgeries.event_appended_backdated(url, store)
    assert audit.verify(audit_store).ok and audit.verify_digest(audit_store, digest).ok
    report = checkpoint.verify_checkpoint(audit_store, taken)
    assert [(f.episode, f.seq) for f in report.failures] == [(episode_id(store, BYSTANDER_REF), 6)]
    assert "backdated" in report.failures[0].problem


@pytest.mark.parametrize("name", ["triggers_dropped", "trigger_disabled", "trigger_function_replaced"])
def test_dropped_or_disabled_append_only_triggers_fail_verify(store: Store, audit_store: Store, url: str,
                                                             name: str) -> None:
    build_scene(store)
    forgeries.FORGERIES[name](url, store)
    report = audit.verify(audit_store)
    assert caught(report) and all(f.episode is None and "trigger" in f.problem for f in report.failures)
    assert any("event_no_update" in p or "event_append_only" in p for p in problems(report)), report.as_json()


def test_a_trigger_enabled_only_for_replication_fails_verify(store: Store, audit_store: Store, url: str) -> None:
    if store.backend != "postgresql":
        pytest.skip("ENABLE REPLICA TRIGGER is PostgreSQL's")
    from tests.support.tamper import raw_connect

    conn = raw_connect(url)
    conn.execute("ALTER TABLE refusal ENABLE REPLICA TRIGGER refusal_append_only")
    conn.commit()
    conn.close()
    assert problems(audit.verify(audit_store)) == [
        "trigger refusal_append_only on refusal is disabled: the record is no longer append-only"]


@pytest.mark.parametrize("name", ["patient_ref_edited", "policy_json_edited", "policy_version_edited",
                                  "opened_at_edited", "updated_at_edited"])
def test_episode_row_columns_edited_fail_verify(store: Store, audit_store: Store, url: str, name: str) -> None:
    """patient_ref and policy_json passed the previous release's verify (it never read them); so did the others."""
    build_scene(store)
    forgeries.FORGERIES[name](url, store)
    report = audit.verify(audit_store)
    victim = episode_id(store, VICTIM_REF)
    assert caught(report) and {f.episode for f in report.failures} == {victim}, report.as_json()
    assert all("episode row" in p and "(edited)" in p for p in problems(report))


def test_a_login_column_edited_fails_the_hash(store: Store, audit_store: Store, url: str) -> None:
    build_scene(store)
    forgeries.login_edited(url, store)
    report = audit.verify(audit_store)
    victim = episode_id(store, VICTIM_REF)
    assert [(f.episode, f.seq) for f in report.failures] == [(victim, 3)]
    assert "does not match its hash" in report.failures[0].problem


def test_a_snapshot_sha256_column_edited_fails_the_hash(store: Store, audit_store: Store, url: str) -> None:
    build_scene(store)
    victim = episode_id(store, VICTIM_REF)
    tamper(url, ("UPDATE event SET snapshot_sha256 = ? WHERE episode_id = ? AND seq = 2", ("0" * 64, victim)))
    assert [(f.episode, f.seq) for f in audit.verify(audit_store).failures] == [(victim, 2)]


# -- incremental verify ---------------------------------------------------------------------------------------

def _count_redecided(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Spy on the pathway's re-deciding as audit's replay calls it (in-process: one CPU)."""
    import pathway.replay as replaying

    seen: list[int] = []
    real_redecide = replaying.redecide

    def redecide(episode: Any, event: Any, expected_seq: int, before: Any = ()) -> Any:
        seen.append(event.seq)
        return real_redecide(episode, event, expected_seq, before)

    monkeypatch.setattr(replaying, "redecide", redecide)
    monkeypatch.setattr(audit, "_cpus", lambda: 1)
    return seen


def test_incremental_verify_re_decides_only_what_came_after_the_checkpoint(store: Store, audit_store: Store,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    build_scene(store)
    taken, _ = checkpoint_of(audit_store)
    grow(store)  # the victim: one event more (seq 6); a new episode (seq 1)
    seen = _count_redecided(monkeypatch)
    assert checkpoint.verify_checkpoint(audit_store, taken, incremental=True).ok
    assert sorted(seen) == [1, 6]  # the bystander, unchanged: nothing re-decided, nothing folded
    seen.clear()
    assert checkpoint.verify_checkpoint(audit_store, taken).ok
    assert len(seen) == 5 + 6 + 1  # full: every event


def test_incremental_verify_names_a_forged_event_after_the_checkpoint_as_full_verify_does(
        store: Store, audit_store: Store, url: str) -> None:
    """A 5000 mg dose appended after the checkpoint, hashed and recorded after it: the replay of what came
    after still names it, with its rule, in both modes."""
    from tests.support.tamper import forge_tail

    build_scene(store)
    taken, _ = checkpoint_of(audit_store)
    victim = episode_id(store, VICTIM_REF)
    events = [s.event for s in store.history(victim)]
    dose = events[2].model_copy(update={"seq": 6, "at": AFTER, "recorded_at": AFTER + minutes(1),
                                        "data": {**events[2].data, "dose_mg": 5000.0}})
    forge_tail(url, victim, 5, [dose])
    full = checkpoint.verify_checkpoint(audit_store, taken)
    incremental = checkpoint.verify_checkpoint(audit_store, taken, incremental=True)
    assert full.as_json() == incremental.as_json()
    assert any(f.episode == victim and f.seq == 6 and "TOCI" in f.problem for f in full.failures), full.as_json()


def test_incremental_verify_re_decides_in_full_an_episode_that_does_not_extend_the_checkpoint(
        store: Store, audit_store: Store, url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    build_scene(store)
    taken, _ = checkpoint_of(audit_store)
    forgeries.event_edited_rehashed(url, store)
    seen = _count_redecided(monkeypatch)
    report = checkpoint.verify_checkpoint(audit_store, taken, incremental=True)
    assert caught(report) and sorted(seen) == [1, 2, 3, 4, 5]  # the victim in full; the bystander not at all


@pytest.mark.parametrize(("seq", "value"), [(6, 4), (6, None), (2, 1)], ids=["wrong target", "cleared", "on an observe"])
def test_incremental_verify_still_reads_every_column_of_an_unchanged_episode(store: Store, audit_store: Store,
                                                                            url: str, seq: int, value: Any) -> None:
    """An episode unchanged since the checkpoint is neither re-decided nor folded, but its target_seq column
    (outside the hash) is still compared with the payload, as a full verify does."""
    from pathway.commands import Correct
    from tests.support.steps import run

    build_scene(store)
    victim = episode_id(store, VICTIM_REF)
    run(store, Correct(at=T0 + minutes(58), actor="dr-b", episode_id=victim, target_seq=3, reason="typo",
                       changes={"dose_mg": 500}), now=T0 + minutes(59))
    taken, _ = checkpoint_of(audit_store)
    tamper(url, ("UPDATE event SET target_seq = ? WHERE episode_id = ? AND seq = ?", (value, victim, seq)))
    for incremental in (False, True):
        report = checkpoint.verify_checkpoint(audit_store, taken, incremental=incremental)
        assert [(f.episode, f.seq) for f in report.failures] == [(victim, seq)], report.as_json()
        assert "target_seq column does not match" in report.failures[0].problem


def test_checkpoint_verify_in_worker_processes_gives_the_same_report(store: Store, audit_store: Store, url: str,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    build_scene(store)
    taken, _ = checkpoint_of(audit_store)
    grow(store)
    forgeries.event_appended_backdated(url, store)
    forgeries.episode_fabricated(url, store)
    forgeries.refusal_edited(url, store)
    expected = {incremental: checkpoint.verify_checkpoint(audit_store, taken, incremental=incremental).as_json()
                for incremental in (False, True)}
    assert not expected[False]["ok"] and expected[False] == expected[True]
    monkeypatch.setattr(audit, "_cpus", lambda: 2)
    monkeypatch.setattr(audit, "PARALLEL_MIN_EVENTS", 1)
    monkeypatch.setattr(audit, "_BATCH_EVENTS", 3)
    for incremental in (False, True):
        assert checkpoint.verify_checkpoint(audit_store, taken, incremental=incremental).as_json() == expected[False]


# -- the refusal chain, the triggers: as the migrations make them ------------------------------------------------

def test_a_fresh_refusal_log_chains_and_verifies(store: Store, audit_store: Store) -> None:
    build_scene(store)
    with pytest.raises(Refused):
        give(store, episode_id(store, VICTIM_REF), BACKDATED)
    report = audit.verify(audit_store)
    assert report.ok and report.refusals == 4 and report.refusal_head[0] == 4


def _migration(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"crs_migration_{name}", MIGRATIONS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_verify_knows_every_trigger_exactly_as_the_migrations_create_it() -> None:
    """The definitions verify compares the database's triggers with are the migrations' own statements, and
    cover every trigger of persistence/triggers.py (a new migration's trigger must be added to both)."""
    initial, trusted = _migration("0001_initial"), _migration("0003_trusted_record")
    sqlite = {audit.collapsed(sql) for sql in initial.SQLITE_TRIGGERS + trusted.SQLITE_TRIGGERS}
    assert {audit.collapsed(sql) for sql in audit.SQLITE_TRIGGER_SQL.values()} == sqlite
    assert set(audit.SQLITE_TRIGGER_SQL) == set(triggers.SQLITE)
    assert set(audit.POSTGRES_TRIGGER_DEFS) == set(triggers.POSTGRES)
    statements = [audit.collapsed(s) for s in initial.POSTGRES_TRIGGERS + trusted.POSTGRES_TRIGGERS]
    bodies = {m[1]: audit.collapsed(m[2]) for s in statements
              if (m := re.match(r"CREATE FUNCTION (\w+)\(\) RETURNS trigger LANGUAGE plpgsql AS \$\$(.*)\$\$", s))}
    assert bodies == audit.POSTGRES_FUNCTION_BODIES
    for (table, name), (tgtype, function) in audit.POSTGRES_TRIGGER_DEFS.items():
        created = next(s for s in statements if s.startswith(f"CREATE TRIGGER {name} "))
        assert f" ON {table} " in created and created.endswith(f"EXECUTE FUNCTION {function}()")
        assert ("FOR EACH ROW" in created) is bool(tgtype & 1)
        events = {"INSERT": 4, "DELETE": 8, "UPDATE": 16, "TRUNCATE": 32}
        assert sum(bit for word, bit in events.items() if f" {word} " in created) == tgtype & 60


def test_a_fresh_database_has_every_trigger_in_place(store: Store, audit_store: Store) -> None:
    assert audit.verify(audit_store).ok  # check_triggers found all of them, as defined
    with audit_store.reading() as reader:
        assert audit.check_triggers(reader) == []
