"""A PostgreSQL connection killed under a step ends in a documented exit code, never 70 (HAZARDS H21).

Regression: `persistence/unit_of_work.py` called `rollback()` on a connection it had just invalidated,
so a backend terminated mid-step (server restart, failover, an administrator's pg_terminate_backend)
ended as an internal error (exit 70). Real server, real backends killed with pg_terminate_backend.
"""

import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import psycopg
import pytest
from sqlalchemy.engine import make_url

from cli.errors import classify
from pathway.commands import RecordObservation
from pathway.observations import Observation
from pathway.service import handle
from persistence import audit
from persistence.store import Store

pytestmark = pytest.mark.postgres


def _admin(url: str) -> psycopg.Connection[Any]:
    parsed = make_url(url)
    return psycopg.connect(host=parsed.host, port=parsed.port, user=parsed.username, dbname=parsed.database,
                           autocommit=True)


def _observe(store: Store, episode_id: str, at: datetime) -> Any:
    command = RecordObservation(at=at, actor="tester", episode_id=episode_id,
                                observation=Observation(temp_c=38.2, o2_device="room-air"))
    return handle(command, store.unit_of_work(), at + timedelta(minutes=1))


def _open(store: Store, at: datetime) -> str:
    from pathway.commands import OpenEpisode

    command = OpenEpisode(at=at, actor="tester", patient_ref="PT-LOST", weight_kg=70, age_years=50)
    return handle(command, store.unit_of_work(), at + timedelta(minutes=1)).episode.id


def _terminate_others(admin: psycopg.Connection[Any], where: str = "") -> int:
    rows = admin.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
        f"AND pid <> pg_backend_pid() {where}").fetchall()
    return len(rows)


def test_a_connection_killed_in_the_middle_of_a_step_is_exit_3_not_70(postgres_url: str) -> None:
    store = Store.open(postgres_url)
    admin = _admin(postgres_url)
    try:
        t0 = datetime.now(timezone.utc) - timedelta(hours=1)
        episode_id = _open(store, t0)
        blocker = _admin(postgres_url)
        blocker.autocommit = False
        blocker.execute("SELECT 1 FROM episode WHERE id = %s FOR UPDATE", (episode_id,))  # the step will wait
        outcome: dict[str, BaseException] = {}

        def step() -> None:
            try:
                _observe(store, episode_id, t0 + timedelta(minutes=5))
            except BaseException as exc:  # noqa: BLE001 - the test inspects it
                outcome["error"] = exc

        worker = threading.Thread(target=step)
        worker.start()
        deadline = time.monotonic() + 10
        killed = 0
        while not killed and time.monotonic() < deadline:  # the step is waiting for the lock: kill its backend
            killed = _terminate_others(admin, f"AND wait_event_type = 'Lock' AND pid <> {blocker.info.backend_pid}")
            time.sleep(0.05)
        worker.join(20)
        blocker.rollback()
        blocker.close()
        assert killed == 1 and "error" in outcome
        failure = classify(outcome["error"])
        assert failure.exit_code == 3, failure
        assert "connection" in failure.sentence.lower()
        _observe(store, episode_id, t0 + timedelta(minutes=6))  # the process goes on with a new connection
        report = audit.verify(store)
        assert report.ok and report.events == 2
    finally:
        admin.close()
        store.close()


def test_a_kept_connection_killed_between_steps_is_replaced_without_an_error(postgres_url: str) -> None:
    """A long-running process keeps its connection between steps; if the server dropped it meanwhile,
    the next step reconnects (nothing had been sent on it), so the clinician sees no error at all."""
    store = Store.open(postgres_url)
    admin = _admin(postgres_url)
    try:
        t0 = datetime.now(timezone.utc) - timedelta(hours=1)
        episode_id = _open(store, t0)
        _observe(store, episode_id, t0 + timedelta(minutes=1))
        assert _terminate_others(admin) >= 1  # the kept connection (and any other) is gone
        time.sleep(0.2)
        result = _observe(store, episode_id, t0 + timedelta(minutes=2))
        assert result.episode.version == 3
        assert audit.verify(store).ok
    finally:
        admin.close()
        store.close()
