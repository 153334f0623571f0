"""QA's proof: recompute every hash chain, replay every episode, and compare with the store.

`verify` streams episode by episode inside one read transaction (a consistent snapshot), so
its memory is bounded by the largest episode, not by the number of episodes. It never writes;
the CLI opens the store read-only for it. A chain alone cannot reveal a cut-off tail, so
`digest` exports each episode's last seq and hash, and `verify_digest` checks a store against
a digest taken earlier. Problems never quote stored values (they may hold patient data).
"""

import importlib.util
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, text

from pathway.episode import Episode, fold
from pathway.errors import Invalid, NotFound
from pathway.events import Event
from persistence.chain import GENESIS, link
from persistence.rows import EVENT_COLUMNS, canonical_from_row, event_from_row
from persistence.store import Store

DIGEST_FORMAT = "crs-digest/1"
_PAGE = 200

_EPISODES_PAGE = text(
    "SELECT id, state, version, snapshot, head_hash FROM episode WHERE id > :after ORDER BY id LIMIT :limit"
)
_ONE_EPISODE = text("SELECT id, state, version, snapshot, head_hash FROM episode WHERE id = :id")
_EVENTS = text(f"SELECT {EVENT_COLUMNS} FROM event WHERE episode_id = :id ORDER BY seq")
_HEADS = text(
    "SELECT e.episode_id, e.seq, e.hash FROM event e "
    "WHERE e.seq = (SELECT MAX(x.seq) FROM event x WHERE x.episode_id = e.episode_id) ORDER BY e.episode_id"
)
_ORPHANS = text("SELECT DISTINCT episode_id FROM event WHERE episode_id NOT IN (SELECT id FROM episode)")
_EVENT_AT = text("SELECT hash FROM event WHERE episode_id = :id AND seq = :seq")
_LAST_SEQ = text("SELECT MAX(seq) FROM event WHERE episode_id = :id")


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


def _replayer() -> Callable[[list[Event]], list[tuple[int, str]]] | None:
    """pathway.replay.replay_problems when that module exists (its own import errors propagate)."""
    if importlib.util.find_spec("pathway.replay") is None:
        return None
    from pathway.replay import replay_problems

    return replay_problems


def _episode_rows(conn: Connection, episode_id: str | None) -> Iterator[Any]:
    if episode_id is not None:
        row = conn.execute(_ONE_EPISODE, {"id": episode_id}).first()
        if row is None:
            raise NotFound(f"no episode {episode_id}")
        yield row
        return
    after = ""
    while True:
        page = conn.execute(_EPISODES_PAGE, {"after": after, "limit": _PAGE}).all()
        yield from page
        if len(page) < _PAGE:
            return
        after = page[-1].id


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
        try:
            event = event_from_row(row).event
        except (ValueError, TypeError):
            fail(row.seq, "the stored event cannot be read (edited)")
            readable = False
        else:
            if not intact and link(row.prev_hash, event.canonical()) != row.hash:
                fail(row.seq, "its content does not match its hash (edited)")
            events.append(event)
        prev_hash, expected_seq = row.hash, row.seq + 1
    return events, readable


def _check_episode(conn: Connection, ep: Any, replay: Callable[..., Any] | None, report: VerifyReport) -> None:
    def fail(seq: int | None, problem: str) -> None:
        report.failures.append(Failure(ep.id, seq, problem))

    rows = conn.execute(_EVENTS, {"id": ep.id}).all()
    report.episodes += 1
    report.events += len(rows)
    if not rows:
        fail(None, "the episode has no events")
        return
    events, readable = _check_chain(rows, fail)
    last = rows[-1]
    if last.seq != ep.version:
        fail(max(last.seq, ep.version), f"the snapshot is at version {ep.version} but the history ends at seq {last.seq}")
    if last.hash != ep.head_hash:
        fail(last.seq, "the snapshot's head hash is not the hash of the last event")
    if not readable:
        return
    try:
        replayed = fold(events)
    except (ValueError, KeyError, TypeError, AttributeError):
        fail(last.seq, "the events do not replay into an episode")
        return
    same_text = replayed is not None and replayed.model_dump_json() == ep.snapshot  # the text the store wrote
    stored: Episode | None = None
    if not same_text:
        try:
            stored = Episode.model_validate_json(ep.snapshot)
        except ValueError:
            fail(ep.version, "the stored snapshot cannot be read")
            return
    if replayed is None or (stored is not None and replayed.model_dump(mode="json") != stored.model_dump(mode="json")):
        fail(ep.version, "the replayed episode differs from the stored snapshot")
    elif str(replayed.state) != ep.state:
        fail(ep.version, "the stored state differs from the replayed state")
    if replay is not None:
        for seq, problem in replay(events):
            fail(seq, problem)


def verify(store: Store, episode_id: str | None = None) -> VerifyReport:
    """Recompute every chain (or one episode's) and replay it; the report names episode and seq."""
    report = VerifyReport()
    replay = _replayer()
    with store.reading() as conn:
        for ep in _episode_rows(conn, episode_id):
            _check_episode(conn, ep, replay, report)
        if episode_id is None:
            for orphan in conn.execute(_ORPHANS).scalars():
                report.failures.append(Failure(orphan, None, "events without an episode (the episode row was removed)"))
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
