"""The terminal view of every next-step kind (CONTRACT v2): give, give ONE of (alternatives), act,
support, assess, and reassess / due rows marked OVERDUE — at 80 columns and wide, in `crs status --full`
(the one-screen `crs status` is tests/cli/test_terminal_80.py).

The payloads are the real `--json` answers of episodes stepped through the app (no hand-made
objects); cli/views.py renders them into a recording console of a fixed width.
"""

import io
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from rich.console import Console

from cli import views
from cli.next_steps import step_text
from tests.cli.conftest import Ran, iso, recent_t0


def render(payload: dict[str, Any], width: int) -> str:
    console = Console(width=width, record=True, no_color=True, highlight=False, markup=False, emoji=False,
                      file=io.StringIO())
    views.status_full(console, payload)
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= width, f"wider than {width} columns"
    return text


def words(text: str) -> str:
    return " ".join(re.sub(r"[│┃┏┓┗┛┡┩━─╇┳┻└┘┌┐├┤┬┴]", " ", text).split())


def steps_shown(payload: dict[str, Any], width: int) -> str:
    """The next steps as a person reads them: below 100 columns the numbered list (its words, in order);
    wide, the table's "step" cells, each rebuilt from its wrapped lines (one per line)."""
    text = render(payload, width)
    if width < views.NARROW:
        return words(text.split("Next steps (most urgent first)", 1)[1].split("\nDue", 1)[0])
    cells: list[list[str]] = []
    for line in text.split("Next steps (most urgent first)", 1)[1].splitlines():
        parts = line.split("│")
        if len(parts) < 4:
            continue
        if parts[1].strip():
            cells.append([])
        if cells and parts[2].strip():
            cells[-1].append(parts[2].strip())
    return "\n".join(" ".join(cell) for cell in cells)


class Episode:
    def __init__(self, crs: Callable[..., Ran], hours_ago: float, age: str = "40", weight: str = "70") -> None:
        self.crs, self.t0 = crs, recent_t0(hours_ago)
        opened = crs("open", "--patient", "P-V", "--weight-kg", weight, "--age-years", age, "--at", iso(self.t0),
                     "--json")
        assert opened.code == 0, opened.stderr
        self.id = opened.json["episode"]
        self.last: dict[str, Any] = opened.json

    def __call__(self, verb: str, *args: str, hours: float) -> dict[str, Any]:
        ran = self.crs(verb, self.id, *args, "--at", iso(self.t0 + timedelta(hours=hours)), "--json")
        assert ran.code == 0, ran.stdout or ran.stderr
        self.last = ran.json if verb == "observe" else ran.json["status"]
        return self.last


def kinds(payload: dict[str, Any]) -> list[str]:
    return [step["kind"] for step in payload["next_steps"]]


@pytest.mark.parametrize("width", [80, 120])
def test_alternatives_are_one_step_give_one_of(crs, width: int) -> None:  # type: ignore[no-untyped-def]
    """ICANS grade 3 without CRS: dexamethasone 10 mg q6h OR methylprednisolone 1 mg/kg q12h (CLINICAL §8)."""
    ep = Episode(crs, 3)
    payload = ep("observe", "--temp", "37", "--o2", "room-air", "--ice", "2", "--consciousness", "touch", hours=1)
    steroid = [s for s in payload["next_steps"] if s["kind"] == "give"]
    assert len(steroid) == 1 and [o["drug"] for o in steroid[0]["alternatives"]] == ["dexamethasone",
                                                                                    "methylprednisolone"]
    shown = steps_shown(payload, width)
    assert "give ONE of: dexamethasone 10 mg iv q6h | methylprednisolone 70 mg iv q12h" in shown
    assert "give None" not in shown and "alternatives=" not in shown


@pytest.mark.parametrize("width", [80, 120])
def test_assess_and_single_give(crs, width: int) -> None:  # type: ignore[no-untyped-def]
    ep = Episode(crs, 3)
    empty = ep("observe", hours=1)
    assert kinds(empty)[0] == "assess"
    shown = steps_shown(empty, width)
    assert shown.startswith(("1. " if width < views.NARROW else "")
                            + "assess now: temperature, oxygen support, ICE score, level of consciousness")
    graded = ep("observe", "--temp", "38.6", "--o2", "nasal-cannula", "--o2-flow", "4", "--ice", "10",
                "--consciousness", "awake", hours=2)
    assert "assess" not in kinds(graded)
    shown = steps_shown(graded, width)
    assert "give tocilizumab 560 mg iv" in shown and "act telemetry" in shown and "reassess by" in shown


@pytest.mark.parametrize("width", [80, 120])
def test_support_vasopressor_after_two_fluid_boluses(crs, width: int) -> None:  # type: ignore[no-untyped-def]
    ep = Episode(crs, 5)
    for hours in (1, 2):
        payload = ep("observe", "--temp", "39", "--o2", "room-air", "--hypotension", "--ice", "10",
                     "--consciousness", "awake", hours=hours)
        assert {"action": "fluid-bolus"}.items() <= next(s for s in payload["next_steps"]
                                                         if s.get("action") == "fluid-bolus").items()
        assert "act fluid-bolus" in steps_shown(payload, width)
        ep("act", "fluid-bolus", hours=hours + 0.5)
    payload = ep("observe", "--temp", "39", "--o2", "room-air", "--hypotension", "--ice", "10",
                 "--consciousness", "awake", hours=3)
    assert "support" in kinds(payload)
    shown = steps_shown(payload, width)
    assert "support: vasopressor" in shown and "act icu-transfer" in shown and "act echocardiogram" in shown


@pytest.mark.parametrize("width", [80, 120])
def test_overdue_reassessment_and_due_rows(crs, width: int) -> None:  # type: ignore[no-untyped-def]
    ep = Episode(crs, 30)
    ep("observe", "--temp", "38.6", "--o2", "nasal-cannula", "--o2-flow", "4", "--ice", "10", "--consciousness",
       "awake", hours=1)
    payload = crs("status", ep.id, "--json").json  # 29 h later: every 4 h at CRS grade 2, long overdue
    reassess = next(s for s in payload["next_steps"] if s["kind"] == "reassess")
    assert reassess["overdue"] is True and all(d["overdue"] for d in payload["due"])
    at = reassess["at"].replace("T", " ")
    assert f"reassess now: OVERDUE since {at}" in steps_shown(payload, width)
    text = render(payload, width)
    due_rows = [line for line in text.splitlines() if "reassess CRS" in line or "neuro assessment" in line]
    assert len(due_rows) == 2 and all("OVERDUE" in line for line in due_rows)
    fresh = ep("observe", "--temp", "37", "--o2", "room-air", "--ice", "10", "--consciousness", "awake", hours=29.5)
    assert "OVERDUE" not in render(fresh, width) and "reassess by" in steps_shown(fresh, width)


def test_the_view_and_the_json_are_the_same_object(crs) -> None:  # type: ignore[no-untyped-def]
    """The human `status` is the view of the --json object: the same steps, in the same order."""
    ep = Episode(crs, 3)
    ep("observe", "--temp", "37", "--o2", "room-air", "--ice", "2", "--consciousness", "touch", hours=1)
    payload = crs("status", ep.id, "--json").json
    shown = words(crs("status", ep.id, "--full", env={"COLUMNS": "400"}).stdout)
    texts = [step_text(step) for step in payload["next_steps"]]
    positions = [shown.index(text) for text in texts]
    assert positions == sorted(positions) and len(texts) >= 3
