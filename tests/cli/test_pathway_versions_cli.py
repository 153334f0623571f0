"""H23 through the real `crs`: an upgraded record the pre-issue-9 pathway wrote verifies, says how many of its
events an earlier pathway decided, and takes the next step (tests/persistence/test_pathway_versions.py has the
store-level evidence; the fixture is tests/fixtures/crs-pathway-v1.db)."""

import shutil
from pathlib import Path
from typing import Callable

from tests.cli.conftest import Ran
from tests.persistence.test_pathway_versions import EPISODE, FIXTURE, V1_EVENTS


def test_crs_verifies_an_upgraded_v1_record_and_steps_on_it(tmp_path: Path, crs_bin: Callable[..., Ran]) -> None:
    shutil.copyfile(FIXTURE, tmp_path / "crs.db")
    env = {"CRS_DB": f"sqlite:///{tmp_path / 'crs.db'}", "COLUMNS": "200"}
    assert crs_bin("upgrade", env=env).code == 0
    verified = crs_bin("audit", "verify", env=env)
    assert verified.code == 0, verified.stderr
    assert (f"{V1_EVENTS} event(s) were decided by an earlier pathway version: checked by their hash chain and kept "
            "as decided, not re-decided by today's rules.") in verified.stdout
    stepped = crs_bin("observe", EPISODE, "--at", "2026-05-04T13:00:00Z", "--temp", "38.9", "--o2", "nasal-cannula",
                      "--o2-flow", "2", env=env)
    assert stepped.code == 0, stepped.stderr
    body = crs_bin("audit", "verify", "--json", env=env).json
    assert (body["ok"], body["events"], body["earlier_pathway_events"]) == (True, V1_EVENTS + 1, V1_EVENTS)
