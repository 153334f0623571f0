"""A step never decides on an unchecked snapshot (HAZARDS H15; issue 11, item 2).

Regression: the episode row's `snapshot` JSON was trusted as it stood. Deleting the tocilizumab doses
from it (a plain UPDATE: no trigger dropped, no hash touched; on PostgreSQL the step role itself needs
UPDATE on `episode`) let a third dose through 15 minutes after the second. Each event now records the
SHA-256 of the snapshot it produced, inside its hash, and a step checks the snapshot it loads against
the head event in O(1): a mismatch is exit 5 naming the episode, and only the refusal is written.
"""

import json
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pathway.errors import UntrustedRecord
from persistence import audit
from persistence.rows import snapshot_text
from persistence.store import Store
from tests.persistence.test_store_contract import counts, raw
from tests.support.steps import T0, give, minutes, observe, open_episode
from tests.support.tamper import event_rows

ROOT = Path(__file__).resolve().parents[2]


def _two_doses(store: Store) -> str:
    episode_id = open_episode(store)
    observe(store, episode_id, T0 + minutes(10))  # CRS grade 2: tocilizumab indicated
    give(store, episode_id, T0 + minutes(20))
    observe(store, episode_id, T0 + minutes(20) + timedelta(hours=8))
    give(store, episode_id, T0 + minutes(21) + timedelta(hours=8), override_reason="second dose per attending")
    return episode_id


def _forge_snapshot(url: str, episode_id: str, **changes: Any) -> None:
    """What anyone with UPDATE on `episode` can do: rewrite the snapshot JSON (here: forget the doses)."""
    (snapshot,) = raw(url, "SELECT snapshot FROM episode WHERE id = ?", (episode_id,))[0]
    forged = {**json.loads(snapshot), **changes}
    raw(url, "UPDATE episode SET snapshot = ? WHERE id = ?", (json.dumps(forged), episode_id))


def test_a_third_dose_after_the_doses_were_deleted_from_the_snapshot_is_refused(store: Store, url: str) -> None:
    episode_id = _two_doses(store)
    _forge_snapshot(url, episode_id, doses=[])
    rows, before = event_rows(url, episode_id), counts(store)
    with pytest.raises(UntrustedRecord) as refused:
        give(store, episode_id, T0 + minutes(36) + timedelta(hours=8))  # 15 min after the second dose
    assert refused.value.exit_code == 5 and refused.value.rule == "RECORD_INTEGRITY"
    assert refused.value.message.startswith(f"episode {episode_id}: ") and "snapshot" in refused.value.message
    assert event_rows(url, episode_id) == rows  # no event
    assert counts(store) == {**before, "refusal": before["refusal"] + 1}  # only the refusal
    logged = store.refusals(episode_id)[-1]
    assert (logged.rule, logged.kind, logged.login) == ("RECORD_INTEGRITY", "give", store_login(url))
    assert not audit.verify(store, episode_id).ok  # QA sees it too


def test_every_step_kind_is_refused_on_a_forged_snapshot(store: Store, url: str) -> None:
    """Not only doses: an observation (the commonest step) is refused as well, so nothing builds on it."""
    episode_id = _two_doses(store)
    _forge_snapshot(url, episode_id, deviations=0)
    with pytest.raises(UntrustedRecord):
        observe(store, episode_id, T0 + minutes(40) + timedelta(hours=8))


def test_a_snapshot_re_serialised_but_equal_is_refused_too(store: Store, url: str) -> None:
    """The check is on the exact text the head event vouches for: any rewrite of the row is noticed, even
    one that means the same episode (the row is nobody's to rewrite)."""
    episode_id = _two_doses(store)
    _forge_snapshot(url, episode_id)  # same content, json.dumps spacing
    with pytest.raises(UntrustedRecord):
        observe(store, episode_id, T0 + minutes(40) + timedelta(hours=8))


def test_the_snapshot_of_every_event_is_recorded_in_its_hash(store: Store, url: str) -> None:
    episode_id = _two_doses(store)
    (snapshot,) = raw(url, "SELECT snapshot FROM episode WHERE id = ?", (episode_id,))[0]
    history = store.history(episode_id)
    assert snapshot == snapshot_text(store.episode(episode_id))
    import hashlib

    assert history[-1].event.snapshot_sha256 == hashlib.sha256(snapshot.encode()).hexdigest()
    assert all(s.event.snapshot_sha256 and s.event.login for s in history)
    assert '"snapshot_sha256":' in history[-1].event.canonical() and '"login":' in history[-1].event.canonical()


def test_a_head_hash_pointing_elsewhere_is_refused(store: Store, url: str) -> None:
    """The snapshot row moved back one version, with the earlier head's hash and snapshot (a tail hidden)."""
    episode_id = _two_doses(store)
    observe(store, episode_id, T0 + minutes(30) + timedelta(hours=8))
    raw(url, "UPDATE episode SET version = version - 1 WHERE id = ?", (episode_id,))
    with pytest.raises(UntrustedRecord):
        observe(store, episode_id, T0 + minutes(40) + timedelta(hours=8))


def store_login(url: str) -> str:
    """The login a step on this backend records: the OS login (SQLite) or the URL's role (PostgreSQL)."""
    from sqlalchemy.engine import make_url

    from persistence.identity import os_login

    parsed = make_url(url)
    return os_login() if parsed.get_backend_name() == "sqlite" else str(parsed.username)


def test_the_crs_command_exits_5_naming_the_episode(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'crs.db'}"
    store = Store.open(db)
    episode_id = _two_doses(store)
    store.close()
    _forge_snapshot(db, episode_id, doses=[])
    at = (T0 + minutes(36) + timedelta(hours=8)).isoformat()
    ran = subprocess.run([sys.executable, "-m", "cli", "--db", db, "give", episode_id, "tocilizumab", "--dose-mg",
                          "560", "--at", at, "--json"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert ran.returncode == 5, ran.stderr
    body = json.loads(ran.stdout)
    assert body["error"] == "integrity" and body["rule"] == "RECORD_INTEGRITY" and body["episode"] == episode_id
    plain = subprocess.run([sys.executable, "-m", "cli", "--db", db, "give", episode_id, "tocilizumab", "--dose-mg",
                            "560", "--at", at], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert plain.returncode == 5 and episode_id in plain.stderr and "Traceback" not in plain.stderr
    assert len(plain.stderr.strip().splitlines()) == 1


def _upgraded_fixture(tmp_path: Path) -> tuple[str, dict[str, str]]:
    """The previous release's database (schema 0001: no snapshot hashes), upgraded by opening it."""
    import shutil

    from tests.persistence.test_upgrade import FIXTURE

    copy = tmp_path / "old.db"
    shutil.copyfile(FIXTURE, copy)
    url = f"sqlite:///{copy}"
    Store.open(url).close()
    ids = dict(raw(url, "SELECT patient_ref, id FROM episode"))
    return url, ids


def test_a_forged_snapshot_on_an_upgraded_database_is_refused_by_the_fold(tmp_path: Path) -> None:
    """A head event written before the snapshot hash existed cannot vouch for the snapshot: the step folds the
    verified history instead and compares (O(events), once per such episode)."""
    from pathway.commands import RecordObservation
    from pathway.observations import Observation
    from pathway.service import handle
    from tests.persistence.test_upgrade import T0 as OLD_T0

    url, ids = _upgraded_fixture(tmp_path)
    _forge_snapshot(url, ids["ADULT-SEED"], deviations=0, doses=[])
    store = Store.open(url)
    try:
        at = datetime.fromisoformat(OLD_T0) + timedelta(days=2)  # OLD_T0: the fixture's ISO start time
        command = lambda episode_id: RecordObservation(  # noqa: E731
            at=at, actor="tester", episode_id=episode_id, observation=Observation(temp_c=37.0, o2_device="room-air"))
        with pytest.raises(UntrustedRecord):
            handle(command(ids["ADULT-SEED"]), store.unit_of_work(), at + minutes(1))
        stepped = handle(command(ids["PED-4"]), store.unit_of_work(), at + minutes(1))  # untouched: steps as ever
        assert stepped.event.snapshot_sha256 is not None  # and from now on its snapshot is bound to the chain
        assert store.history(ids["PED-4"])[-2].event.snapshot_sha256 is None  # the old events are as they were
        assert audit.verify(store, ids["PED-4"]).ok
    finally:
        store.close()
