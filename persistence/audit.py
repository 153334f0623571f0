"""QA's proof: recompute every hash chain, replay every episode, and compare with the store.

`verify` streams episode by episode inside one read transaction (a consistent snapshot), so
its memory is bounded by the largest episode, not by the number of episodes. It never writes;
the CLI opens the store read-only for it. A chain alone cannot reveal a cut-off tail, so
`digest` exports each episode's last seq and hash, and `verify_digest` checks a store against
a digest taken earlier. Problems never quote stored values (they may hold patient data).

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
from typing import Any, get_args

from pydantic_core import from_json
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from pathway.episode import Episode
from pathway.errors import Invalid, NotFound
from pathway.events import Event, EventKind, Override
from pathway.replay import replay
from persistence.chain import GENESIS, link
from persistence.rows import EVENT_COLUMNS, EventRecord, canonical_from_row, event_from_row, target_of, text_time
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
_EPISODE_COLUMNS = "id, state, version, snapshot, head_hash"
_EPISODES_PAGE = f"SELECT {_EPISODE_COLUMNS} FROM episode WHERE id > ? ORDER BY id LIMIT {_PAGE}"
_ONE_EPISODE = f"SELECT {_EPISODE_COLUMNS} FROM episode WHERE id = ?"
_EVENTS = f"SELECT {EVENT_COLUMNS} FROM event WHERE episode_id = ? ORDER BY seq"
_AT_LEAST = "SELECT COUNT(*) FROM (SELECT 1 FROM event LIMIT ?) AS head"
_ORPHANS = "SELECT DISTINCT episode_id FROM event WHERE episode_id NOT IN (SELECT id FROM episode) ORDER BY episode_id"
_HEADS = text(
    "SELECT e.episode_id, e.seq, e.hash FROM event e "
    "WHERE e.seq = (SELECT MAX(x.seq) FROM event x WHERE x.episode_id = e.episode_id) ORDER BY e.episode_id"
)
_EVENT_AT = text("SELECT hash FROM event WHERE episode_id = :id AND seq = :seq")
_LAST_SEQ = text("SELECT MAX(seq) FROM event WHERE episode_id = :id")

#: Rows as plain tuples with names: what canonical_from_row and event_from_row read, at a tenth of
#: the cost of SQLAlchemy's Row.
EpisodeRow = namedtuple("EpisodeRow", _EPISODE_COLUMNS.replace(",", " "))
EventRow = EventRecord
_KINDS = frozenset(get_args(EventKind))


@dataclass(frozen=True)
class Failure:
    episode: str
    seq: int | None
    problem: str

    def as_json(self) -> dict[str, Any]:
        return {"episode": self.episode, "seq": self.seq, "problem": self.problem}


@dataclass
class VerifyReport:
    episodes: int = 0
    events: int = 0
    failures: list[Failure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "episodes": self.episodes, "events": self.events,
                "failures": [f.as_json() for f in self.failures]}


class _Reader:
    """The DB-API cursor of a read transaction: verify's rows without SQLAlchemy's per-row cost.

    Driver errors come out as SQLAlchemy's DBAPIError, as they would through the Connection."""

    def __init__(self, conn: Connection) -> None:
        if not conn.in_transaction():
            conn.begin()  # BEGIN now (SQLite): the raw cursor below would not autobegin
        self._driver_error: type[BaseException] = conn.dialect.loaded_dbapi.Error
        self._qmark = conn.dialect.name == "sqlite"
        self._cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]

    def rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        if not self._qmark:
            sql = sql.replace("?", "%s")
        try:
            return self._cursor.execute(sql, params).fetchall()
        except self._driver_error as exc:
            raise DBAPIError.instance(sql, params, exc, self._driver_error) from exc  # type: ignore[arg-type]

    def close(self) -> None:
        self._cursor.close()


def _episode_rows(reader: _Reader, episode_id: str | None) -> Iterator[EpisodeRow]:
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
            and type(row.recorded_at) is str):
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
                         "to_state": row.to_state, "data": data, "override": override})


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


def _check_chain(rows: list[Any], fail: Callable[[int | None, str], None]) -> tuple[list[Event], bool]:
    """Recompute one chain; return the readable events and whether every event could be read."""
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


def check_history(ep: EpisodeRow, rows: list[EventRow], redeciding: bool = True) -> list[tuple[int | None, str]]:
    """Every problem with one episode: its chain, its snapshot row, and the replay of its events.

    (seq, problem) in the order found; [] when the episode verifies. Reads nothing but its arguments."""
    found: list[tuple[int | None, str]] = []

    def fail(seq: int | None, problem: str) -> None:
        found.append((seq, problem))

    if not rows:
        fail(None, "the episode has no events")
        return found
    events, readable = _check_chain(rows, fail)
    last = rows[-1]
    if last.seq != ep.version:
        fail(max(last.seq, ep.version), f"the snapshot is at version {ep.version} but the history ends at seq {last.seq}")
    if last.hash != ep.head_hash:
        fail(last.seq, "the snapshot's head hash is not the hash of the last event")
    if not readable:
        return found
    result = replay(events, redeciding=redeciding)  # re-decides each event and folds them all, in one pass
    if result.unfolded_at is not None:  # the replay's own finding names the event and the rule, if it has one
        found.extend(result.problems or [(result.unfolded_at, "the events do not replay into an episode")])
        return found
    replayed = result.episode
    same_text = replayed is not None and replayed.model_dump_json() == ep.snapshot  # the text the store wrote
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


def _histories(reader: _Reader, episode_id: str | None) -> Iterator[tuple[EpisodeRow, list[Any]]]:
    """Each episode row with its event rows (plain tuples), one episode in memory at a time."""
    for ep in _episode_rows(reader, episode_id):
        yield ep, reader.rows(_EVENTS, (ep.id,))


def _check(ep: EpisodeRow, rows: list[Any], redeciding: bool) -> tuple[str, int, list[tuple[int | None, str]]]:
    return ep.id, len(rows), check_history(ep, list(map(EventRow._make, rows)), redeciding)


def _check_batch(batch: list[tuple[tuple[Any, ...], list[Any]]], redeciding: bool) -> list[Any]:
    """In a worker process: check a batch of histories, results in the batch's order."""
    return [_check(EpisodeRow._make(ep), rows, redeciding) for ep, rows in batch]


def _batches(histories: Iterator[tuple[EpisodeRow, list[Any]]]) -> Iterator[list[tuple[tuple[Any, ...], list[Any]]]]:
    batch: list[tuple[tuple[Any, ...], list[Any]]] = []
    size = 0
    for ep, rows in histories:
        batch.append((tuple(ep), rows))
        size += len(rows) + 1
        if size >= _BATCH_EVENTS:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _worker_started() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it stops the pool


def _in_workers(histories: Iterator[tuple[EpisodeRow, list[Any]]], workers: int,
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


def _workers(reader: _Reader) -> int:
    """How many worker processes to check this database with: 0 (in-process) unless it has at
    least PARALLEL_MIN_EVENTS events, there is more than one CPU, and it runs on Linux (workers are
    forked: cheap to start, nothing to re-import; macOS and Windows cannot fork safely)."""
    cpus = min(_cpus(), MAX_WORKERS)
    if cpus < 2 or not sys.platform.startswith("linux"):
        return 0
    ((events,),) = reader.rows(_AT_LEAST, (PARALLEL_MIN_EVENTS,))  # counts no further than the threshold
    return cpus if events >= PARALLEL_MIN_EVENTS else 0


def verify(store: Store, episode_id: str | None = None) -> VerifyReport:
    """Recompute every chain (or one episode's) and replay it; the report names episode and seq.

    Large databases are checked by worker processes (see _in_workers); the report is the same,
    in the same order, as checked in-process."""
    report = VerifyReport()
    with store.reading() as conn:
        reader = _Reader(conn)
        try:
            histories = _histories(reader, episode_id)
            workers = _workers(reader) if episode_id is None else 0
            checked = (_in_workers(histories, workers, REDECIDE) if workers > 1
                       else (_check(ep, rows, REDECIDE) for ep, rows in histories))
            try:
                for checked_id, events, found in checked:
                    report.episodes += 1
                    report.events += events
                    report.failures.extend(Failure(checked_id, seq, problem) for seq, problem in found)
            finally:
                checked.close()  # stops the workers at once if anything went wrong
            if episode_id is None:
                for (orphan,) in reader.rows(_ORPHANS):
                    report.failures.append(Failure(orphan, None, "events without an episode (the episode row was removed)"))
        finally:
            reader.close()
    return report


def digest(store: Store) -> dict[str, Any]:
    """Each episode's last seq and hash: keep it elsewhere to detect a cut-off tail later."""
    with store.reading() as conn:
        heads = {row.episode_id: {"seq": row.seq, "hash": row.hash} for row in conn.execute(_HEADS)}
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
    with store.reading() as conn:
        for episode_id, (seq, hash_) in sorted(entries.items()):
            stored = conn.execute(_EVENT_AT, {"id": episode_id, "seq": seq}).scalar()
            if stored == hash_:
                continue
            if stored is not None:
                problem = "its hash differs from the digest (history rewritten)"
            else:
                last = conn.execute(_LAST_SEQ, {"id": episode_id}).scalar()
                problem = ("the episode is missing (deleted)" if last is None
                           else f"the history ends at seq {last}, before the digest's seq {seq} (truncated)")
            report.failures.append(Failure(episode_id, seq, problem))
    return report
