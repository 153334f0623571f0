"""`crs audit keygen`, `crs audit checkpoint` and `crs audit verify --checkpoint` as real processes.

The scene (tests/support/forgeries.py) is recorded in 2025 through the store; the checkpoint is taken
by the real `crs` at the wall clock, so everything the CLI records afterwards is growth.
"""

import json
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from persistence.store import Store, reset_process_cache
from tests.cli.conftest import Ran, iso, one_sentence, recent_t0
from tests.support import forgeries

Crs = Callable[..., Ran]


@pytest.fixture
def scene_db(tmp_path: Path) -> Iterator[tuple[str, forgeries.Scene]]:
    url = f"sqlite:///{tmp_path / 'crs.db'}"
    store = Store.open(url)
    scene = forgeries.build_scene(store)
    store.close()
    reset_process_cache()
    yield url, scene
    reset_process_cache()


@pytest.fixture
def keys(tmp_path: Path, crs_bin: Crs) -> Path:
    key = tmp_path / "keys" / "crs-signing"
    key.parent.mkdir()
    made = crs_bin("audit", "keygen", "--out", str(key), "--json")
    assert made.code == 0, made.stderr
    return key


def _pub(key: Path) -> Path:
    return key.with_name(key.name + ".pub")


def test_keygen_writes_a_private_key_0600_and_a_public_key_0644(tmp_path: Path, crs_bin: Crs) -> None:
    key = tmp_path / "signing"
    umask = os.umask(0o022)
    os.umask(umask)
    made = crs_bin("audit", "keygen", "--out", str(key), "--json")
    assert made.code == 0 and made.json["fingerprint"].startswith("sha256:"), made.stderr
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(_pub(key).stat().st_mode) == 0o644 & ~umask
    assert key.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert _pub(key).read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")


def test_keygen_refuses_an_existing_path(tmp_path: Path, crs_bin: Crs) -> None:
    key = tmp_path / "signing"
    assert crs_bin("audit", "keygen", "--out", str(key)).code == 0
    before = key.read_bytes(), _pub(key).read_bytes()
    again = crs_bin("audit", "keygen", "--out", str(key))
    assert again.code == 2 and one_sentence(again.stderr) and "already exists" in again.stderr
    _pub(key).rename(tmp_path / "moved.pub")  # the private key alone is still refused
    assert crs_bin("audit", "keygen", "--out", str(key)).code == 2
    (tmp_path / "moved.pub").rename(_pub(key))
    assert (key.read_bytes(), _pub(key).read_bytes()) == before
    other = tmp_path / "other"
    _pub(other).write_text("mine")  # the public half taken: nothing is written, not even the private key
    assert crs_bin("audit", "keygen", "--out", str(other)).code == 2
    assert not other.exists() and _pub(other).read_text() == "mine"


def test_keygen_never_writes_over_the_database(scene_db: tuple[str, forgeries.Scene], crs_bin: Crs) -> None:
    url, _ = scene_db
    database = Path(url.removeprefix("sqlite:///"))
    before = database.read_bytes()
    ran = crs_bin("--db", url, "audit", "keygen", "--out", str(database), "--force")
    assert ran.code == 2 and "database" in ran.stderr and database.read_bytes() == before


def test_checkpoint_then_verify_then_growth_passes(scene_db: tuple[str, forgeries.Scene], keys: Path, tmp_path: Path,
                                                   crs_bin: Crs) -> None:
    url, scene = scene_db
    out = tmp_path / "cp.json"
    taken = crs_bin("--db", url, "audit", "checkpoint", "--key", str(keys), "--out", str(out), "--json")
    assert taken.code == 0, taken.stderr
    assert taken.json["episodes"] == 2 and taken.json["events"] == 10 and taken.json["refusals"] == 3
    assert stat.S_IMODE(out.stat().st_mode) & 0o022 == 0
    printed = crs_bin("--db", url, "audit", "checkpoint", "--key", str(keys))
    assert printed.code == 0 and json.loads(printed.stdout)["format"] == "crs-checkpoint/1"
    assert set(json.loads(printed.stdout)) == set(json.loads(out.read_text()))
    check = ["--db", url, "audit", "verify", "--checkpoint", str(out), "--public-key", str(_pub(keys)), "--json"]
    verified = crs_bin(*check)
    assert verified.code == 0, verified.stdout
    body = verified.json
    assert {k: body[k] for k in ("ok", "episodes", "events", "refusals", "failures")} == {
        "ok": True, "episodes": 2, "events": 10, "refusals": 3, "failures": []}
    assert body["checkpoint"]["episodes"] == 2 and body["checkpoint"]["incremental"] is False
    at = iso(recent_t0(0.1))
    assert crs_bin("--db", url, "observe", scene.victim, "--temp", "37.2", "--at", at).code == 0  # growth
    assert crs_bin("--db", url, "give", scene.victim, "tocilizumab", "--dose-mg", "5000", "--at", at).code == 1
    assert crs_bin("--db", url, "open", "--patient", "PT-LATER", "--weight-kg", "60", "--age-years", "40",
                   "--at", at).code == 0
    for extra in ([], ["--since-checkpoint"]):
        grown = crs_bin(*check, *extra)
        assert grown.code == 0, grown.stdout
        assert grown.json["episodes"] == 3 and grown.json["refusals"] == 4
    plain = crs_bin("--db", url, "audit", "verify", "--checkpoint", str(out), "--public-key", str(_pub(keys)))
    assert plain.code == 0 and "OK" in plain.stdout


def test_verify_with_the_wrong_public_key_or_an_edited_checkpoint_fails(scene_db: tuple[str, forgeries.Scene],
                                                                       keys: Path, tmp_path: Path,
                                                                       crs_bin: Crs) -> None:
    url, _ = scene_db
    out = tmp_path / "cp.json"
    assert crs_bin("--db", url, "audit", "checkpoint", "--key", str(keys), "--out", str(out)).code == 0
    other = tmp_path / "other"
    assert crs_bin("audit", "keygen", "--out", str(other)).code == 0

    def verify(checkpoint: Path, public: Path) -> Ran:
        return crs_bin("--db", url, "audit", "verify", "--checkpoint", str(checkpoint), "--public-key", str(public))

    wrong = verify(out, _pub(other))
    assert wrong.code == 5 and one_sentence(wrong.stderr) and "another key" in wrong.stderr
    text = out.read_bytes()
    hash_at = text.index(b'"hash": "') + len(b'"hash": "')
    edited = tmp_path / "edited.json"
    edited.write_bytes(text[:hash_at] + (b"0" if text[hash_at:hash_at + 1] != b"0" else b"1") + text[hash_at + 1:])
    flipped = verify(edited, _pub(keys))
    assert flipped.code == 5 and one_sentence(flipped.stderr), flipped.stderr
    edited.write_bytes(text.replace(b"\n", b"\r\n", 1))  # one byte more, in the layout only
    assert verify(edited, _pub(keys)).code == 5
    garbage = tmp_path / "garbage.pub"
    garbage.write_text("not a key")
    bad_key = verify(out, garbage)
    assert bad_key.code == 5 and one_sentence(bad_key.stderr)
    as_json = crs_bin("--db", url, "audit", "verify", "--checkpoint", str(edited), "--public-key", str(_pub(keys)),
                      "--json")
    assert as_json.code == 5 and as_json.json["error"] == "integrity"


def test_unusable_checkpoint_and_key_files_are_invalid_input(scene_db: tuple[str, forgeries.Scene], keys: Path,
                                                            tmp_path: Path, crs_bin: Crs) -> None:
    url, _ = scene_db
    out = tmp_path / "cp.json"
    assert crs_bin("--db", url, "audit", "checkpoint", "--key", str(keys), "--out", str(out)).code == 0
    missing = tmp_path / "missing"
    cases = [
        ["audit", "verify", "--checkpoint", str(missing), "--public-key", str(_pub(keys))],
        ["audit", "verify", "--checkpoint", str(out), "--public-key", str(missing)],
        ["audit", "verify", "--checkpoint", str(out)],
        ["audit", "verify", "--public-key", str(_pub(keys))],
        ["audit", "verify", "--since-checkpoint"],
        ["audit", "verify", "--checkpoint", str(out), "--public-key", str(_pub(keys)), "E0000"],
        ["audit", "checkpoint", "--key", str(missing)],
        ["audit", "checkpoint", "--key", str(_pub(keys))],  # a public key is not a signing key
        ["audit", "checkpoint", "--key", str(keys), "--out", str(out)],  # exists
    ]
    for args in cases:
        ran = crs_bin("--db", url, *args)
        assert ran.code == 2 and one_sentence(ran.stderr), (args, ran)


def test_checkpoint_refuses_a_database_that_does_not_verify(scene_db: tuple[str, forgeries.Scene], keys: Path,
                                                           tmp_path: Path, crs_bin: Crs) -> None:
    url, _ = scene_db
    store = Store.open(url)
    forgeries.patient_ref_edited(url, store)
    store.close()
    reset_process_cache()
    out = tmp_path / "cp.json"
    refused = crs_bin("--db", url, "audit", "checkpoint", "--key", str(keys), "--out", str(out), "--json")
    assert refused.code == 5 and refused.json["error"] == "integrity" and not refused.json["ok"]
    assert "no checkpoint was signed" in refused.json["message"] and not out.exists()
    plain = crs_bin("--db", url, "audit", "checkpoint", "--key", str(keys))
    assert plain.code == 5 and "FAILED" in plain.stdout and not plain.stdout.lstrip().startswith("{")


@pytest.mark.parametrize("name", ["episode_fabricated", "refusal_deleted_rechained", "event_appended_backdated"])
def test_a_forgery_after_the_checkpoint_passes_plain_verify_and_fails_with_the_checkpoint(
        scene_db: tuple[str, forgeries.Scene], keys: Path, tmp_path: Path, crs_bin: Crs, name: str) -> None:
    url, _ = scene_db
    out = tmp_path / "cp.json"
    assert crs_bin("--db", url, "audit", "checkpoint", "--key", str(keys), "--out", str(out)).code == 0
    store = Store.open(url)
    forgeries.FORGERIES[name](url, store)
    store.close()
    reset_process_cache()
    assert crs_bin("--db", url, "audit", "verify").code == 0  # the database alone cannot show it
    for extra in ([], ["--since-checkpoint"]):
        ran = crs_bin("--db", url, "audit", "verify", "--checkpoint", str(out), "--public-key", str(_pub(keys)),
                      "--json", *extra)
        assert ran.code == 5 and ran.json["error"] == "integrity" and ran.json["failures"], ran.stdout
        assert ran.json["message"].startswith("integrity check failed: ")
    human = crs_bin("--db", url, "audit", "verify", "--checkpoint", str(out), "--public-key", str(_pub(keys)))
    assert human.code == 5 and "FAILED" in human.stdout


def test_verify_names_a_dropped_trigger(scene_db: tuple[str, forgeries.Scene], crs_bin: Crs) -> None:
    url, _ = scene_db
    store = Store.open(url)
    forgeries.triggers_dropped(url, store)
    store.close()
    reset_process_cache()
    ran = crs_bin("--db", url, "audit", "verify", "--json")
    assert ran.code == 5 and "trigger event_no_delete is missing" in ran.json["message"]
    assert ran.json["message"].startswith("integrity check failed: 2 problem(s), first: trigger")


@pytest.mark.postgres
def test_checkpoint_round_trip_on_postgresql(postgres_url: str, tmp_path: Path, crs_bin: Crs) -> None:
    store = Store.open(postgres_url)
    forgeries.build_scene(store)
    store.close()
    reset_process_cache()
    key = tmp_path / "k"
    assert crs_bin("audit", "keygen", "--out", str(key)).code == 0
    out = tmp_path / "cp.json"
    taken = crs_bin("--db", postgres_url, "audit", "checkpoint", "--key", str(key), "--out", str(out))
    assert taken.code == 0, taken.stderr
    assert json.loads(out.read_text())["backend"] == "postgresql"
    check = ["--db", postgres_url, "audit", "verify", "--checkpoint", str(out), "--public-key", str(_pub(key)),
             "--json"]
    assert crs_bin(*check).code == 0
    store = Store.open(postgres_url)
    forgeries.refusal_edited_rechained(postgres_url, store)
    store.close()
    reset_process_cache()
    assert crs_bin("--db", postgres_url, "audit", "verify").code == 0
    ran = crs_bin(*check, "--since-checkpoint")
    assert ran.code == 5 and ran.json["failures"][0]["problem"].startswith("refusal log: ")
