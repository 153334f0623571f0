"""Round trip (issue 14): observations stepped into an episode, exported as FHIR, and imported into a new
episode come back as the same inputs, grades and clinical times, and every Bundle validates.

Hypothesis draws a few observations (the property suite's own observation strategy, children included,
and vital signs with arbitrary values in range); they are stepped through the service onto a real SQLite
file, exported by `cli.fhir.export.bundle`, and imported with `crs import` (the app, in this process, so the
few dozen examples stay within a few seconds).
"""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cli.app import app
from cli.fhir.export import bundle
from pathway.commands import OpenEpisode, RecordObservation
from pathway.observations import Observation
from pathway.service import handle
from persistence.store import Store
from tests.properties.profiles import examples
from tests.properties.strategies import observations
from tests.support import fhir_r4

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=30)

#: Vital signs with any value `crs observe` accepts, not only the boundary values the strategies favour.
vitals = st.builds(lambda temp, flow, fio2: Observation(temp_c=temp, o2_device="hfnc", o2_flow_lpm=flow, fio2=fio2),
                   st.floats(30, 45), st.floats(0, 80), st.floats(0.21, 1.0))


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Any:
    url = f"sqlite:///{tmp_path_factory.mktemp('fhir-roundtrip') / 'crs.db'}"
    opened = Store.open(url)
    yield url, opened
    opened.close()


def _observed(store: Store, episode: str) -> list[tuple[str, dict[str, Any], Any, Any]]:
    return [(e.event.at.isoformat(), e.event.data["observation"], e.event.data["crs_grade"],
             e.event.data["icans_grade"]) for e in store.history(episode) if e.event.kind == "observe"]


@settings(max_examples=examples(25))
@given(child=st.booleans(), data=st.data())
def test_observations_survive_export_and_import(store: Any, tmp_path_factory: pytest.TempPathFactory,
                                                child: bool, data: st.DataObject) -> None:
    url, db = store
    drawn = data.draw(st.lists(st.one_of(observations(child), vitals), min_size=1, max_size=4))
    gaps = data.draw(st.lists(st.integers(1, 600), min_size=len(drawn), max_size=len(drawn)))
    age = 8.0 if child else 40.0
    source = handle(OpenEpisode(at=T0, actor="nurse", patient_ref="RT-1", weight_kg=40, age_years=age),
                    db.unit_of_work(), NOW).episode.id
    at = T0
    for observation, minutes in zip(drawn, gaps):
        at += timedelta(minutes=minutes)
        handle(RecordObservation(at=at, actor="nurse", episode_id=source, observation=observation),
               db.unit_of_work(), NOW)
    exported = bundle(db.episode(source), db.history(source), db.refusals(source))
    assert fhir_r4.problems(exported) == []
    target = handle(OpenEpisode(at=T0, actor="nurse", patient_ref="RT-2", weight_kg=40, age_years=age),
                    db.unit_of_work(), NOW).episode.id
    path = Path(tmp_path_factory.mktemp("bundle")) / "bundle.json"
    path.write_text(json.dumps(exported), encoding="utf-8")
    ran = CliRunner().invoke(app, ["--json", "import", target, str(path)], env={"CRS_DB": url, "CRS_ACTOR": "nurse"})
    assert ran.exit_code == 0, ran.stdout
    assert json.loads(ran.stdout)["refused"] == 0
    expected = [row for row in _observed(db, source) if row[1]]  # an observation with nothing recorded sets nothing
    got = _observed(db, target)
    assert [(t, crs, icans) for t, _, crs, icans in got] == [(t, crs, icans) for t, _, crs, icans in expected]
    for (_, inputs, _, _), (_, original, _, _) in zip(got, expected):
        assert inputs.keys() == original.keys()
        for key, value in original.items():
            assert inputs[key] == (pytest.approx(value, rel=1e-9) if isinstance(value, float) else value), key
