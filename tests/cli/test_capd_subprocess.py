"""`crs observe --capd N|unable` through the INSTALLED `crs`, as real processes on a real SQLite file.

The CAPD rows of CLINICAL.md §2b at their boundaries (0, 8, 9, 32, unable; to voice at 8), the age
boundary of the default policy (CAPD below 12.0 years: 11.9 takes --capd, 12.0 takes --ice), and
invalid input: exit 2 with one sentence (or one JSON object) naming the other option, and a
database byte for byte unchanged.
"""

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.cli.conftest import Ran, iso, one_sentence, recent_t0

pytestmark = pytest.mark.slow


class Ward:
    """One SQLite file, episodes opened through `crs`, observations at increasing clinical times."""

    def __init__(self, crs_bin: Callable[..., Ran], folder: Path) -> None:
        self.crs_bin, self.folder = crs_bin, folder
        self.url = f"sqlite:///{folder / 'crs.db'}"
        self.t0: datetime = recent_t0(20)
        self.minutes = 0

    def run(self, *args: str) -> Ran:
        return self.crs_bin(*args, env={"CRS_DB": self.url})

    def open(self, age: str, weight: str = "16") -> str:
        ran = self.run("open", "--patient", f"PED-{age}", "--weight-kg", weight, "--age-years", age,
                       "--at", iso(self.t0), "--json")
        assert ran.code == 0, ran.stderr
        return str(ran.json["episode"])

    def observe(self, episode: str, *args: str, as_json: bool = True) -> Ran:
        self.minutes += 10
        at = iso(self.t0 + timedelta(minutes=self.minutes))
        return self.run("observe", episode, "--temp", "37", "--o2", "room-air", *args, "--at", at,
                        *(["--json"] if as_json else []))

    def files(self) -> dict[str, bytes]:
        return {path.name: path.read_bytes() for path in sorted(self.folder.iterdir())}


@pytest.fixture
def ward(crs_bin: Callable[..., Ran], tmp_path: Path) -> Ward:
    return Ward(crs_bin, tmp_path)


@pytest.mark.parametrize("capd, consciousness, grade, decided", [
    ("0", "awake", 0, "no neurological finding"),
    ("8", "awake", 1, "capd=8"),
    ("8", "voice", 2, "capd=8"),  # CAPD 1–8 to voice: grade 2 (consciousness to voice is grade 2 too)
    ("9", "awake", 3, "capd=9"),
    ("32", "awake", 3, "capd=32"),
    ("unable", "awake", 4, "capd=unable"),
    ("UNABLE", "awake", 4, "capd=unable"),
])
def test_capd_grades_a_child(ward: Ward, capd: str, consciousness: str, grade: int, decided: str) -> None:
    episode = ward.open("4")
    ran = ward.observe(episode, "--capd", capd, "--consciousness", consciousness)
    assert ran.code == 0, ran.stderr
    body = ran.json
    assert (body["crs_grade"], body["icans_grade"], body["icans_screen"]) == (0, grade, "capd")
    basis = body["observation"]["icans_basis"]
    assert decided in basis["decided_by"] and basis["missing"] == []
    recorded = body["basis"]["inputs"]
    assert (recorded.get("capd_score"), recorded.get("capd_unable", False)) == (
        (None, True) if capd.lower() == "unable" else (int(capd), False))


def test_capd_without_consciousness_is_graded_but_partly_assessed(ward: Ward) -> None:
    episode = ward.open("4")
    body = ward.observe(episode, "--capd", "9").json
    assert body["icans_grade"] == 3 and body["observation"]["icans_basis"]["missing"] == ["consciousness"]
    assess = [step for step in body["next_steps"] if step["kind"] == "assess"]
    assert [step["missing"] for step in assess] == [["consciousness"]], "partly assessed: asked, not first"
    shown = ward.observe(episode, "--capd", "9", as_json=False)
    assert shown.code == 0 and "ICANS grade 3" in shown.stdout
    assert "not recorded: level of consciousness" in shown.stdout


def test_age_boundary_11_9_takes_capd_12_0_takes_ice(ward: Ward) -> None:
    younger, older = ward.open("11.9", "40"), ward.open("12.0", "40")
    assert ward.observe(younger, "--capd", "0", "--consciousness", "awake").json["icans_grade"] == 0
    assert ward.observe(older, "--ice", "10", "--consciousness", "awake").json["icans_grade"] == 0
    before = ward.files()
    for episode, wrong, right in ((younger, ["--ice", "10"], "--capd"), (older, ["--capd", "0"], "--ice")):
        for as_json in (False, True):
            ran = ward.observe(episode, *wrong, "--consciousness", "awake", as_json=as_json)
            assert ran.code == 2, ran
            if as_json:
                assert ran.stderr == "" and len(ran.stdout.strip().splitlines()) == 1
                assert ran.json["error"] == "invalid" and right in ran.json["message"]
                assert one_sentence(ran.json["message"])
            else:
                assert ran.stdout == "" and one_sentence(ran.stderr) and right in ran.stderr, ran.stderr
    assert ward.files() == before, "invalid input writes nothing, not even a refusal"
    assert ward.run("audit", "refusals", "--json").json == {"refusals": []}


@pytest.mark.parametrize("argv, needle", [
    (["--capd", "33"], "--capd"),
    (["--capd", "-1"], "--capd"),
    (["--capd", "abc"], "--capd"),
    (["--capd", "8.5"], "--capd"),
    (["--capd", "3", "--ice", "10"], "--ice"),
], ids=lambda value: " ".join(value) if isinstance(value, list) else value)
def test_invalid_capd_exits_2_and_writes_nothing(ward: Ward, argv: list[str], needle: str) -> None:
    episode = ward.open("4")
    before = ward.files()
    plain = ward.observe(episode, *argv, as_json=False)
    assert plain.code == 2 and plain.stdout == "" and one_sentence(plain.stderr), plain
    assert needle in plain.stderr and "Traceback" not in plain.stderr
    as_json = ward.observe(episode, *argv)
    assert as_json.code == 2 and as_json.stderr == "" and as_json.json["error"] == "invalid"
    assert ward.files() == before


def test_the_file_comparison_can_fail(ward: Ward) -> None:
    """A valid observation does change the file: the comparisons above have teeth."""
    episode = ward.open("4")
    before = ward.files()
    assert ward.observe(episode, "--capd", "3").code == 0
    assert ward.files() != before
