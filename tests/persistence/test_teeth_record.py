"""Teeth for the controls of the trusted record (HAZARDS H15, H17-H21, H23): switch ONE control off, the evidence fails.

Each test switches one control off in this process with monkeypatch (undone after the test; the source is
never edited), runs the evidence for it (the evidence test's own body where it runs in-process, else the
same check it makes) on a real database, and shows that the evidence then FAILS (AssertionError, or
pytest.raises' "DID NOT RAISE") and that the unsafe thing happens; then, the patch undone, the same evidence
on a fresh database passes, so no teeth test can pass vacuously. Tests taking `new_database` run on a
real SQLite file and on a real PostgreSQL database (the session's server, tests/support/postgres.py).

Where the evidence runs real `crs` processes or a second OS user, a subprocess would import the code afresh,
control on; the check runs instead in a forked child of this process (tests/support/forked.py), which keeps
the monkeypatch and is a real process: one that takes another user's uid, or is SIGKILLed mid-step.

| hazard | test                                        | control switched off                                          |
| ------ | ------------------------------------------- | ------------------------------------------------------------- |
| H15    | test_teeth_h15_step_time_snapshot_check     | persistence.unit_of_work.SqlUnitOfWork.load: the O(1) head    |
|        |                                             | check (_check_head, the snapshot SHA-256)                     |
| H15    | test_teeth_h15_fold_check_for_old_heads     | SqlUnitOfWork._folded (a pre-0003 head: checked on the fold)  |
| H17    | test_teeth_h17_read_only_sqlite_opens       | persistence.database.snapshot_connection (sqlite_readers.py):  |
|        | (and ..._by_another_os_user)                | the live file opened the ordinary way (`mode=ro`)             |
| H18    | test_teeth_h18_login_stamping               | persistence.identity.os_login (from $USER instead of the euid)|
| H18    | test_teeth_h18_postgres_login_trigger       | the crs_*_authenticated trigger functions (migration 0003)    |
| H19    | test_teeth_h19_checkpoint_signature         | persistence.checkpoint.read's key and signature checks        |
| H19    | test_teeth_h19_checkpoint_extension[...]    | one check of checkpoint._Extension at a time                  |
| H19    | test_teeth_h19_refusal_chain                | persistence.audit.check_refusals                              |
| H19    | test_teeth_h19_trigger_check[...]           | persistence.audit.check_triggers                              |
| H21    | test_teeth_h21_lost_connection_mapping      | [the-mapping] SqlUnitOfWork._failed: a lost connection ->     |
|        |                                             | Conflict (exit 3); [the-cleanup-guard] SqlUnitOfWork.__exit__ |
|        |                                             | never cleans up an invalidated connection                     |
| H21    | test_teeth_h21_one_transaction_per_step     | SqlUnitOfWork._run: each statement committed on its own       |
| H23    | test_teeth_h23_absent_stamps_left_out_...   | pathway.events.Event.canonical + persistence.rows._splice     |
|        |                                             | (an absent stamp written as null: old hashes change)          |
| H23    | test_teeth_h23_stored_policy_read_as_stored | pathway.policy.Policy: the policy-file check applied to a     |
|        |                                             | stored policy too                                             |

H20 (corrections are new events) has its teeth in tests/properties/test_teeth_issue10.py (edit-in-place:
the CHAIN invariant). H23's "replay by the version that decided": test_teeth_h23_replay_by_the_version_that_decided
(pathway.replay.decided_version taken as today's for every event: a rule change then fails the clean record).
"""

import itertools
import json
import os
import pwd
import signal
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy.engine import make_url

from pathway.errors import Conflict, Invalid, NotFound, Refused
from persistence import audit, checkpoint, database, identity, rows, unit_of_work
from persistence.sqlite_readers import SnapshotConnection
from persistence.store import Store, reset_process_cache
from persistence.unit_of_work import SqlUnitOfWork
from tests.persistence import test_checkpoint as checkpoint_evidence
from tests.persistence import test_snapshot_bound as snapshot_evidence
from tests.persistence import test_upgrade as upgrade_evidence
from tests.persistence.conftest import BACKENDS
from tests.support import forgeries
from tests.support.forked import kill_self, run_forked
from tests.support.forgeries import CHECKPOINT_AT, build_scene, checkpoint_of
from tests.support.os_users import reachable_folder, system_user
from tests.support.steps import T0, act, give, minutes, observe, open_episode, treated_episode
from tests.support.tamper import event_rows

#: What a failed evidence check raises: an assert, or pytest.raises' "DID NOT RAISE".
EVIDENCE_FAILS = (AssertionError, pytest.fail.Exception)


@pytest.fixture(autouse=True)
def _fresh_engines() -> Iterator[None]:
    """Each run opens its databases as a new process would (no engine or schema check carried over)."""
    reset_process_cache()
    yield
    reset_process_cache()


@pytest.fixture(params=BACKENDS)
def new_database(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], str]:
    """A maker of fresh, empty databases of one backend: a new SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        counter = itertools.count()
        return lambda: f"sqlite:///{tmp_path / f'crs-{next(counter)}.db'}"
    return request.getfixturevalue("postgres_server").create_database  # type: ignore[no-any-return]


@contextmanager
def opened(url: str) -> Iterator[tuple[Store, Store]]:
    """The database as the care team opens it (writable) and as `crs audit` does (read-only)."""
    store = Store.open(url)
    audit_store = Store.open(url, read_only=True)
    try:
        yield store, audit_store
    finally:
        audit_store.close()
        store.close()
        reset_process_cache()


# -- H15: a step decides only on a snapshot checked against the chain -----------------------------------------

def _unchecked_load(self: SqlUnitOfWork, episode_id: str) -> Any:
    """The regression: the snapshot row trusted as it stands (no head check, no snapshot hash, no fold)."""
    row = self._run(self._sql.load, {"id": episode_id}).fetchone()
    if row is None:
        raise NotFound(f"no episode {episode_id}")
    version, head_hash, snapshot = row[:3]
    self._heads[episode_id] = (version, head_hash)
    return unit_of_work.read_snapshot(snapshot, episode_id)


def test_teeth_h15_step_time_snapshot_check(new_database: Callable[[], str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Disables persistence.unit_of_work.SqlUnitOfWork.load's O(1) check of the snapshot against the chain head
    (_check_head and the snapshot SHA-256 the head event recorded, which raise UntrustedRecord): the third
    tocilizumab dose, 15 minutes after the second, is accepted on the snapshot whose doses were deleted."""
    monkeypatch.setattr(SqlUnitOfWork, "load", _unchecked_load)
    url = new_database()
    with opened(url) as (store, audit_store):
        with pytest.raises(EVIDENCE_FAILS, match="DID NOT RAISE"):
            snapshot_evidence.test_a_third_dose_after_the_doses_were_deleted_from_the_snapshot_is_refused(store, url)
        (episode,) = store.episodes()
        doses = [s.event for s in store.history(episode.id) if s.event.kind == "give"]
        assert [e.data["drug"] for e in doses] == ["tocilizumab"] * 3, "the forged-snapshot third dose is recorded"
        assert not audit.verify(audit_store, episode.id).ok

    monkeypatch.undo()
    url = new_database()
    with opened(url) as (store, _):
        snapshot_evidence.test_a_third_dose_after_the_doses_were_deleted_from_the_snapshot_is_refused(store, url)


def test_teeth_h15_fold_check_for_old_heads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Disables persistence.unit_of_work.SqlUnitOfWork._folded (a head event from before schema 0003 records no
    snapshot hash, so the step folds the verified history and compares): a forged snapshot of the upgraded
    0.1.0 fixture is stepped on."""
    monkeypatch.setattr(SqlUnitOfWork, "_folded",
                        lambda self, episode_id, version, snapshot, head: unit_of_work.read_snapshot(snapshot,
                                                                                                     episode_id))
    (tmp_path / "off").mkdir()
    with pytest.raises(EVIDENCE_FAILS, match="DID NOT RAISE"):
        snapshot_evidence.test_a_forged_snapshot_on_an_upgraded_database_is_refused_by_the_fold(tmp_path / "off")

    monkeypatch.undo()
    reset_process_cache()
    (tmp_path / "on").mkdir()
    snapshot_evidence.test_a_forged_snapshot_on_an_upgraded_database_is_refused_by_the_fold(tmp_path / "on")


# -- H17: audits never leave files that block the care team ----------------------------------------------------

def _ordinary_open(path: Path, timeout_s: float) -> SnapshotConnection:
    """The previous release's read-only open: the live file with `mode=ro` (SQLite then makes -wal/-shm)."""
    connection = sqlite3.connect(f"file:{quote(os.path.realpath(path))}?mode=ro", uri=True, timeout=timeout_s,
                                 check_same_thread=False, factory=SnapshotConnection)
    assert isinstance(connection, SnapshotConnection)
    return connection


def _quiet_database(folder: Path) -> tuple[str, str]:
    """A database with one episode and no side files (every writer closed): (url, episode id)."""
    url = f"sqlite:///{folder / 'crs.db'}"
    writer = Store.open(url)
    try:
        episode = open_episode(writer)
    finally:
        writer.close()
        reset_process_cache()
    assert sorted(os.listdir(folder)) == ["crs.db"]
    return url, episode


def _read_only_audit(url: str, episode: str) -> tuple[bool, int]:
    """What `crs audit verify` and `crs history` do: (verify ok, events seen)."""
    auditor = Store.open(url, read_only=True)
    try:
        return audit.verify(auditor).ok, len(auditor.history(episode))
    finally:
        auditor.close()
        reset_process_cache()


def _care_step(url: str, episode: str) -> int:
    """The care team's next step (labs); the number of events after it."""
    store = Store.open(url)
    try:
        act(store, episode, T0 + minutes(5))
        return len(store.history(episode))
    finally:
        store.close()
        reset_process_cache()


def audit_leaves_no_file(folder: Path) -> None:
    """The evidence of test_audit_other_user.py with one user: a read-only audit of a database no writer holds
    open sees the episode and leaves nothing beside the database (no -wal, no -shm)."""
    url, episode = _quiet_database(folder)
    assert _read_only_audit(url, episode) == (True, 1)
    assert sorted(os.listdir(folder)) == ["crs.db"], f"the audit left side files: {sorted(os.listdir(folder))}"
    assert _care_step(url, episode) == 2


def test_teeth_h17_read_only_sqlite_opens(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Disables persistence/sqlite_readers.py (persistence.database.snapshot_connection: never create a file
    beside the database) by opening the live file the ordinary way, `mode=ro`: the audit leaves `-wal` and
    `-shm` beside the database. One OS user here; the blocked writer is shown with two in the next test."""
    monkeypatch.setattr(database, "snapshot_connection", _ordinary_open)
    (tmp_path / "off").mkdir()
    with pytest.raises(EVIDENCE_FAILS, match="the audit left side files"):
        audit_leaves_no_file(tmp_path / "off")
    assert {"crs.db-wal", "crs.db-shm"} <= set(os.listdir(tmp_path / "off"))

    monkeypatch.undo()
    (tmp_path / "on").mkdir()
    audit_leaves_no_file(tmp_path / "on")


CARE, AUDITOR = "crs-test-care", "crs-test-audit"  # the users of test_audit_other_user.py


@pytest.fixture(scope="module")
def two_users() -> tuple[str, str]:
    care, auditor = system_user(CARE), system_user(AUDITOR)
    if care is None or auditor is None:
        pytest.skip("needs root and useradd to make two OS users (the care team and an auditor)")
    return care, auditor


def _ward(base: Path, name: str, folder_mode: int, care: str) -> tuple[str, str, Path]:
    """The care team's folder (`folder_mode`) and database (0644), both theirs, no side files."""
    folder = base / name
    folder.mkdir()
    url, episode = _quiet_database(folder)
    owner = pwd.getpwnam(care)
    (folder / "crs.db").chmod(0o644)
    folder.chmod(folder_mode)
    for path in (folder, folder / "crs.db"):
        os.chown(path, owner.pw_uid, owner.pw_gid)
    return url, episode, folder


def _owners(folder: Path) -> dict[str, str]:
    return {path.name: pwd.getpwuid(path.lstat().st_uid).pw_name for path in sorted(folder.iterdir())}


def audit_by_another_user_leaves_the_care_team_free(url: str, episode: str, folder: Path, care: str,
                                                    auditor: str) -> None:
    """The evidence of test_audit_other_user.py test_an_audit_by_another_os_user_leaves_nothing_that_blocks_the_care_
    team: the auditor's audit (a real process with the auditor's uid) sees the episode, no file in the folder
    is the auditor's, and the care team's next step (a process with their uid) succeeds."""
    seen = run_forked(lambda: _read_only_audit(url, episode), user=auditor)
    assert seen == ("ok", (True, 1)), f"the auditor's audit failed: {seen}"
    assert _owners(folder) == {"crs.db": care}, f"the audit left files behind: {_owners(folder)}"
    stepped = run_forked(lambda: _care_step(url, episode), user=care)
    assert stepped == ("ok", 2), f"the care team's step failed: {stepped}"


@pytest.mark.parametrize("folder_mode", [pytest.param(0o777, id="folder-writable-by-the-auditor"),
                                         pytest.param(0o755, id="folder-read-only-for-the-auditor")])
def test_teeth_h17_read_only_sqlite_opens_by_another_os_user(two_users: tuple[str, str], folder_mode: int,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Disables persistence/sqlite_readers.py as above, for an auditor who is another OS user (forked children
    of this process with the users' uids: the patch holds there). From a folder the auditor may write, the
    audit leaves `-wal`/`-shm` owned by the auditor and the care team's next step is refused ("readonly
    database"); from one it may not, the audit itself fails. As found on the previous release."""
    care, auditor = two_users
    with reachable_folder("crs-h17-teeth-") as base:
        url, episode, _ = _ward(base, "warm-up", 0o755, care)
        _read_only_audit(url, episode)  # import, as root, all that the children will need (/root is 0700)
        _care_step(url, episode)

        monkeypatch.setattr(database, "snapshot_connection", _ordinary_open)
        url, episode, folder = _ward(base, "off", folder_mode, care)
        expected = "the audit left files behind" if folder_mode == 0o777 else "the auditor's audit failed"
        with pytest.raises(EVIDENCE_FAILS, match=expected):
            audit_by_another_user_leaves_the_care_team_free(url, episode, folder, care, auditor)
        if folder_mode == 0o777:
            assert _owners(folder) == {"crs.db": care, "crs.db-shm": auditor, "crs.db-wal": auditor}
            blocked = run_forked(lambda: _care_step(url, episode), user=care)
            assert blocked[0] == "error" and "readonly database" in blocked[1], blocked

        monkeypatch.undo()
        url, episode, folder = _ward(base, "on", folder_mode, care)
        audit_by_another_user_leaves_the_care_team_free(url, episode, folder, care, auditor)


# -- H18: the authenticated login in every event and refusal --------------------------------------------------

def logins_are_authenticated(store: Store, expected: str) -> None:
    """The evidence of test_login_subprocess.py (assert_login_everywhere), in-process: every event and refusal
    records `expected` (the euid's passwd name on SQLite, the session user on PostgreSQL) as its login."""
    episode = treated_episode(store)
    with pytest.raises(Refused):
        give(store, episode, T0 + minutes(50))  # within 8 h of the dose: refused, logged
    logins = {s.event.login for s in store.history(episode)} | {r.login for r in store.refusals(episode)}
    assert logins == {expected}, f"recorded logins {logins}, authenticated {expected!r}"


def test_teeth_h18_login_stamping(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Disables persistence.identity.os_login (the OS login of the effective uid, from the password database)
    by taking the login from $USER, which anyone can set: the events and refusals then record `mallory`."""
    authenticated = pwd.getpwuid(os.geteuid()).pw_name
    monkeypatch.setenv("USER", "mallory")
    monkeypatch.setattr(identity, "os_login", lambda: os.environ["USER"])
    with opened(f"sqlite:///{tmp_path / 'off.db'}") as (store, _):
        with pytest.raises(EVIDENCE_FAILS, match="mallory"):
            logins_are_authenticated(store, authenticated)

    monkeypatch.undo()
    monkeypatch.setenv("USER", "mallory")  # spoofed still: the real control ignores it
    with opened(f"sqlite:///{tmp_path / 'on.db'}") as (store, _):
        logins_are_authenticated(store, authenticated)


#: The trigger functions of migration 0003 with their login check taken out (the rest of each kept).
_LOGIN_UNCHECKED = {
    "crs_event_authenticated": "BEGIN IF NEW.snapshot_sha256 IS NULL THEN RAISE EXCEPTION 'an event must carry "
                               "its snapshot hash'; END IF; RETURN NEW; END",
    "crs_refusal_authenticated": "BEGIN IF NEW.seq IS NULL OR NEW.prev_hash IS NULL OR NEW.hash IS NULL THEN "
                                 "RAISE EXCEPTION 'a refusal must carry its place in the chain'; END IF; "
                                 "RETURN NEW; END",
}


@pytest.mark.postgres
def test_teeth_h18_postgres_login_trigger(postgres_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Disables the server's check (migration 0003: crs_event_authenticated / crs_refusal_authenticated refuse a
    row whose login is not session_user) by replacing the two trigger functions in this test's own database.
    A client that stamps another login (persistence.identity.session_user patched to claim `mallory`) is
    then believed. With the check on, the same client's steps are refused (permission denied, exit 2)."""
    from tests.support.tamper import raw_connect

    monkeypatch.setattr(identity, "session_user", lambda engine, cursor: "mallory")  # the lying client
    url = postgres_server.create_database()
    with opened(url) as (store, audit_store):
        conn = raw_connect(url)
        try:
            for function, body in _LOGIN_UNCHECKED.items():
                conn.execute(f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$ "
                             f"{body} $$")
            conn.commit()
        finally:
            conn.close()
        with pytest.raises(EVIDENCE_FAILS, match="mallory"):
            logins_are_authenticated(store, str(make_url(url).username))
        problems = [f.problem for f in audit.verify(audit_store).failures]
        assert any("crs_event_authenticated" in p for p in problems), problems  # H19's trigger check sees it

    url = postgres_server.create_database()
    with opened(url) as (store, _):
        with pytest.raises(Invalid, match="permission denied"):
            open_episode(store)  # the server refuses the lying client
    monkeypatch.undo()
    url = postgres_server.create_database()
    with opened(url) as (store, _):
        logins_are_authenticated(store, str(make_url(url).username))


# -- H19: signed checkpoints, the refusal chain, the trigger check ----------------------------------------------

def _anchored_after(url: str, name: str) -> tuple[audit.VerifyReport, audit.VerifyReport, audit.VerifyReport]:
    """The scene, a checkpoint of it, then the forgery `name`: plain verify, verify --checkpoint (full and
    --since-checkpoint)."""
    with opened(url) as (store, audit_store):
        build_scene(store)
        taken, _ = checkpoint_of(audit_store)
        forgeries.FORGERIES[name](url, store)
        return (audit.verify(audit_store), checkpoint.verify_checkpoint(audit_store, taken),
                checkpoint.verify_checkpoint(audit_store, taken, incremental=True))


def forgery_matrix_row(url: str, name: str) -> None:
    """The evidence: test_checkpoint.py test_each_forgery_after_a_checkpoint, its own body."""
    with opened(url) as (store, audit_store):
        checkpoint_evidence.test_each_forgery_after_a_checkpoint(store, audit_store, url, name)


def _teeth_h19(new_database: Callable[[], str], monkeypatch: pytest.MonkeyPatch, name: str) -> audit.VerifyReport:
    """With the control already off: the forgery passes verify --checkpoint (full and incremental) and the matrix
    row fails; then, the control on, the matrix row passes. Returns plain verify's report of the forgery."""
    plain, full, incremental = _anchored_after(new_database(), name)
    assert full.ok and incremental.ok, ("the forgery is still caught", full.as_json(), incremental.as_json())
    with pytest.raises(EVIDENCE_FAILS):
        forgery_matrix_row(new_database(), name)
    monkeypatch.undo()
    forgery_matrix_row(new_database(), name)
    return plain


def _resigned_read(real: Callable[..., Any]) -> Callable[..., Any]:
    """checkpoint.read without its key and signature checks: whoever signed the file, it is read."""
    def read(text: bytes, public_key: Any) -> Any:
        value = json.loads(text.decode("utf-8"))
        stand_in = checkpoint.generate_key()
        body = {k: v for k, v in value.items() if k not in ("public_key", "signature")}
        return real(checkpoint.text_of(checkpoint.sign(body, stand_in)).encode("utf-8"), stand_in.public_key())
    return read


def checkpoint_forged_with_another_key_fails(url: str) -> None:
    """The evidence of test_checkpoint.py test_verify_with_the_wrong_public_key_fails (its own body) and what it
    protects: a forger who rewrote a history (event_edited_rehashed) and re-took and signed the checkpoint
    with their own key is refused (IntegrityError, exit 5) under the QA public key."""
    from pathway.errors import IntegrityError

    with opened(url) as (store, audit_store):
        checkpoint_evidence.test_verify_with_the_wrong_public_key_fails(store, audit_store)
    with opened(url) as (store, audit_store):  # the same database (its scene built above), then forged
        _, qa_key = checkpoint_of(audit_store)
        forgeries.FORGERIES["event_edited_rehashed"](url, store)
        _, body = checkpoint.take(audit_store, CHECKPOINT_AT)
        assert body is not None
        forged = checkpoint.text_of(checkpoint.sign(body, checkpoint.generate_key())).encode("utf-8")
        with pytest.raises(IntegrityError):
            checkpoint.read(forged, qa_key.public_key())


def test_teeth_h19_checkpoint_signature(new_database: Callable[[], str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Disables persistence.checkpoint.read's checks of the key fingerprint and the Ed25519 signature: a
    history rewritten and re-hashed (event_edited_rehashed), checkpointed again and signed with the forger's
    own key, passes verify --checkpoint under the QA public key."""
    monkeypatch.setattr(checkpoint, "read", _resigned_read(checkpoint.read))
    url = new_database()
    with opened(url) as (store, audit_store):
        build_scene(store)
        _, qa_key = checkpoint_of(audit_store)
        forgeries.FORGERIES["event_edited_rehashed"](url, store)
        _, body = checkpoint.take(audit_store, CHECKPOINT_AT)
        assert body is not None
        forged = checkpoint.text_of(checkpoint.sign(body, checkpoint.generate_key())).encode("utf-8")
        assert checkpoint.verify_checkpoint(audit_store, checkpoint.read(forged, qa_key.public_key())).ok
    with pytest.raises(EVIDENCE_FAILS, match="DID NOT RAISE"):
        checkpoint_forged_with_another_key_fails(new_database())

    monkeypatch.undo()
    checkpoint_forged_with_another_key_fails(new_database())


def _no_history_checks(self: Any, episode: Any, rows_: list[Any]) -> tuple[list[Any], int]:
    if episode.id in self._checkpoint.episodes:
        self._seen.add(episode.id)
    return [], 0


#: One check of persistence.checkpoint._Extension at a time: (method, its replacement, forgeries it alone catches).
EXTENSION_CHECKS: dict[str, tuple[str, Callable[..., Any], tuple[str, ...]]] = {
    "history": ("history", _no_history_checks,
                ("event_edited_rehashed", "event_deleted_rehashed", "event_inserted_rehashed", "tail_truncated",
                 "login_rewritten_rehashed", "actor_rewritten_rehashed", "episode_fabricated")),
    "backdating": ("_before", lambda self, recorded_at: False,
                   ("event_appended_backdated", "episode_fabricated", "refusal_appended_backdated")),
    "missing-episodes": ("finish", lambda self: [], ("episode_deleted",)),
    "refusal-head": ("refusal_log", lambda self, rows_: [],
                     ("refusal_edited_rechained", "refusal_deleted_rechained", "refusal_inserted_rechained",
                      "refusal_log_truncated", "refusal_appended_backdated")),
}
EXTENSION_CASES = [pytest.param(check, name, id=f"{check}-{name}")
                   for check, (_, _, names) in EXTENSION_CHECKS.items() for name in names]


@pytest.mark.parametrize("check, name", EXTENSION_CASES)
def test_teeth_h19_checkpoint_extension(new_database: Callable[[], str], monkeypatch: pytest.MonkeyPatch,
                                        check: str, name: str) -> None:
    """Disables one check of persistence.checkpoint._Extension (the database must extend the checkpoint
    exactly): `history` (each checkpointed episode's event at its seq, with its hash), `_before` (nothing new
    recorded before the checkpoint), `finish` (no checkpointed episode missing), `refusal_log` (the refusal
    log's head): the forgery only that check catches passes verify --checkpoint, full and incremental."""
    method, replacement, _ = EXTENSION_CHECKS[check]
    monkeypatch.setattr(checkpoint._Extension, method, replacement)
    _teeth_h19(new_database, monkeypatch, name)


def _unchecked_refusals(refusals: list[Any]) -> tuple[list[Any], tuple[int, str]]:
    """check_refusals without its checks: no failure, the head as the rows give it."""
    head = (refusals[-1].seq, refusals[-1].hash) if refusals else (0, audit.GENESIS)
    return [], head


def test_teeth_h19_refusal_chain(new_database: Callable[[], str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Disables persistence.audit.check_refusals (the refusal log's own hash chain): a refusal's message edited
    in place (refusal_edited) passes plain verify and verify --checkpoint (the checkpoint pins only the head)."""
    monkeypatch.setattr(audit, "check_refusals", _unchecked_refusals)
    plain = _teeth_h19(new_database, monkeypatch, "refusal_edited")
    assert plain.ok, plain.as_json()  # plain verify, the control's own place, passed it too


@pytest.mark.parametrize("name", ["triggers_dropped", "trigger_disabled", "trigger_function_replaced"])
def test_teeth_h19_trigger_check(new_database: Callable[[], str], monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """Disables persistence.audit.check_triggers (every append-only trigger present, enabled, as migrated): the
    event table's append-only trigger dropped, disabled or emptied passes plain verify and verify --checkpoint."""
    monkeypatch.setattr(audit, "check_triggers", lambda reader: [])
    plain = _teeth_h19(new_database, monkeypatch, name)
    assert plain.ok, plain.as_json()  # plain verify, the control's own place, passed it too


# -- H21: one transaction per step; every fault path a documented exit code ------------------------------------

def _unmapped_failed(self: SqlUnitOfWork, exc: BaseException, sql: str) -> Exception:
    """SqlUnitOfWork._failed without its mapping of a lost connection (the driver's error as it comes)."""
    self._tainted = True
    wrapped = self._db.wrap(exc, sql)
    return unit_of_work.conflict_or_none(wrapped) or wrapped


def _previous_exit(self: SqlUnitOfWork, *exc: object) -> None:
    """SqlUnitOfWork.__exit__ without its guard, as the release 7a35703 had it: it closes and rolls back whatever
    the connection's state, also one _failed has just found lost and discarded. Through SQLAlchemy's pool that
    ended as exit 70; on the driver's own connection the rollback's error replaces the Conflict (exit 2)."""
    conn, cursor, self._conn, self._cursor = self._conn, self._cursor, None, None
    begun, self._begun = self._begun, False
    if conn is None:
        return
    clean = False
    try:
        cursor.close()
        if begun:
            conn.rollback()
        clean = not self._tainted
    finally:
        self._valid = False
        self._db.release(conn, clean=clean)


def lost_connection_is_exit_3(url: str) -> None:
    """The evidence: test_lost_connection.py test_a_connection_killed_in_the_middle_of_a_step_is_exit_3_not_70."""
    from tests.persistence import test_lost_connection as lost_connection_evidence

    lost_connection_evidence.test_a_connection_killed_in_the_middle_of_a_step_is_exit_3_not_70(url)
    reset_process_cache()


@pytest.mark.postgres
@pytest.mark.parametrize("control, patch, exit_code", [
    pytest.param("_failed", _unmapped_failed, 2, id="the-mapping"),
    pytest.param("__exit__", _previous_exit, 2, id="the-cleanup-guard"),
])
def test_teeth_h21_lost_connection_mapping(postgres_server: Any, monkeypatch: pytest.MonkeyPatch, control: str,
                                           patch: Callable[..., Any], exit_code: int) -> None:
    """Disables, one at a time, persistence.unit_of_work.SqlUnitOfWork._failed's mapping of a lost connection
    to Conflict (the driver's error reaches the CLI: exit 2, "the database cannot be used"), and
    SqlUnitOfWork.__exit__'s guard against cleaning up a connection found lost (the cleanup's own driver error
    then reaches the CLI: exit 2; exit 70 when it was found). A PostgreSQL backend killed under a step is then
    not exit 3."""
    monkeypatch.setattr(SqlUnitOfWork, control, patch)
    with pytest.raises(EVIDENCE_FAILS, match=f"exit_code={exit_code}"):
        lost_connection_is_exit_3(postgres_server.create_database())

    monkeypatch.undo()
    lost_connection_is_exit_3(postgres_server.create_database())


def _statement_transactions(real: Callable[..., Any]) -> Callable[..., Any]:
    """SqlUnitOfWork._run committing each write statement on its own (no transaction per step)."""
    def run(self: SqlUnitOfWork, sql: str, params: dict[str, Any]) -> Any:
        result = real(self, sql, params)
        if sql.lstrip().upper().startswith(("INSERT", "UPDATE")):
            self._conn.commit()
            self._begun = False  # the next statement begins anew
        return result
    return run


def _killed_after_the_event_insert(url: str, episode: str) -> None:
    """In the child: the step's process is SIGKILLed right after its event row is written, before its
    snapshot row is (SQLite: two statements)."""
    real = SqlUnitOfWork._run

    def run(self: SqlUnitOfWork, sql: str, params: dict[str, Any]) -> Any:
        result = real(self, sql, params)
        if sql.lstrip().startswith("INSERT INTO event"):
            kill_self()
        return result

    SqlUnitOfWork._run = run  # type: ignore[method-assign]  # the child only: it never returns to pytest
    observe(Store.open(url), episode, T0 + minutes(60))


def a_step_killed_mid_write_leaves_the_record_whole(url: str) -> None:
    """The evidence of test_reliability.py test_crash_kills_lose_no_acknowledged_step at its worst moment: a
    step killed between its two writes leaves no trace, the database verifies, the next step goes through."""
    with opened(url) as (store, _):
        episode = treated_episode(store)
    before = event_rows(url, episode)
    assert run_forked(lambda: _killed_after_the_event_insert(url, episode)) == ("killed", signal.SIGKILL)
    with opened(url) as (store, audit_store):
        assert event_rows(url, episode) == before, "the killed step left a half-written step"
        report = audit.verify(audit_store)
        assert report.ok, report.as_json()
        observe(store, episode, T0 + minutes(61))


def test_teeth_h21_one_transaction_per_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Disables one transaction per step (persistence.unit_of_work.SqlUnitOfWork: each INSERT/UPDATE committed
    by itself): a step SIGKILLed between writing its event and its snapshot leaves the event without its
    snapshot; verify fails and the episode can take no further step. SQLite only: on PostgreSQL a step's
    writes are one statement (unit_of_work._APPEND_STEP), which a kill cannot split."""
    monkeypatch.setattr(SqlUnitOfWork, "_run", _statement_transactions(SqlUnitOfWork._run))
    with pytest.raises(EVIDENCE_FAILS, match="half-written step"):
        a_step_killed_mid_write_leaves_the_record_whole(f"sqlite:///{tmp_path / 'off.db'}")
    with opened(f"sqlite:///{tmp_path / 'off.db'}") as (store, audit_store):
        assert not audit.verify(audit_store).ok
        (episode,) = store.episodes()
        with pytest.raises(Conflict):  # its seq is taken by the orphan event: every next step is a "race"
            observe(store, episode.id, T0 + minutes(61))

    monkeypatch.undo()
    a_step_killed_mid_write_leaves_the_record_whole(f"sqlite:///{tmp_path / 'on.db'}")


# -- H23: an upgrade never turns a clean record into verify failures -------------------------------------------

def _upgraded_fixture_verifies(folder: Path) -> None:
    """The evidence: test_upgrade.py test_a_writable_open_upgrades_the_old_file_in_place_and_every_row_stays,
    on a copy of the 0.1.0 database (tests/fixtures/crs-0.1.0-rev0001.db) in `folder`."""
    import shutil

    folder.mkdir()
    copy = folder / "crs.db"
    shutil.copyfile(upgrade_evidence.FIXTURE, copy)
    reset_process_cache()
    try:
        upgrade_evidence.test_a_writable_open_upgrades_the_old_file_in_place_and_every_row_stays(copy)
    finally:
        reset_process_cache()


def test_teeth_h23_absent_stamps_left_out_of_the_hash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Disables the rule that an absent stamp (login, snapshot_sha256: events from before schema 0003) is left
    out of the hashed text, not written as null: pathway.events.Event.canonical writes every field, and
    persistence.rows._splice (its column-spliced twin) defers to it. Every event the previous release wrote
    then fails its hash: the upgraded 0.1.0 fixture, a clean record, fails verify."""
    from pathway.events import Event

    monkeypatch.setattr(Event, "canonical", lambda self: json.dumps(self.model_dump(mode="json"), sort_keys=True,
                                                                    separators=(",", ":"), ensure_ascii=False))
    monkeypatch.setattr(rows, "_splice", lambda *columns: None)
    with pytest.raises(EVIDENCE_FAILS):
        _upgraded_fixture_verifies(tmp_path / "off")
    with opened(f"sqlite:///{tmp_path / 'off' / 'crs.db'}") as (_, audit_store):
        failures = audit.verify(audit_store).failures
    assert {f.problem for f in failures} == {"its content does not match its hash (edited)"}, failures
    assert {f.episode for f in failures} == {e["id"] for e in upgrade_evidence.MANIFEST["episodes"]}

    monkeypatch.undo()
    _upgraded_fixture_verifies(tmp_path / "on")


def _hostile_policy_record(url: str) -> None:
    """test_escaping.py's database: an episode opened with a policy whose name and version hold ESC[2J, U+202E
    and newlines, written through the real store and service as a crs before the policy-file check could."""
    from tests.cli.test_escaping import _hostile_database

    _hostile_database(url)
    reset_process_cache()


def hostile_policy_record_verifies(url: str) -> None:
    """The evidence of test_policy_text.py test_a_stored_policy_with_such_a_name_still_loads, as it matters: such
    a stored policy is still read, so the episode replays and `audit verify` passes (test_escaping.py's
    `verify` row)."""
    with opened(url) as (_, audit_store):
        report = audit.verify(audit_store)
        assert report.ok, report.as_json()


def test_teeth_h23_stored_policy_read_as_stored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Disables the context of pathway.policy.Policy's name/version check (`policy_file`: new input only) by
    giving it to every Policy.model_validate: the replay of an episode opened with such a policy (its open
    event's command rebuilt by pathway.history.command_of) then fails, and a record that was clean before
    the upgrade that added the check fails verify."""
    from pathway.policy import FROM_FILE, Policy

    real = Policy.model_validate

    def checked_everywhere(obj: Any, **kwargs: Any) -> Any:
        return real(obj, **{**kwargs, "context": FROM_FILE})

    _hostile_policy_record(f"sqlite:///{tmp_path / 'off.db'}")
    monkeypatch.setattr(Policy, "model_validate", checked_everywhere)
    with pytest.raises(EVIDENCE_FAILS, match="'ok': False"):
        hostile_policy_record_verifies(f"sqlite:///{tmp_path / 'off.db'}")
    with opened(f"sqlite:///{tmp_path / 'off.db'}") as (_, audit_store):
        failures = audit.verify(audit_store).failures
    assert [(f.seq, f.problem) for f in failures] == [(1, "the event cannot be replayed (ValidationError)")]

    monkeypatch.undo()
    _hostile_policy_record(f"sqlite:///{tmp_path / 'on.db'}")
    hostile_policy_record_verifies(f"sqlite:///{tmp_path / 'on.db'}")


def test_h23_a_rule_change_does_not_reinterpret_old_events(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A new release that changes a rule (here the tocilizumab hard ceiling, tolerance 10% -> 5%: the `limit_mg`
    the 0.1.0 doses recorded is then not what today's pathway decides) still verifies the 0.1.0 fixture: its
    events were decided by an earlier pathway, so they are folded as recorded, not re-decided (pathway/replay.py).
    Found by this file's first version (a strict xfail) and fixed in issue 12."""
    from dataclasses import replace

    from pathway import dosing

    monkeypatch.setattr(dosing, "HARD_LIMITS", replace(dosing.HARD_LIMITS, toci_weight_tolerance=0.05))
    _upgraded_fixture_verifies(tmp_path / "new-rule")


def test_teeth_h23_replay_by_the_version_that_decided(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Disables pathway.replay's version check (every event taken as decided by today's pathway, so all are
    re-decided): the same rule change then makes the clean 0.1.0 record fail verify ("replay differs in data")."""
    from dataclasses import replace

    from pathway import dosing, replay
    from pathway.events import PATHWAY_VERSION

    monkeypatch.setattr(dosing, "HARD_LIMITS", replace(dosing.HARD_LIMITS, toci_weight_tolerance=0.05))
    monkeypatch.setattr(replay, "decided_version", lambda event: PATHWAY_VERSION)
    with pytest.raises(EVIDENCE_FAILS):
        _upgraded_fixture_verifies(tmp_path / "off")
    monkeypatch.undo()
    monkeypatch.setattr(dosing, "HARD_LIMITS", replace(dosing.HARD_LIMITS, toci_weight_tolerance=0.05))
    _upgraded_fixture_verifies(tmp_path / "on")


def test_the_record_is_back_after_each_teeth_test() -> None:
    """monkeypatch restored every control these tests switched off."""
    from pathway import dosing
    from pathway.events import Event
    from pathway.policy import HARD_LIMITS, Policy

    assert SqlUnitOfWork.load.__module__ == SqlUnitOfWork._run.__module__ == "persistence.unit_of_work"
    assert SqlUnitOfWork._failed.__qualname__ == "SqlUnitOfWork._failed"
    assert SqlUnitOfWork.__exit__.__qualname__ == "SqlUnitOfWork.__exit__"
    assert SqlUnitOfWork._folded.__qualname__ == "SqlUnitOfWork._folded"
    assert database.snapshot_connection.__module__ == "persistence.sqlite_readers"
    assert identity.os_login.__module__ == identity.session_user.__module__ == "persistence.identity"
    assert checkpoint.read.__module__ == "persistence.checkpoint"
    assert all(getattr(checkpoint._Extension, m).__qualname__.startswith("_Extension.")
               for m, _, _ in EXTENSION_CHECKS.values())
    assert audit.check_refusals.__module__ == audit.check_triggers.__module__ == "persistence.audit"
    assert Event.canonical.__qualname__ == "Event.canonical" and rows._splice.__module__ == "persistence.rows"
    assert Policy.model_validate.__qualname__ == "BaseModel.model_validate" and dosing.HARD_LIMITS is HARD_LIMITS
