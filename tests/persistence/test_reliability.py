"""Crash and concurrency proof with real processes on SQLite and PostgreSQL.

Crash: a child steps one episode in a loop and acks each committed step on a pipe; it is
SIGKILLed at random moments, at least 50 times. Afterwards `audit verify` passes and every
acknowledged step is stored, byte for byte. Concurrency: rounds of 8 processes step one
episode at the same moment, most of them racing a tocilizumab dose at the same clinical time.
Run with `pytest -s` to see the figures.
"""

import json
import os
import random
import signal
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from itertools import combinations
from typing import Any


from pathway.commands import OpenEpisode, RecordObservation
from pathway.episode import fold
from pathway.service import handle
from persistence import audit
from persistence.store import Store
from tests.support import stepper

KILLS = 50
PROCESSES = 8


def _open_treatable_episode(store: Store, opened_at: datetime) -> str:
    """An episode with a CRS grade 2 observation on record, so tocilizumab is indicated."""
    now = datetime.now(timezone.utc)
    opened = handle(OpenEpisode(at=opened_at, actor="setup", patient_ref="PT-REL", weight_kg=70, age_years=60),
                    store.unit_of_work(), now)
    episode_id = opened.episode.id
    handle(RecordObservation(at=opened_at + timedelta(minutes=1), actor="setup", episode_id=episode_id,
                             observation=stepper.GRADE_2), store.unit_of_work(), now)
    return episode_id


def _drain(reader: Any) -> list[tuple[Any, ...]]:
    messages = []
    while reader.poll():
        try:
            messages.append(reader.recv())
        except (EOFError, OSError):
            break  # the writer is gone; a message cut by the kill was never acknowledged
    return messages


def _figures(title: str, figures: dict[str, Any]) -> None:
    print(f"\n[reliability] {title}: {json.dumps(figures, sort_keys=True)}")


def test_crash_kills_lose_no_acknowledged_step(url: str, store: Store) -> None:
    ctx = stepper.context()
    rng = random.Random(20250301)
    episode_id = _open_treatable_episode(store, datetime.now(timezone.utc) - timedelta(minutes=1))
    setup_events = len(store.history(episode_id))
    acked: dict[int, str] = {}
    conflicts = kills_mid_loop = 0
    started = time.monotonic()
    for run in range(KILLS):
        reader, writer = ctx.Pipe(duplex=False)
        child = ctx.Process(target=stepper.crash_loop, args=(url, episode_id, writer), daemon=True)
        child.start()
        writer.close()
        assert reader.poll(60), "the child never became ready"
        first = reader.recv()
        assert first[0] == "ready", first
        # a fifth of the kills land at once (in the first step), the rest anywhere in the loop
        time.sleep(0.0 if run % 5 == 0 else rng.uniform(0.0, 0.15))
        os.kill(child.pid, signal.SIGKILL)  # type: ignore[arg-type]
        child.join(30)
        assert child.exitcode == -signal.SIGKILL, f"child ended by itself: {_drain(reader)}"
        messages = _drain(reader)
        reader.close()
        errors = [m[1] for m in messages if m[0] == "error"]
        assert not errors, errors[0]
        run_acks = [m for m in messages if m[0] == "ack"]
        kills_mid_loop += bool(run_acks)
        conflicts += sum(m[0] == "conflict" for m in messages)
        for _, seq, canonical in run_acks:
            assert seq not in acked, f"seq {seq} acknowledged twice"
            acked[seq] = canonical
    elapsed = time.monotonic() - started

    reader_store = Store.open(url, read_only=True)
    report = audit.verify(reader_store)
    assert report.ok, report.as_json()
    history = reader_store.history(episode_id)
    stored = {s.event.seq: s.event.canonical() for s in history}
    assert list(stored) == list(range(1, len(history) + 1))
    missing = [seq for seq, canonical in acked.items() if stored.get(seq) != canonical]
    assert not missing, f"acknowledged steps not stored as acknowledged: {missing[:10]}"
    assert fold(s.event for s in history) == reader_store.episode(episode_id)
    stored_steps = len(history) - setup_events
    assert stored_steps >= len(acked) > 0
    _figures(f"crash/{store.backend}", {
        "runs": KILLS, "kills": KILLS, "kills_after_an_ack": kills_mid_loop, "acknowledged_steps": len(acked),
        "stored_steps": stored_steps, "committed_but_unacknowledged": stored_steps - len(acked),
        "conflicts": conflicts, "verify_ok": report.ok, "seconds": round(elapsed, 1),
    })


ROUNDS: list[dict[str, Any]] = [
    # hours after opening, tocilizumab racers (override reason or None), tocilizumab doses expected to win
    {"hours": 0.5, "override": None, "winners": 1, "timeout_s": 10.0},  # first dose: one wins
    {"hours": 9.0, "override": None, "winners": 1, "timeout_s": 10.0},  # 8 h later: one second dose wins
    {"hours": 9.5, "override": "racing", "winners": 0, "timeout_s": 10.0},  # 30 min later: hard interval
    {"hours": 18.0, "override": "3rd dose agreed", "winners": 1, "timeout_s": 10.0},  # third, overridden
    {"hours": 18.5, "override": None, "winners": 0, "timeout_s": 0.02},  # impatient: conflicts allowed
]
TOCI_RACERS = 5


def _race_round(ctx: Any, url: str, episode_id: str, at: datetime, spec: dict[str, Any]) -> list[tuple[str, Any]]:
    go = ctx.Event()
    children = []
    for n in range(PROCESSES):
        racer = n < TOCI_RACERS
        action = {"kind": "give" if racer else "observe", "actor": f"racer-{n}", "at": at.isoformat(),
                  "dose_mg": 560, "override_reason": spec["override"] if racer else None}
        reader, writer = ctx.Pipe(duplex=False)
        child = ctx.Process(target=stepper.race_step, args=(url, episode_id, action, spec["timeout_s"], writer, go),
                            daemon=True)
        child.start()
        writer.close()
        children.append((action, child, reader))
    for _, _, reader in children:
        assert reader.poll(60) and reader.recv()[0] == "ready"
    go.set()  # all at once
    outcomes = []
    for action, child, reader in children:
        assert reader.poll(60), "a racer never answered"
        message = reader.recv()
        child.join(30)
        assert message[0] != "error", message[1]
        outcomes.append((action["kind"], message))
    return outcomes


def test_concurrent_steps_never_double_dose_or_lose_an_update(url: str, store: Store) -> None:
    ctx = stepper.context()
    opened_at = datetime.now(timezone.utc) - timedelta(hours=30)
    episode_id = _open_treatable_episode(store, opened_at)
    setup_events = len(store.history(episode_id))
    winners: dict[int, str] = {}
    tally: Counter[str] = Counter()
    refusal_rules: Counter[str] = Counter()
    for spec in ROUNDS:
        outcomes = _race_round(ctx, url, episode_id, opened_at + timedelta(hours=spec["hours"]), spec)
        toci_wins = sum(kind == "give" and m[0] == "ok" for kind, m in outcomes)
        assert toci_wins == spec["winners"], outcomes
        for kind, message in outcomes:
            assert message[0] in ("ok", "conflict", "refused"), message
            tally[f"{kind}_{message[0]}"] += 1
            if message[0] == "ok":
                assert message[1] not in winners, f"seq {message[1]} given to two steps"
                winners[message[1]] = message[2]
            if message[0] == "refused":
                assert kind == "give", f"an observation was refused: {message}"
                refusal_rules.update(message[1][:1])

    ro = Store.open(url, read_only=True)
    history = ro.history(episode_id)
    seqs = [s.event.seq for s in history]
    assert seqs == list(range(1, len(seqs) + 1)), "duplicate or missing seq"
    assert len(history) == setup_events + len(winners), "a step that succeeded is not stored (lost update)"
    assert all(history[seq - 1].event.canonical() == canonical for seq, canonical in winners.items())
    doses = [s.event.at for s in history if s.event.kind == "give" and s.event.data["drug"] == "tocilizumab"]
    assert len(doses) == sum(r["winners"] for r in ROUNDS)
    assert all(abs(a - b) >= timedelta(hours=8) for a, b in combinations(doses, 2)), "two doses within 8 h"
    assert ro.episode(episode_id) == fold(s.event for s in history)
    report = audit.verify(ro)
    assert report.ok, report.as_json()
    refusals_logged = len(ro.refusals(episode_id))
    assert refusals_logged == sum(v for k, v in tally.items() if k.endswith("_refused"))
    _figures(f"concurrency/{store.backend}", {
        "rounds": len(ROUNDS), "processes": len(ROUNDS) * PROCESSES, "steps_stored": len(winners),
        "tocilizumab_doses": len(doses), "conflicts": sum(v for k, v in tally.items() if k.endswith("_conflict")),
        "refusals": refusals_logged, "refusal_rules": dict(refusal_rules), "outcomes": dict(tally),
        "verify_ok": report.ok,
    })


def test_every_kill_is_a_real_sigkill_of_a_separate_process(url: str, store: Store) -> None:
    """Guard for the harness itself: children are distinct OS processes holding their own connection."""
    ctx = stepper.context()
    episode_id = _open_treatable_episode(store, datetime.now(timezone.utc) - timedelta(minutes=1))
    reader, writer = ctx.Pipe(duplex=False)
    child = ctx.Process(target=stepper.crash_loop, args=(url, episode_id, writer), daemon=True)
    child.start()
    writer.close()
    assert reader.poll(60) and reader.recv() == ("ready", child.pid)
    assert child.pid != os.getpid() and os.getppid() != child.pid
    while not any(m[0] == "ack" for m in _drain(reader)):
        assert reader.poll(30)
    os.kill(child.pid, signal.SIGKILL)  # type: ignore[arg-type]
    child.join(30)
    assert child.exitcode == -signal.SIGKILL
    assert audit.verify(Store.open(url, read_only=True)).ok
