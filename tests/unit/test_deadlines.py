"""Deadlines that do not slide (issue 9, CLINICAL.md §7, HAZARDS H10).

A new episode's first assessment is due at its opening time; each domain (CRS, ICANS) is due at its
latest *assessed* observation + the interval (4 h at CRS >= 2, 8 h at ICANS >= 1, else 12 h; policy),
or at the opening time when never assessed. Deadlines come from recorded clinical times only: `now`
decides only which are overdue.
"""

from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pathway.clock import iso
from pathway.policy import Policy
from pathway.recommend import status
from tests.scenarios.driver import Driver, t

NEURO_OK = {"ice_score": 10, "consciousness": "awake"}
CRS0 = {"temp_c": 37.0, "o2_device": "room-air"}
FULL0 = {**CRS0, **NEURO_OK}
CRS2 = {"temp_c": 38.6, "o2_device": "nasal-cannula", "o2_flow_lpm": 3}
CRS3 = {"temp_c": 39.0, "o2_device": "hfnc", "o2_flow_lpm": 30}
CRS_WHAT = "reassess CRS (temperature and oxygen support)"
ICANS_WHAT = "neuro assessment (ICE or CAPD, and consciousness)"


def opened(policy: Policy | None = None, age_years: float = 58) -> Driver:
    d = Driver()
    d.open(t(0), patient_ref="P-DUE", weight_kg=70, age_years=age_years, **({"policy": policy} if policy else {}))
    return d


def reassess(st_: dict[str, Any]) -> dict[str, Any]:
    (step,) = [s for s in st_["next_steps"] if s["kind"] == "reassess"]
    return step


def due_at(st_: dict[str, Any], what: str) -> dict[str, Any]:
    (item,) = [d for d in st_["due"] if d["what"] == what]
    return item


def without_overdue(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_overdue(v) for k, v in value.items() if k != "overdue"}
    if isinstance(value, list):
        return [without_overdue(v) for v in value]
    return value


# -- a new episode ------------------------------------------------------------------------------------------

def test_a_new_episode_is_due_for_assessment_at_its_opening_time() -> None:
    d = opened()
    st_ = d.status(t(0))
    assert reassess(st_)["at"] == iso(t(0)) == st_["opened_at"]
    assert due_at(st_, CRS_WHAT)["at"] == due_at(st_, ICANS_WHAT)["at"] == iso(t(0))
    assert not reassess(st_)["overdue"] and not any(item["overdue"] for item in st_["due"])
    first = st_["next_steps"][0]
    assert first["kind"] == "assess" and first["missing"] == ["temp_c", "o2_device", "ice_score", "consciousness"]
    assert "never assessed" in reassess(st_)["why"]


def test_a_new_childs_episode_asks_for_the_capd() -> None:
    st_ = opened(age_years=4).status(t(0))
    assert st_["next_steps"][0]["missing"] == ["temp_c", "o2_device", "capd_score", "consciousness"]
    assert "--capd" in st_["next_steps"][0]["why"]


@pytest.mark.parametrize("later", [timedelta(minutes=1), timedelta(hours=11, minutes=59), timedelta(days=3)])
def test_the_first_assessment_is_overdue_once_now_passes_it(later: timedelta) -> None:
    st_ = opened().status(t(0) + later)
    assert reassess(st_)["at"] == iso(t(0)) and reassess(st_)["overdue"] is True
    assert [item["overdue"] for item in st_["due"] if item["what"] in (CRS_WHAT, ICANS_WHAT)] == [True, True]
    assert "no observation recorded yet" in " ".join(st_["warnings"])


def test_an_overdue_reassessment_is_warned_about() -> None:
    d = opened()
    d.observe(t(1), **FULL0)
    assert not any("overdue" in w for w in d.status(t(13)).get("warnings", []))
    warned = d.status(t(13) + timedelta(minutes=1))["warnings"]
    assert any(f"reassessment overdue since {iso(t(13))} (every 12 h)" in w for w in warned)


def test_every_due_item_says_whether_it_is_overdue() -> None:
    d = opened()
    d.observe(t(1), **CRS3, **NEURO_OK)
    d.give(t(1.1), "tocilizumab", 560)
    for now in (t(1.2), t(5.2), t(9.2), t(30)):
        for item in d.status(now)["due"]:
            assert item["overdue"] == (item["at"] < iso(now))


# -- the interval from the worse of CRS and ICANS ---------------------------------------------------------

@pytest.mark.parametrize(
    ("obs", "hours", "reason"),
    [
        (FULL0, 12, "CRS below grade 2 and no ICANS"),
        ({"temp_c": 38.5, "o2_device": "room-air", **NEURO_OK}, 12, "CRS below grade 2"),  # CRS 1
        ({**CRS0, "ice_score": 8, "consciousness": "awake"}, 8, "ICANS grade 1 or more"),  # ICANS 1, CRS 0
        ({"temp_c": 38.5, "o2_device": "room-air", "ice_score": 2, "consciousness": "awake"}, 8, "ICANS grade 1"),
        ({**CRS2, **NEURO_OK}, 4, "CRS grade 2 or more"),
        ({**CRS2, "ice_score": 8, "consciousness": "awake"}, 4, "CRS grade 2 or more"),  # the shorter wins
        ({**CRS3, **NEURO_OK}, 4, "CRS grade 2 or more"),
    ],
)
def test_reassessment_interval(obs: dict, hours: float, reason: str) -> None:
    d = opened()
    st_ = d.observe(t(1), **obs)
    step = reassess(st_)
    assert step["at"] == iso(t(1 + hours))
    assert due_at(st_, CRS_WHAT)["at"] == due_at(st_, ICANS_WHAT)["at"] == iso(t(1 + hours))
    assert f"every {hours:g} h" in step["why"] and reason in step["why"]


@pytest.mark.parametrize(
    ("obs", "hours"),
    [(FULL0, 10), ({**CRS0, "ice_score": 8, "consciousness": "awake"}, 6), ({**CRS2, **NEURO_OK}, 2)],
)
def test_policy_values_move_the_intervals(obs: dict, hours: float) -> None:
    site = Policy(reassess_h_grade2_plus=2, reassess_h_icans=6, reassess_h_otherwise=10)
    st_ = opened(site).observe(t(1), **obs)
    assert reassess(st_)["at"] == iso(t(1 + hours))


def test_the_interval_is_the_shortest_that_applies() -> None:
    """An ICANS interval set longer than the default one never lengthens it (min of the intervals)."""
    site = Policy(reassess_h_icans=16, reassess_h_otherwise=12)
    st_ = opened(site).observe(t(1), **CRS0, ice_score=8, consciousness="awake")
    assert reassess(st_)["at"] == iso(t(13))


# -- each domain from its own latest assessment -------------------------------------------------------------

def test_a_domain_never_assessed_stays_due_at_the_opening_time() -> None:
    d = opened()
    for h in (1, 5, 9, 13):
        st_ = d.observe(t(h), **CRS0)  # CRS only: ICANS never assessed
    assert due_at(st_, ICANS_WHAT) == {"what": ICANS_WHAT, "at": iso(t(0)), "overdue": True}
    assert due_at(st_, CRS_WHAT)["at"] == iso(t(25))
    assert reassess(st_)["at"] == iso(t(0)) and "ICANS (neuro assessment) never assessed" in reassess(st_)["why"]
    assert st_["next_steps"][0]["kind"] == "assess" and st_["next_steps"][0]["missing"] == ["ice_score",
                                                                                           "consciousness"]
    other = opened()
    st_ = other.observe(t(3), **NEURO_OK)  # ICANS only: CRS never assessed
    assert due_at(st_, CRS_WHAT)["at"] == iso(t(0)) and due_at(st_, ICANS_WHAT)["at"] == iso(t(15))


def test_each_domain_is_due_from_its_latest_assessed_observation() -> None:
    d = opened()
    d.observe(t(1), **FULL0)
    st_ = d.observe(t(5), **CRS0)  # CRS again, no neuro assessment
    assert due_at(st_, CRS_WHAT)["at"] == iso(t(17))
    assert due_at(st_, ICANS_WHAT)["at"] == iso(t(13))
    assert reassess(st_)["at"] == iso(t(13))  # the earlier of the two


def test_a_not_assessed_observation_does_not_move_any_deadline() -> None:
    d = opened()
    d.observe(t(1), **FULL0)
    st_ = d.observe(t(5))  # nothing recorded
    assert (st_["crs_grade"], st_["icans_grade"]) == (None, None)
    assert due_at(st_, CRS_WHAT)["at"] == due_at(st_, ICANS_WHAT)["at"] == reassess(st_)["at"] == iso(t(13))
    st_ = d.observe(t(6), temp_c=39.0)  # a fever with no oxygen support recorded: CRS still not assessed
    assert due_at(st_, CRS_WHAT)["at"] == iso(t(13))


def test_the_interval_reads_the_latest_assessed_grades() -> None:
    d = opened()
    d.observe(t(1), **CRS2, **NEURO_OK)  # CRS 2: every 4 h
    st_ = d.observe(t(2), **NEURO_OK)  # CRS not assessed: the pathway still reads CRS 2
    assert due_at(st_, CRS_WHAT)["at"] == iso(t(5)) and due_at(st_, ICANS_WHAT)["at"] == iso(t(6))


# -- status a minute apart ------------------------------------------------------------------------------

def scenarios() -> list[tuple[str, Driver, datetime]]:
    """Episodes in every treatment state, each with a `now` away from any timer boundary."""
    out: list[tuple[str, Driver, datetime]] = []
    new = opened()
    out.append(("new", new, t(2.3)))
    partial = opened()
    partial.observe(t(1), **CRS3)
    out.append(("partly assessed", partial, t(3.3)))
    toci = opened()
    toci.observe(t(1), **CRS3, **NEURO_OK)
    toci.give(t(1.2), "tocilizumab", 560)
    out.append(("tocilizumab", toci, t(3.3)))
    steroid = opened()
    steroid.observe(t(1), **CRS3, **NEURO_OK)
    steroid.give(t(1.2), "tocilizumab", 560)
    steroid.give(t(1.3), "dexamethasone", 10)
    out.append(("steroid", steroid, t(4.7)))
    escalated = opened()
    escalated.observe(t(1), temp_c=39.0, o2_device="bipap", **NEURO_OK)
    escalated.give(t(1.2), "tocilizumab", 560)
    escalated.give(t(1.3), "methylprednisolone", 1000)
    out.append(("escalated", escalated, t(6.1)))
    refractory = opened()
    refractory.observe(t(1), temp_c=39.0, o2_device="bipap", **NEURO_OK)
    refractory.give(t(1.2), "tocilizumab", 560)
    refractory.give(t(1.3), "methylprednisolone", 1000)
    refractory.observe(t(26), temp_c=39.0, o2_device="bipap", **NEURO_OK)
    refractory.give(t(26.2), "anakinra", 100)
    out.append(("refractory", refractory, t(27.7)))
    hypo = opened()
    hypo.observe(t(1), temp_c=38.5, o2_device="room-air", hypotension=True)
    hypo.act(t(1.5), "fluid-bolus")
    out.append(("hypotension", hypo, t(2.9)))
    return out


@pytest.mark.parametrize("name", [name for name, _, _ in scenarios()])
def test_status_a_minute_apart_gives_the_same_deadlines_and_steps(name: str) -> None:
    (_, d, now), = [s for s in scenarios() if s[0] == name]
    ep = d.episode
    assert ep is not None
    first, second = status(ep, now), status(ep, now + timedelta(minutes=1))
    assert without_overdue(first["due"]) == without_overdue(second["due"])
    assert without_overdue(first["next_steps"]) == without_overdue(second["next_steps"])
    later = status(ep, now + timedelta(hours=40))  # much later only more of the same deadlines are overdue
    assert reassess(later)["at"] == reassess(first)["at"] and reassess(later)["overdue"] is True


@given(st.integers(0, 72 * 60))
def test_the_reassessment_deadline_never_depends_on_now(minutes: int) -> None:
    d = opened()
    d.observe(t(1), **CRS2, **NEURO_OK)
    d.observe(t(2), **CRS0)  # CRS 0 now; ICANS last assessed at t(1)
    ep = d.episode
    assert ep is not None
    now = t(2) + timedelta(minutes=minutes)
    st_ = status(ep, now)
    assert reassess(st_)["at"] == iso(t(13)) and reassess(st_)["overdue"] == (t(13) < now)
    assert due_at(st_, CRS_WHAT)["at"] == iso(t(14)) and due_at(st_, ICANS_WHAT)["at"] == iso(t(13))
