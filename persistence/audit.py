"""QA's proof: recompute every hash chain, replay every episode, and compare with the store.

What `verify` vouches for, and reads to do so (HAZARDS H19): every event row (each column is inside
its hash, but for `target_seq`, an index of the hashed `data.target_seq` that is compared with it);
every episode row, column by column: `patient_ref`, `policy_name`, `policy_version`, `policy_json`
and `opened_at` against the open event's hashed data, `updated_at` against the last event's
`recorded_at`, `version`/`head_hash` against the last event, the snapshot's SHA-256 against the
hash the head event recorded (`snapshot_sha256`), and the snapshot and `state` against the replay;
the refusal log's own hash chain (persistence/rows.py refusal_canonical: seq 1..n, each prev_hash
the hash before it, each hash recomputed); and the triggers that make the record append-only
(persistence/triggers.py), each present, enabled and defined as the migrations define it.

What it cannot see alone: a history rewritten by someone who re-hashes it with this very code
(the chain then agrees with itself) and whom the pathway would have let do it, or rows removed or
fabricated consistently. Only something kept outside the database can: `digest` (unsigned) or a
signed checkpoint (persistence/checkpoint.py), whose checks run in the same read transaction as
this one through a `Witness`. The intermediate events' `snapshot_sha256` are hashed claims that
only a step reads (while that event is the head), never recomputed here: serialising the fold after
every event would double verify's time; the head's is recomputed.

`verify` streams episode by episode inside one read transaction (a consistent snapshot), so
its memory is bounded by the largest episode, not by the number of episodes. It never writes;
the CLI opens the store read-only for it. Problems never quote stored values (they may hold
patient data).

Speed (bench/audit.py): rows come from the DB-API cursor of the read transaction; a row whose
hash matches is turned into its Event without a second validation (`trusted_event`), and one
pass re-decides and folds each history (pathway.replay). A large database is checked by worker
processes, one per CPU, fed batches of rows by the reading process; the report is identical.
"""

import json
import multiprocessing
import os
import signal
import sys
from collections import deque, namedtuple
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol, get_args

from pydantic_core import from_json

from pathway.episode import Episode
from pathway.errors import Invalid, NotFound
from pathway.events import PATHWAY_VERSION, Event, EventKind, Override, decided_version
from pathway.replay import replay, snapshot_disagreements
from persistence import triggers
from persistence.chain import GENESIS, link
from persistence.database import Reader
from persistence.rows import (EVENT_COLUMNS, REFUSAL_CHAIN_COLUMNS, REFUSAL_COLUMNS, EventRecord, canonical_from_row,
                              event_from_row, refusal_canonical, snapshot_sha256, snapshot_text, target_of, text_time)
from persistence.store import Store

DIGEST_FORMAT = "crs-digest/1"
_PAGE = 200
#: Re-decide every event (the contract). bench/child.py turns it off in its own process only, to
#: show what the re-deciding costs; crs never does.
REDECIDE = True
#: A database with at least this many events (about a second of checking) is checked by worker
#: processes, one per CPU up to MAX_WORKERS; starting them costs some tens of milliseconds, which
#: a smaller database would not win back.
PARALLEL_MIN_EVENTS = 5_000
MAX_WORKERS = 4
_BATCH_EVENTS = 500  # rows per batch handed to a worker (about half a MB)

# verify reads through the DB-API cursor of its read transaction (qmark style; %s on psycopg)
_EPISODE_COLUMNS = ("id, state, version, snapshot, head_hash, patient_ref, policy_name, policy_version, policy_json, "
                    "opened_at, updated_at")
_EPISODES_PAGE = f"SELECT {_EPISODE_COLUMNS} FROM episode WHERE id > ? ORDER BY id LIMIT {_PAGE}"
_ONE_EPISODE = f"SELECT {_EPISODE_COLUMNS} FROM episode WHERE id = ?"
_EVENTS = f"SELECT {EVENT_COLUMNS} FROM event WHERE episode_id = ? ORDER BY seq"
_AT_LEAST = "SELECT COUNT(*) FROM (SELECT 1 FROM event LIMIT ?) AS head"
_COUNT_EVENTS = "SELECT count(*) FROM event"
_COUNT_EPISODE_EVENTS = "SELECT count(*) FROM event WHERE episode_id = ?"
_ORPHANS = "SELECT DISTINCT episode_id FROM event WHERE episode_id NOT IN (SELECT id FROM episode) ORDER BY episode_id"
_REFUSALS = f"SELECT id, {REFUSAL_CHAIN_COLUMNS}, {REFUSAL_COLUMNS} FROM refusal"
_HEADS = ("SELECT e.episode_id, e.seq, e.hash FROM event e "
          "WHERE e.seq = (SELECT MAX(x.seq) FROM event x WHERE x.episode_id = e.episode_id) ORDER BY e.episode_id")
_EVENT_AT = "SELECT hash FROM event WHERE episode_id = ? AND seq = ?"
_LAST_SEQ = "SELECT MAX(seq) FROM event WHERE episode_id = ?"

#: Rows as plain tuples with names: what canonical_from_row and event_from_row read.
EpisodeRow = namedtuple("EpisodeRow", _EPISODE_COLUMNS.replace(",", " "))
EventRow = EventRecord
RefusalRow = namedtuple("RefusalRow", ("id, " + REFUSAL_CHAIN_COLUMNS + ", " + REFUSAL_COLUMNS).replace(",", " "))
_KINDS = frozenset(get_args(EventKind))
_CHANGES = frozenset({"correct", "void"})  # the kinds whose target_seq column indexes their payload
#: Where seq, recorded_at and hash sit in an event row tuple (a Witness reads the plain tuples).
SEQ, RECORDED_AT, HASH = (EventRecord._fields.index(name) for name in ("seq", "recorded_at", "hash"))
_MAX_ID = 16  # the episode id column's width: a longer "id" in a refusal row is not one crs wrote

# -- the append-only triggers, as the migrations define them ------------------------------------------
#: Every SQLite trigger of persistence/triggers.py, as its migration creates it (SQLite keeps the
#: statement's text): one re-created to do nothing (`WHEN 0`) is as plain as one dropped. A test
#: checks these are the migrations' own statements, word for word.
SQLITE_TRIGGER_SQL: dict[str, str] = {
    **{f"{table}_no_{verb}": f"CREATE TRIGGER {table}_no_{verb} BEFORE {verb.upper()} ON {table} "
                             f"BEGIN SELECT RAISE(ABORT, '{table} rows are append-only'); END"
       for table in ("event", "refusal") for verb in ("update", "delete")},
    "episode_no_delete": "CREATE TRIGGER episode_no_delete BEFORE DELETE ON episode "
                         "BEGIN SELECT RAISE(ABORT, 'episode rows are never deleted'); END",
    "event_stamped": "CREATE TRIGGER event_stamped BEFORE INSERT ON event WHEN NEW.login IS NULL OR "
                     "NEW.snapshot_sha256 IS NULL BEGIN SELECT RAISE(ABORT, 'an event must carry its login and "
                     "snapshot hash'); END",
    "refusal_chained": "CREATE TRIGGER refusal_chained BEFORE INSERT ON refusal WHEN NEW.login IS NULL OR "
                       "NEW.seq IS NULL OR NEW.prev_hash IS NULL OR NEW.hash IS NULL BEGIN SELECT RAISE(ABORT, "
                       "'a refusal must carry its login and its place in the chain'); END",
}
# PostgreSQL's pg_trigger.tgtype bits
_ROW, _BEFORE, _INSERT, _DELETE, _UPDATE, _TRUNCATE = 1, 2, 4, 8, 16, 32
#: Every PostgreSQL trigger of persistence/triggers.py: (its pg_trigger.tgtype, the function it runs).
POSTGRES_TRIGGER_DEFS: dict[tuple[str, str], tuple[int, str]] = {
    **{(table, f"{table}_append_only"): (_ROW | _BEFORE | _UPDATE | _DELETE, "crs_append_only")
       for table in ("event", "refusal")},
    **{(table, f"{table}_no_truncate"): (_BEFORE | _TRUNCATE, "crs_append_only")
       for table in ("event", "refusal", "episode")},
    ("episode", "episode_no_delete"): (_ROW | _BEFORE | _DELETE, "crs_append_only"),
    ("event", "event_authenticated"): (_ROW | _BEFORE | _INSERT, "crs_event_authenticated"),
    ("refusal", "refusal_authenticated"): (_ROW | _BEFORE | _INSERT, "crs_refusal_authenticated"),
}
#: The body of every trigger function (PL/pgSQL), whitespace collapsed: one replaced by `RETURN NEW`
#: (CREATE OR REPLACE FUNCTION) disables every trigger that runs it without dropping any.
POSTGRES_FUNCTION_BODIES: dict[str, str] = {
    "crs_append_only": "BEGIN RAISE EXCEPTION '% rows are append-only (% refused)', TG_TABLE_NAME, TG_OP; END",
    "crs_event_authenticated": (
        "BEGIN IF NEW.login IS DISTINCT FROM session_user::text THEN RAISE EXCEPTION 'the login recorded must be "
        "the session user' USING ERRCODE = '42501'; END IF; IF NEW.snapshot_sha256 IS NULL THEN RAISE EXCEPTION "
        "'an event must carry its snapshot hash'; END IF; RETURN NEW; END"),
    "crs_refusal_authenticated": (
        "BEGIN IF NEW.login IS DISTINCT FROM session_user::text THEN RAISE EXCEPTION 'the login recorded must be "
        "the session user' USING ERRCODE = '42501'; END IF; IF NEW.seq IS NULL OR NEW.prev_hash IS NULL OR "
        "NEW.hash IS NULL THEN RAISE EXCEPTION 'a refusal must carry its place in the chain'; END IF; RETURN NEW; END"),
}
_SQLITE_TRIGGERS = "SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'trigger'"
_PG_TRIGGERS = (
    "SELECT c.relname, t.tgname, t.tgenabled, t.tgtype, t.tgqual IS NULL, t.tgattr::text, p.proname, l.lanname, "
    "p.prosrc FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_proc p ON p.oid = t.tgfoid "
    "JOIN pg_language l ON l.oid = p.prolang WHERE NOT t.tgisinternal "
    "AND t.tgrelid IN (to_regclass('episode'), to_regclass('event'), to_regclass('refusal'))"
)
_PG_FUNCTION = "SELECT to_regprocedure(?) IS NOT NULL"


def collapsed(sql: str) -> str:
    """SQL with every run of whitespace made one space (how definitions are compared)."""
    return " ".join(sql.split())


@dataclass(frozen=True)
class Failure:
    #: The episode, or None for a problem of the database as a whole (its refusal log, its triggers).
    episode: str | None
    seq: int | None
    problem: str
    #: The refusal log entry (its seq) a refusal-log problem is about, where there is one.
    refusal: int | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"episode": self.episode, "seq": self.seq, "problem": self.problem}
        if self.refusal is not None:
            out["refusal"] = self.refusal
        return out


@dataclass
class VerifyReport:
    episodes: int = 0
    events: int = 0
    refusals: int = 0
    #: Events decided by an earlier pathway version: checked by their chain (and any signed checkpoint),
    #: folded as recorded, not re-decided by today's rules (H23).
    earlier: int = 0
    failures: list[Failure] = field(default_factory=list)
    #: The refusal log's head as verified: (seq, hash); (0, GENESIS) for an empty log.
    refusal_head: tuple[int, str] = (0, GENESIS)

    @property
    def ok(self) -> bool:
        return not self.failures

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "episodes": self.episodes, "events": self.events, "refusals": self.refusals,
                "earlier_pathway_events": self.earlier, "failures": [f.as_json() for f in self.failures]}


class Witness(Protocol):
    """What a check kept outside the database (a signed checkpoint) adds to verify, in its read transaction.

    Called in the reading process, in read order, with the very rows verify checks; what it returns
    joins the report. `history` also says up to which seq the episode's events need not be re-decided
    (0: all of them): a checkpoint that vouches for them (persistence/checkpoint.py)."""

    def history(self, episode: "EpisodeRow", rows: list[tuple[Any, ...]]) -> tuple[list[tuple[int | None, str]], int]:
        ...

    def refusal_log(self, rows: list["RefusalRow"]) -> list[Failure]:
        ...

    def finish(self) -> list[Failure]:
        """After every episode was read: what is missing."""
        ...

    def settled_events(self) -> int:
        """How many events `history` will let verify leave un-re-decided (chooses in-process or workers)."""
        ...


def _episode_rows(reader: Reader, episode_id: str | None) -> Iterator[EpisodeRow]:
    if episode_id is not None:
        found = reader.rows(_ONE_EPISODE, (episode_id,))
        if not found:
            raise NotFound(f"no episode {episode_id}")
        yield EpisodeRow._make(found[0])
        return
    after = ""
    while True:
        page = reader.rows(_EPISODES_PAGE, (after,))
        yield from map(EpisodeRow._make, page)
        if len(page) < _PAGE:
            return
        after = page[-1][0]


def trusted_event(row: Any) -> Event | None:
    """The Event `event_from_row(row)` would return, built without pydantic's validation when every
    column already has the very type validation would pass through unchanged; None otherwise.

    Only for a row whose hash matched (it is what was hashed); None sends the caller down the full,
    validating path, so this can only save time: it never reads a row differently. The replay
    still compares the event the pathway decides again with this one field by field.
    """
    kind, from_state, payload = row.kind, row.from_state, row.payload
    if not (type(row.episode_id) is str and type(row.seq) is int and type(kind) is str and kind in _KINDS
            and type(row.actor) is str and (from_state is None or type(from_state) is str)
            and type(row.to_state) is str and type(payload) is str and type(row.at) is str
            and type(row.recorded_at) is str and (row.login is None or type(row.login) is str)
            and (row.snapshot_sha256 is None or type(row.snapshot_sha256) is str)):
        return None
    try:
        data = from_json(payload)  # the same values as json.loads for JSON text, at a third of the cost
        override = None if row.override is None else Override.model_validate(json.loads(row.override))
        at, recorded_at = text_time(row.at), text_time(row.recorded_at)
    except (ValueError, TypeError):
        return None
    if type(data) is not dict:
        return None
    return _constructed({"episode_id": row.episode_id, "seq": row.seq, "kind": kind, "at": at,
                         "recorded_at": recorded_at, "actor": row.actor, "from_state": from_state,
                         "to_state": row.to_state, "data": data, "override": override, "login": row.login,
                         "snapshot_sha256": row.snapshot_sha256})


_EVENT_FIELDS = frozenset(Event.model_fields)
_new_event = Event.__new__
_set = object.__setattr__


def _constructed(values: dict[str, Any]) -> Event:
    """Event.model_construct(**values) for a dict of every field: what it does, a tenth of its cost
    (it loops over aliases and defaults this never needs). tests/persistence/test_audit_fast_path.py
    checks that the result equals the validated Event."""
    event = _new_event(Event)
    _set(event, "__dict__", values)
    _set(event, "__pydantic_fields_set__", set(_EVENT_FIELDS))
    _set(event, "__pydantic_extra__", None)
    _set(event, "__pydantic_private__", None)
    return event


def _check_chain(rows: list[Any], fail: Callable[[int | None, str], None],
                 replaying: bool = True) -> tuple[list[Event], bool]:
    """Recompute one chain; return the readable events and whether every event could be read.

    `replaying` False (a history an incremental verify neither re-decides nor folds): an intact row
    is not turned into its Event unless it is the open (the episode row is checked against it) or a
    correction or void (its target_seq column is checked against its payload); the events returned
    are then only those. Every row's hash is recomputed either way."""
    events: list[Event] = []
    readable = True
    prev_hash, expected_seq = GENESIS, 1
    for row in rows:
        if row.seq != expected_seq:
            gap = f"seq {expected_seq}" if row.seq == expected_seq + 1 else f"seqs {expected_seq}-{row.seq - 1}"
            fail(expected_seq, f"{gap} missing from the history (deleted)")
        if row.prev_hash != prev_hash:
            fail(row.seq, "its prev_hash is not the hash of the event before it (events removed, inserted or reordered)")
        spliced = canonical_from_row(row)  # cheap; if it hashes right, the row is intact
        intact = spliced is not None and isinstance(row.prev_hash, str) and link(row.prev_hash, spliced) == row.hash
        if intact and not replaying and row.seq != 1 and row.kind not in _CHANGES:
            if row.target_seq is not None:  # target_of() of any other kind is None
                fail(row.seq, "its target_seq column does not match its hashed content (edited)")
            prev_hash, expected_seq = row.hash, row.seq + 1
            continue
        event = trusted_event(row) if intact else None
        if event is None:
            try:
                event = event_from_row(row).event
            except (ValueError, TypeError):
                fail(row.seq, "the stored event cannot be read (edited)")
                readable = False
            else:
                if not intact and link(row.prev_hash, event.canonical()) != row.hash:
                    fail(row.seq, "its content does not match its hash (edited)")
        if event is not None:
            if row.target_seq != target_of(event):
                fail(row.seq, "its target_seq column does not match its hashed content (edited)")
            events.append(event)
        prev_hash, expected_seq = row.hash, row.seq + 1
    return events, readable


def _check_episode_row(ep: EpisodeRow, rows: list[EventRow], events: list[Event],
                       fail: Callable[[int | None, str], None]) -> None:
    """The episode row's own columns against what the chain vouches for (the replay checks the snapshot).

    None of them is read by a step, so an edit of one changes nothing a step decides, only what a
    reader of the table sees: which is why verify must read them (HAZARDS H19: patient_ref, policy_json)."""
    first, last = rows[0], rows[-1]
    opened = events[0] if events and events[0].seq == 1 and events[0].kind == "open" else None
    if opened is not None:
        data = opened.data
        policy = data.get("policy") if isinstance(data.get("policy"), dict) else {}
        if ep.patient_ref != data.get("patient_ref"):
            fail(None, "the episode row's patient_ref differs from the open event's (edited)")
        if ep.policy_name != policy.get("name") or ep.policy_version != policy.get("version"):
            fail(None, "the episode row's policy name or version differs from the open event's (edited)")
        try:
            stored_policy = json.loads(ep.policy_json) if isinstance(ep.policy_json, str) else None
        except ValueError:
            stored_policy = None
        if stored_policy != policy:
            fail(None, "the episode row's policy_json differs from the policy the open event recorded (edited)")
    if first.seq == 1 and ep.opened_at != first.at:
        fail(None, "the episode row's opened_at differs from the open event's time (edited)")
    if ep.updated_at != last.recorded_at:
        fail(last.seq, "the episode row's updated_at is not the recorded_at of the last event (edited)")
    if last.snapshot_sha256 is not None and (not isinstance(ep.snapshot, str)
                                             or snapshot_sha256(ep.snapshot) != last.snapshot_sha256):
        fail(last.seq, "the stored snapshot does not match the snapshot hash its head event recorded (edited)")


def _legacy_disagreements(snapshot: Any, replayed: Episode) -> list[str]:
    """The fields of a snapshot written by an earlier pathway that today's fold does not reproduce."""
    try:
        stored = from_json(snapshot) if isinstance(snapshot, str) else None
    except ValueError:
        stored = None
    if not isinstance(stored, dict):
        return ["the snapshot cannot be read"]
    return snapshot_disagreements(stored, replayed.model_dump(mode="json"))


def _stored_state(snapshot: Any) -> Any:
    """The state a snapshot text records (None if it cannot be read)."""
    try:
        value = from_json(snapshot) if isinstance(snapshot, str) else None
    except ValueError:
        return None
    return value.get("state") if isinstance(value, dict) else None


def check_history(ep: EpisodeRow, rows: list[EventRow], redeciding: bool = True,
                  settled: int = 0, tally: list[int] | None = None) -> list[tuple[int | None, str]]:
    """Every problem with one episode: its chain, its episode row, and the replay of its events.

    (seq, problem) in the order found; [] when the episode verifies. Reads nothing but its arguments.
    `settled` > 0 (an incremental verify from a signed checkpoint whose event at that seq this history
    still has, see verify_incremental): the events up to it are folded without being re-decided, and
    a history that ends there is not folded at all (its snapshot is checked by the hash its head event
    recorded, which the checkpoint's own full verify tied to the fold). `tally`, if given, gets the number
    of events decided by an earlier pathway version appended (folded as recorded, not re-decided: H23)."""
    found: list[tuple[int | None, str]] = []

    def fail(seq: int | None, problem: str) -> None:
        found.append((seq, problem))

    if not rows:
        fail(None, "the episode has no events")
        return found
    last = rows[-1]
    unchanged = bool(settled) and last.seq == settled and last.snapshot_sha256 is not None
    events, readable = _check_chain(rows, fail, replaying=not unchanged)
    if last.seq != ep.version:
        fail(max(last.seq, ep.version), f"the snapshot is at version {ep.version} but the history ends at seq {last.seq}")
    if last.hash != ep.head_hash:
        fail(last.seq, "the snapshot's head hash is not the hash of the last event")
    _check_episode_row(ep, rows, events, fail)
    if not readable:
        return found
    if unchanged:
        if _stored_state(ep.snapshot) != ep.state:
            fail(ep.version, "the stored state differs from the stored snapshot's")
        return found
    result = replay(events, redeciding=redeciding, settled=settled)  # re-decide after `settled`, fold all
    if result.unfolded_at is not None:  # the replay's own finding names the event and the rule, if it has one
        found.extend(result.problems or [(result.unfolded_at, "the events do not replay into an episode")])
        return found
    replayed = result.episode
    if tally is not None:
        tally.append(result.earlier)
    if replayed is not None and decided_version(events[-1]) != PATHWAY_VERSION:
        # a snapshot an earlier pathway wrote: it must agree with the fold on every field it records
        if _stored_state(ep.snapshot) != ep.state:
            fail(ep.version, "the stored state differs from the stored snapshot's")
        elif (wrong := _legacy_disagreements(ep.snapshot, replayed)):
            fail(ep.version, f"the stored snapshot disagrees with the replayed episode ({', '.join(wrong[:5])})")
        elif str(replayed.state) != ep.state:
            fail(ep.version, "the stored state differs from the replayed state")
        found.extend(result.problems)
        return found
    same_text = replayed is not None and snapshot_text(replayed) == ep.snapshot  # the text the store wrote
    stored: Episode | None = None
    if not same_text:
        try:
            stored = Episode.model_validate_json(ep.snapshot)
        except ValueError:
            fail(ep.version, "the stored snapshot cannot be read")
            return found
    if replayed is None or (stored is not None and replayed.model_dump(mode="json") != stored.model_dump(mode="json")):
        fail(ep.version, "the replayed episode differs from the stored snapshot")
    elif str(replayed.state) != ep.state:
        fail(ep.version, "the stored state differs from the replayed state")
    found.extend(result.problems)
    return found


#: One history as the reading process hands it on: the episode row, its event rows, the seq up to
#: which nothing is re-decided (0: everything), and what a Witness found in it.
History = tuple[EpisodeRow, list[Any], int, list[tuple[int | None, str]]]


def _histories(reader: Reader, episode_id: str | None, witness: Witness | None) -> Iterator[History]:
    """Each episode row with its event rows (plain tuples), one episode in memory at a time."""
    for ep in _episode_rows(reader, episode_id):
        rows = reader.rows(_EVENTS, (ep.id,))
        witnessed, settled = witness.history(ep, rows) if witness is not None else ([], 0)
        yield ep, rows, settled, witnessed


def _check(ep: EpisodeRow, rows: list[Any], redeciding: bool, settled: int = 0,
           witnessed: list[tuple[int | None, str]] | None = None) -> tuple[str, int, list[tuple[int | None, str]]]:
    records = list(map(EventRow._make, rows))
    tally: list[int] = []
    found = check_history(ep, records, redeciding, settled, tally)
    return ep.id, len(rows), [*(witnessed or ()), *found], sum(tally)


def _check_batch(batch: list[tuple[tuple[Any, ...], list[Any], int, list[Any]]], redeciding: bool) -> list[Any]:
    """In a worker process: check a batch of histories, results in the batch's order."""
    return [_check(EpisodeRow._make(ep), rows, redeciding, settled, witnessed)
            for ep, rows, settled, witnessed in batch]


def _batches(histories: Iterator[History]) -> Iterator[list[tuple[tuple[Any, ...], list[Any], int, list[Any]]]]:
    batch: list[tuple[tuple[Any, ...], list[Any], int, list[Any]]] = []
    size = 0
    for ep, rows, settled, witnessed in histories:
        batch.append((tuple(ep), rows, settled, witnessed))
        size += len(rows) + 1
        if size >= _BATCH_EVENTS:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _worker_started() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it stops the pool


def _in_workers(histories: Iterator[History], workers: int,
                redeciding: bool) -> Iterator[tuple[str, int, list[tuple[int | None, str]]]]:
    """check_history over worker processes, results in the order the histories were read.

    The parent reads (one read transaction, as in-process) and hands out batches of rows; at most
    two batches per worker are in flight, so memory stays bounded by the batch size, not the
    database. Workers are forked before they get any work and never touch the database: they
    check the rows they are sent. A failure in a worker is raised here, as in-process."""
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"), initializer=_worker_started)
    pending: deque[Future[list[Any]]] = deque()
    try:
        for batch in _batches(histories):
            pending.append(pool.submit(_check_batch, batch, redeciding))
            while len(pending) > 2 * workers or (pending and pending[0].done()):
                yield from pending.popleft().result()
        while pending:
            yield from pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _cpus() -> int:
    """The CPUs this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _workers(reader: Reader, settled: int = 0) -> int:
    """How many worker processes to check this database with: 0 (in-process) unless it has at
    least PARALLEL_MIN_EVENTS events to re-decide (beyond the `settled` ones an incremental verify
    only hashes: shipping those rows to workers costs more than hashing them here), there is more
    than one CPU, and it runs on Linux (workers are forked: cheap to start, nothing to re-import;
    macOS and Windows cannot fork safely)."""
    cpus = min(_cpus(), MAX_WORKERS)
    if cpus < 2 or not sys.platform.startswith("linux"):
        return 0
    ((events,),) = reader.rows(_AT_LEAST, (PARALLEL_MIN_EVENTS + settled,))  # counts no further than needed
    return cpus if events - settled >= PARALLEL_MIN_EVENTS else 0


# -- the refusal log's chain ------------------------------------------------------------------------

def refusal_rows(reader: Reader) -> list[RefusalRow]:
    """The whole refusal log in chain order (seq; rows without one, which no crs since 0003 writes, last)."""
    rows = [RefusalRow._make(row) for row in reader.rows(_REFUSALS)]
    rows.sort(key=lambda r: (not isinstance(r.seq, int), r.seq if isinstance(r.seq, int) else 0, r.id))
    return rows


def _refusal_intact(row: RefusalRow) -> bool:
    try:
        return isinstance(row.prev_hash, str) and link(row.prev_hash, refusal_canonical(row._asdict())) == row.hash
    except (TypeError, ValueError):  # a column of a type no crs writes (edited)
        return False


def check_refusals(rows: list[RefusalRow]) -> tuple[list[Failure], tuple[int, str]]:
    """Recompute the refusal log's one hash chain: seq 1, 2, ... with no gap, each prev_hash the hash
    before it, each hash over its columns (persistence/rows.py refusal_canonical), and the rows' ids
    (the order `crs audit refusals` lists them in, outside the hash) in the chain's order.

    A problem names the entry's episode only when the entry itself is intact (an edited one may name
    anything), and never quotes a stored value. Returns the failures and the head (seq, hash) checked."""
    failures: list[Failure] = []
    prev_hash, expected, last_id = GENESIS, 1, None

    def fail(row: RefusalRow | None, seq: int | None, problem: str, intact: bool = False) -> None:
        episode = row.episode_id if row is not None and intact and isinstance(row.episode_id, str) \
            and 0 < len(row.episode_id) <= _MAX_ID else None
        failures.append(Failure(episode, None, f"refusal log: {problem}", refusal=seq))

    for row in rows:
        intact = _refusal_intact(row)
        if not isinstance(row.seq, int):
            fail(row, None, "an entry has no place in the chain (inserted around the chain)", intact)
            continue
        if row.seq != expected:
            if row.seq > expected:
                gap = f"entry {expected}" if row.seq == expected + 1 else f"entries {expected}-{row.seq - 1}"
                fail(None, expected, f"{gap} missing (deleted)")
            else:
                fail(row, row.seq, f"entry {row.seq} appears more than once (inserted)", intact)
        if row.prev_hash != prev_hash:
            fail(row, row.seq, f"entry {row.seq}'s prev_hash is not the hash of the entry before it (entries "
                               "removed, inserted or reordered)", intact)
        if not intact:
            fail(row, row.seq, f"entry {row.seq} does not match its hash (edited)")
        if last_id is not None and isinstance(row.id, int) and row.id <= last_id:
            fail(row, row.seq, f"entry {row.seq} is listed out of its chain order (its id was changed)", intact)
        if isinstance(row.id, int):
            last_id = row.id
        prev_hash, expected = row.hash, max(expected, row.seq + 1)
    head = (rows[-1].seq, rows[-1].hash) if rows and isinstance(rows[-1].seq, int) else (0, GENESIS)
    return failures, head


# -- the append-only triggers ---------------------------------------------------------------------------

def check_triggers(reader: Reader) -> list[Failure]:
    """Every trigger of persistence/triggers.py is in place, enabled, and does what its migration made it do.

    SQLite keeps each trigger's CREATE statement: it must be the migration's. PostgreSQL: the trigger
    on its table, enabled for ordinary sessions (`tgenabled` O or A: D is disabled, R fires only in
    replication), firing when and for what the migration said, with no WHEN clause and no column list,
    running the migration's function, whose PL/pgSQL body must be the migration's too."""
    failures: list[Failure] = []

    def fail(problem: str) -> None:
        failures.append(Failure(None, None, problem))

    if reader.dialect == "sqlite":
        present = {name: (table, sql) for name, table, sql in reader.rows(_SQLITE_TRIGGERS)}
        for name in sorted(triggers.SQLITE):
            if name not in present:
                fail(f"trigger {name} is missing (dropped): the record is no longer append-only")
                continue
            expected = SQLITE_TRIGGER_SQL.get(name)
            table, sql = present[name]
            if expected is not None and (not isinstance(sql, str) or collapsed(sql) != collapsed(expected)):
                fail(f"trigger {name} is not the one the migrations created (re-created or altered)")
        return failures
    present_pg = {(table, name): (enabled, tgtype, no_when, columns, function, language, body)
                  for table, name, enabled, tgtype, no_when, columns, function, language, body
                  in reader.rows(_PG_TRIGGERS)}
    for table, name in sorted(triggers.POSTGRES):
        found = present_pg.get((table, name))
        if found is None:
            fail(f"trigger {name} on {table} is missing (dropped): the record is no longer append-only")
            continue
        enabled, tgtype, no_when, columns, function, language, body = found
        if enabled not in ("O", "A"):
            fail(f"trigger {name} on {table} is disabled: the record is no longer append-only")
        expected_def = POSTGRES_TRIGGER_DEFS.get((table, name))
        if expected_def is not None and (tgtype != expected_def[0] or function != expected_def[1]
                                         or not no_when or (columns or "").strip()):
            fail(f"trigger {name} on {table} is not the one the migrations created (re-created or altered)")
        expected_body = POSTGRES_FUNCTION_BODIES.get(function)
        if expected_body is not None and (language != "plpgsql" or collapsed(body or "") != expected_body):
            fail(f"trigger {name} on {table} runs a function {function} that is not the one the migrations "
                 "created (replaced)")
    for function in sorted(POSTGRES_FUNCTION_BODIES):
        ((exists,),) = reader.rows(_PG_FUNCTION, (f"{function}()",))
        if not exists:
            fail(f"trigger function {function} is missing (dropped)")
    return failures


# -- verify -----------------------------------------------------------------------------------------------

#: Progress callback of a long verify: (events checked so far, events in the database). Called once per
#: episode; the caller decides whether and how to show it (the CLI: a progress bar on a terminal).
Progress = Callable[[int, int], None]


def verify(store: Store, episode_id: str | None = None, *, witness: Witness | None = None,
           progress: Progress | None = None) -> VerifyReport:
    """Recompute every chain (or one episode's) and replay it; the report names episode and seq. The
    refusal log's chain and the triggers are the whole database's: they are checked with an EPISODE too.

    Large databases are checked by worker processes (see _in_workers); the report is the same,
    in the same order, as checked in-process. A `witness` (a checkpoint's checks) sees every row in
    the same read transaction. `progress`, if given, hears how far the check is after each episode."""
    report = VerifyReport()
    with store.reading() as reader:
        try:
            total = 0
            if progress is not None:
                sql, params = (_COUNT_EVENTS, ()) if episode_id is None else (_COUNT_EPISODE_EVENTS, (episode_id,))
                ((total,),) = reader.rows(sql, params)
            histories = _histories(reader, episode_id, witness)
            settled = witness.settled_events() if witness is not None else 0
            workers = _workers(reader, settled) if episode_id is None else 0
            checked = (_in_workers(histories, workers, REDECIDE) if workers > 1
                       else (_check(ep, rows, REDECIDE, settled, witnessed)
                             for ep, rows, settled, witnessed in histories))
            try:
                for checked_id, events, found, earlier in checked:
                    report.episodes += 1
                    report.events += events
                    if progress is not None:
                        progress(report.events, max(int(total), report.events))
                    report.earlier += earlier
                    report.failures.extend(Failure(checked_id, seq, problem) for seq, problem in found)
            finally:
                checked.close()  # stops the workers at once if anything went wrong
            if episode_id is None:
                for (orphan,) in reader.rows(_ORPHANS):
                    report.failures.append(Failure(orphan, None, "events without an episode (the episode row was removed)"))
            if witness is not None:
                report.failures.extend(witness.finish())
            refusals = refusal_rows(reader)
            problems, report.refusal_head = check_refusals(refusals)
            report.refusals = len(refusals)
            report.failures.extend(problems)
            if witness is not None:
                report.failures.extend(witness.refusal_log(refusals))
            report.failures.extend(check_triggers(reader))
        finally:
            reader.close()
    return report


def digest(store: Store) -> dict[str, Any]:
    """Each episode's last seq and hash: keep it elsewhere to detect a cut-off tail later."""
    with store.reading() as reader:
        heads = {episode: {"seq": seq, "hash": hash_} for episode, seq, hash_ in reader.rows(_HEADS)}
    return {"format": DIGEST_FORMAT, "episodes": heads}


def _digest_entries(value: Any) -> dict[str, tuple[int, str]]:
    try:
        if value.get("format") != DIGEST_FORMAT:
            raise ValueError
        return {str(k): (int(v["seq"]), str(v["hash"])) for k, v in value["episodes"].items()}
    except (AttributeError, KeyError, TypeError, ValueError):
        raise Invalid(f"the digest is not a {DIGEST_FORMAT} digest") from None


def verify_digest(store: Store, digest_value: dict[str, Any]) -> VerifyReport:
    """verify() plus: every episode in the digest still has its event at the digest's seq, with
    the digest's hash (events appended since are fine; a cut or rewritten tail is not)."""
    entries = _digest_entries(digest_value)
    report = verify(store)
    with store.reading() as reader:
        for episode_id, (seq, hash_) in sorted(entries.items()):
            stored = reader.value(_EVENT_AT, (episode_id, seq))
            if stored == hash_:
                continue
            if stored is not None:
                problem = "its hash differs from the digest (history rewritten)"
            else:
                last = reader.value(_LAST_SEQ, (episode_id,))
                problem = ("the episode is missing (deleted)" if last is None
                           else f"the history ends at seq {last}, before the digest's seq {seq} (truncated)")
            report.failures.append(Failure(episode_id, seq, problem))
    return report
