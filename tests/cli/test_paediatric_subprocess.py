"""The paediatric scenario through the INSTALLED `crs`: real processes, a real SQLite file (`--db`), `--json`,
real absolute `--at` times. The rows are tests/scenarios/test_paediatric.py's `STEPS`, the same table the
in-process test runs: each row's expectations are checked on the subprocess answers, and every answer must
equal the in-process one for the same T0 (the episode id aside), so the two runs cannot drift.
"""

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import Ran, iso, recent_t0
from tests.scenarios.driver import Answer, Step, check_answer, run_in_process, step_at, step_argv
from tests.scenarios.test_paediatric import STEPS, check_every_status, done_steps

pytestmark = pytest.mark.slow
IN_PROCESS_ID = "E0001"  # the in-process driver's episode id


class Run:
    """Steps a table through `crs`, keeping every answer by row name."""

    def __init__(self, crs_bin: Callable[..., Ran], url: str, t0: datetime) -> None:
        self.crs_bin, self.url, self.t0 = crs_bin, url, t0
        self.episode = ""
        self.answers: dict[str, Answer] = {}
        self.raw: dict[str, Ran] = {}

    def crs(self, *argv: str) -> Ran:
        return self.crs_bin("--db", self.url, *argv, "--json")

    def step(self, step: Step) -> Answer:
        ran = self.crs(*step_argv(step, self.episode, self.t0))
        self.raw[step.name] = ran
        assert ran.stderr == "", f"{step.name}: {ran.stderr}"
        body = ran.json  # exactly one JSON object on stdout, on success and on error
        if ran.code == 0:
            answer = self._done(step, body)
        elif ran.code == 1:
            assert body["error"] == "refused"
            answer = Answer(1, error={"rule": body["rule"], "rules": body["rules"], "overridable": body["overridable"],
                                      "earliest_at": body.get("earliest_at")})
        elif ran.code == 2:
            assert body["error"] == "invalid"
            answer = Answer(2, error={"message": body["message"]})
        else:
            answer = Answer(ran.code, error=body)
        self.answers[step.name] = answer
        return answer

    def _done(self, step: Step, body: dict[str, Any]) -> Answer:
        if step.verb == "verify":
            return Answer(0, body=body)
        if step.verb == "open":
            self.episode = body["episode"]
            at = step_at(step, self.t0)
            assert at is not None
            status = self.crs("status", self.episode, "--as-of", iso(at))
            assert status.code == 0, status.stdout
            as_of = dict(status.json)
            assert as_of.pop("corrected_entries") == [], "nothing corrected in this episode"
            return Answer(0, state=body["state"], status=self._mask(as_of))
        if step.verb == "observe":
            observation = body["observation"]
            status = {k: v for k, v in body.items() if k not in ("seq", "observation")}
            grades = (status["crs_grade"], status["icans_grade"])
            assert (observation["crs_grade"], observation["icans_grade"]) == grades
            return Answer(0, state=body["state"], status=self._mask(status))
        return Answer(0, state=body["state"], status=self._mask(body["status"]), deviation=body["deviation"])

    def _mask(self, value: Any) -> Any:
        """The in-process driver's episode id in place of this database's, for exact comparison."""
        if isinstance(value, dict):
            return {k: self._mask(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._mask(v) for v in value]
        if isinstance(value, str) and self.episode:
            return value.replace(self.episode, IN_PROCESS_ID)
        return value


@pytest.fixture(scope="module")
def run(crs_bin: Callable[..., Ran], tmp_path_factory: pytest.TempPathFactory) -> Run:
    folder: Path = tmp_path_factory.mktemp("paediatric")
    script = Run(crs_bin, f"sqlite:///{folder / 'paediatric.db'}", recent_t0(60))  # T0+58 h lies before now
    for step in STEPS:
        script.step(step)
    return script


@pytest.fixture(scope="module")
def in_process(run: Run) -> dict[str, Answer]:
    """The same table on the pure core, with the same T0."""
    return run_in_process(STEPS, run.t0)[1]


@pytest.mark.parametrize("step", STEPS, ids=[s.name for s in STEPS])
def test_step(run: Run, step: Step) -> None:
    answer = run.answers[step.name]
    check_answer(step, answer, run.t0)
    check_every_status(step, answer)


@pytest.mark.parametrize("step", STEPS, ids=[s.name for s in STEPS])
def test_step_answers_as_in_process(run: Run, in_process: dict[str, Answer], step: Step) -> None:
    ours, theirs = run.answers[step.name], in_process[step.name]
    assert (ours.code, ours.state, ours.deviation, ours.body) == (theirs.code, theirs.state, theirs.deviation,
                                                                  theirs.body)
    assert ours.status == theirs.status
    if ours.code == 1:
        assert ours.error == theirs.error


def test_history_and_refusals(run: Run) -> None:
    history = run.crs("history", run.episode)
    assert history.code == 0
    assert [e["kind"] for e in history.json["events"]] == [s.verb for s in done_steps()]
    refusals = run.crs("audit", "refusals", run.episode)
    assert refusals.code == 0
    # refused attempts are logged (exit 1); invalid input (exit 2, the ICE for a child) is not a step at all
    assert [r["rule"] for r in refusals.json["refusals"]] == [r for s in STEPS if s.code == 1 for r in s.rules[:1]]
    assert [r["rule"] for r in refusals.json["refusals"]] == ["STEROID_DOSE_PER_KG", "STEROID_DOSE_PER_KG",
                                                             "RESOLVE_CRITERIA", "RESOLVE_CRITERIA"]


def test_audit_verify_exit_0(run: Run) -> None:
    assert run.raw["verify"].code == 0 and run.answers["verify"].body["ok"] is True
