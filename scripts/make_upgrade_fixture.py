"""Build the upgrade fixture: a small SQLite database written by an EARLIER release's own code.

Why: issue 10 added schema revision 0002 (event.target_seq, refusal.breaks_seq). A database made by
the previous release (commit 7e4f21e, crs 0.1.0, schema revision 0001) must upgrade in place and
still verify. A fixture made by today's code with columns dropped would prove nothing about what an
old release really wrote, so this script imports nothing of today's tree: it must be run with
PYTHONPATH pointing at a checkout of the old release, and refuses to run otherwise.

    git -C /work/main worktree add /tmp/prev 7e4f21e
    PYTHONPATH=/tmp/prev .venv/bin/python scripts/make_upgrade_fixture.py tests/fixtures/crs-0.1.0-rev0001.db
    git -C /work/main worktree remove /tmp/prev

It writes OUT (the database, journal checkpointed into the one file) and OUT with the suffix
`.json` beside it: a manifest of what was written (each episode's id, patient reference, state,
version and every event's hash, the refusal rows), read by tests/persistence/test_upgrade.py to
check that the upgrade left every stored byte alone.

What it records (clinical times are fixed; each step is decided one minute after its clinical time,
so the rows do not depend on the wall clock; only the episode ids are random, as in the release):
- ADULT-SEED (70 kg, 54 y): CRS 2 -> tocilizumab -> a repeat within 8 h refused (hard) -> labs ->
  CRS 3 -> dexamethasone (state steroid);
- PED-4 (16 kg, 4 y): a child assessed by CAPD, CRS 3 / ICANS 3 -> ICU, tocilizumab 192 mg ->
  dexamethasone 10 mg refused (per-kg ceiling, overridable) -> given with an override (a deviation);
- ADULT-RESOLVED (80 kg, 61 y): CRS 1 -> calm -> resolve with an override -> close;
- one refused open (a clinical time in the future): a refusal row with no episode.
"""

import json
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

EXPECTED_REVISION = "0001"
T0 = datetime(2026, 9, 14, 8, 0, tzinfo=timezone.utc)
ADULT_NEURO = {"ice_score": 10, "consciousness": "awake"}


def _release_modules() -> Any:
    """The old release's modules; exit 2 with one sentence if this is not the old release."""
    try:
        from persistence import schema
    except ImportError:
        sys.exit("run with PYTHONPATH pointing at a checkout of the earlier release (see this script's docstring)")
    if schema.HEAD != EXPECTED_REVISION:
        print(f"this is a crs with schema {schema.HEAD}, not the earlier release ({EXPECTED_REVISION}); "
              "set PYTHONPATH to a checkout of commit 7e4f21e", file=sys.stderr)
        sys.exit(2)
    import pathway.commands as commands
    from pathway.errors import Refused
    from pathway.observations import Observation
    from pathway.service import handle
    from persistence.store import Store, reset_process_cache

    return commands, Refused, Observation, handle, Store, reset_process_cache


def h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def build(out: Path) -> dict[str, Any]:
    commands, Refused, Observation, handle, Store, reset_process_cache = _release_modules()
    url = f"sqlite:///{out}"
    store = Store.open(url)
    refused: list[str] = []

    def run(command: Any, now: datetime | None = None) -> Any:
        return handle(command, store.unit_of_work(), now or command.at + timedelta(minutes=1))

    def refuse(command: Any, now: datetime | None = None) -> None:
        try:
            run(command, now)
        except Refused as refusal:
            refused.append(refusal.rule)
            return
        raise SystemExit(f"expected a refusal of a {command.kind} step; the earlier release accepted it")

    def opened(at: datetime, **kw: Any) -> str:
        return run(commands.OpenEpisode(at=at, actor="nurse-a", **kw)).episode.id

    def observe(episode: str, at: datetime, **obs: Any) -> None:
        run(commands.RecordObservation(at=at, actor="nurse-a", episode_id=episode, observation=Observation(**obs)))

    def give(episode: str, at: datetime, drug: str, dose_mg: float, override: str | None = None) -> Any:
        return commands.AdministerDose(at=at, actor="dr-b", episode_id=episode, drug=drug, dose_mg=dose_mg,
                                       override_reason=override)

    def act(episode: str, at: datetime, action: str, note: str | None = None) -> None:
        run(commands.RecordAction(at=at, actor="nurse-a", episode_id=episode, action=action, note=note))

    # 1. seed-like adult: CRS 2 -> tocilizumab -> (repeat refused) -> CRS 3 -> dexamethasone
    adult = opened(h(0), patient_ref="ADULT-SEED", weight_kg=70, age_years=54, context="day 5 after axi-cel")
    observe(adult, h(0.25), temp_c=38.6, o2_device="nasal-cannula", o2_flow_lpm=4, **ADULT_NEURO)
    run(give(adult, h(0.5), "tocilizumab", 560))
    refuse(give(adult, h(1), "tocilizumab", 560, override="asked twice"))  # TOCI_MIN_INTERVAL: hard
    act(adult, h(1), "labs", note="CRP and ferritin sent")
    observe(adult, h(6), temp_c=39.0, o2_device="hfnc", o2_flow_lpm=30, fio2=0.4, **ADULT_NEURO)
    run(give(adult, h(6.25), "dexamethasone", 10))

    # 2. a child assessed by CAPD: per-kg doses, an overridden steroid dose
    child = opened(h(1), patient_ref="PED-4", weight_kg=16, age_years=4, context="day 3 after tisagenlecleucel")
    observe(child, h(1.5), temp_c=39.2, o2_device="hfnc", o2_flow_lpm=2, capd_score=12, consciousness="voice")
    act(child, h(1.75), "icu-transfer")
    run(give(child, h(2), "tocilizumab", 192))
    refuse(give(child, h(2.25), "dexamethasone", 10))  # STEROID_DOSE_PER_KG: overridable
    run(give(child, h(2.25), "dexamethasone", 10, override="oncology consultant: 10 mg agreed"))

    # 3. resolved and closed, the resolve under an override
    calm = opened(h(2), patient_ref="ADULT-RESOLVED", weight_kg=80, age_years=61)
    observe(calm, h(2.5), temp_c=38.3, o2_device="room-air", **ADULT_NEURO)
    observe(calm, h(14.5), temp_c=36.9, o2_device="room-air", **ADULT_NEURO)
    resolve = commands.Resolve(at=h(15), actor="dr-b", episode_id=calm,
                               override_reason="afebrile and well; discharged to ward care")
    run(resolve)
    run(commands.Close(at=h(16), actor="dr-b", episode_id=calm, reason="CRS resolved"))

    # 4. a refused open: a refusal row without an episode
    refuse(commands.OpenEpisode(at=h(30), actor="nurse-a", patient_ref="TYPO-1", weight_kg=70, age_years=40),
           now=h(3))

    manifest = _manifest(store, refused)
    store.close()
    reset_process_cache()  # the last connection checkpoints the WAL into the file and removes it
    return manifest


def _manifest(store: Any, refused: list[str]) -> dict[str, Any]:
    from persistence import schema

    episodes = []
    for episode in store.episodes():
        history = store.history(episode.id)
        episodes.append({
            "id": episode.id, "patient_ref": episode.patient_ref, "state": str(episode.state),
            "version": episode.version, "kinds": [s.event.kind for s in history],
            "hashes": [s.hash for s in history],
            "overridden": [s.event.seq for s in history if s.event.override is not None],
        })
    return {"made_by": "crs 0.1.0, commit 7e4f21e", "revision": schema.HEAD, "t0": T0.isoformat(),
            "episodes": episodes, "refusals": [{"rule": r.rule, "episode_id": r.episode_id, "kind": r.kind}
                                                for r in store.refusals()],
            "refused_rules": refused}


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: PYTHONPATH=<checkout of 7e4f21e> python scripts/make_upgrade_fixture.py OUT.db", file=sys.stderr)
        return 2
    out = Path(argv[0]).resolve()
    if out.exists():
        print(f"{out} exists; remove it first (the fixture is made once, from an empty file)", file=sys.stderr)
        return 2
    out.parent.mkdir(parents=True, exist_ok=True)
    manifest = build(out)
    for leftover in (out.with_name(out.name + "-wal"), out.with_name(out.name + "-shm")):
        if leftover.exists() and leftover.stat().st_size == 0:
            leftover.unlink()
    out.with_suffix(".json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {out} ({out.stat().st_size} bytes): {len(manifest['episodes'])} episodes, "
          f"{sum(len(e['hashes']) for e in manifest['episodes'])} events, {len(manifest['refusals'])} refusals")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
