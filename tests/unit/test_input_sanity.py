"""Input sanity at the edge (issue 9): the age-appropriate ICANS screen, CAPD fields, the 0.1 mg dose
floor and case-insensitive drug names. Each is invalid input (exit 2), never a rule to override."""

import pytest
from pydantic import ValidationError

from pathway.commands import MIN_DOSE_MG, AdministerDose, RecordObservation
from pathway.drugs import Drug
from pathway.errors import Invalid, Refused
from pathway.machine import check_screen, decide
from pathway.observations import Observation
from pathway.policy import Policy
from tests.scenarios.driver import Driver, t


def opened(age_years: float, policy: Policy | None = None) -> Driver:
    d = Driver()
    d.open(t(0), patient_ref="P-SCREEN", weight_kg=20, age_years=age_years, **({"policy": policy} if policy else {}))
    return d


def observe_cmd(**obs: object) -> RecordObservation:
    return RecordObservation(at=t(1), actor="nurse-a", episode_id="E0001", observation=Observation(**obs))


# -- check_screen (CLINICAL.md §2b; CONTRACT v2 `observe`) ---------------------------------------------

@pytest.mark.parametrize("age", [0.0, 4.0, 11.9])
def test_an_ice_score_for_a_child_is_invalid_and_names_the_capd(age: float) -> None:
    d = opened(age)
    with pytest.raises(Invalid) as err:
        check_screen(d.episode, observe_cmd(ice_score=10, consciousness="awake"))  # type: ignore[arg-type]
    assert err.value.exit_code == 2
    assert "--capd N" in err.value.message and "--capd unable" in err.value.message
    assert "12 years" in err.value.message
    with pytest.raises(Invalid):  # decide() checks it before any rule: nothing to override, nothing logged
        decide(d.episode, observe_cmd(ice_score=10), t(1))  # type: ignore[arg-type]


@pytest.mark.parametrize("age", [12.0, 15.0, 58.0])
@pytest.mark.parametrize("capd", [{"capd_score": 0}, {"capd_score": 32}, {"capd_unable": True}])
def test_a_capd_for_an_older_patient_is_invalid_and_names_the_ice(age: float, capd: dict) -> None:
    d = opened(age)
    with pytest.raises(Invalid) as err:
        check_screen(d.episode, observe_cmd(**capd))  # type: ignore[arg-type]
    assert "--ice N" in err.value.message and "12 years" in err.value.message
    with pytest.raises(Invalid):
        decide(d.episode, observe_cmd(**capd), t(1))  # type: ignore[arg-type]


def test_the_right_screen_either_side_of_the_boundary_is_accepted() -> None:
    child, teen = opened(11.9), opened(12.0)
    assert child.observe(t(1), capd_score=9, consciousness="awake")["icans_grade"] == 3
    assert teen.observe(t(1), ice_score=9, consciousness="awake")["icans_grade"] == 1
    assert child.status(t(1))["icans_screen"] == "capd" and teen.status(t(1))["icans_screen"] == "ice"
    for d in (child, teen):  # no screen at all is no screen error (only not assessed)
        check_screen(d.episode, observe_cmd(temp_c=37.0, o2_device="room-air"))  # type: ignore[arg-type]


def test_a_policy_moves_the_screen_boundary() -> None:
    later = Policy(capd_below_age_years=14.0)
    d = opened(12.0, later)
    with pytest.raises(Invalid, match="under 14 years"):
        check_screen(d.episode, observe_cmd(ice_score=10))  # type: ignore[arg-type]
    assert d.observe(t(1), capd_score=9)["icans_grade"] == 3
    earlier = opened(11.0, Policy(capd_below_age_years=10.0))
    with pytest.raises(Invalid, match="under 10 years"):
        check_screen(earlier.episode, observe_cmd(capd_score=3))  # type: ignore[arg-type]
    assert earlier.observe(t(1), ice_score=9)["icans_grade"] == 1


# -- the observation's own validation ----------------------------------------------------------------------

@pytest.mark.parametrize(
    "fields",
    [
        {"ice_score": 10, "capd_score": 0},
        {"ice_score": 10, "capd_unable": True},
        {"capd_score": 5, "capd_unable": True},
        {"capd_score": 33},
        {"capd_score": -1},
    ],
)
def test_inconsistent_or_out_of_range_capd_is_invalid(fields: dict) -> None:
    with pytest.raises(ValidationError):
        Observation(**fields)


@pytest.mark.parametrize("fields", [{"capd_score": 0}, {"capd_score": 32}, {"capd_unable": True}, {}])
def test_valid_capd_fields(fields: dict) -> None:
    obs = Observation(**fields)
    assert obs.capd_recorded == bool(fields)
    assert obs.inputs() == fields


# -- doses and drug names (HAZARDS H5; CONTRACT v2 `give`) -----------------------------------------------

def dose(mg: float, drug: str = "dexamethasone") -> AdministerDose:
    return AdministerDose(at=t(1), actor="nurse-a", episode_id="E0001", drug=drug, dose_mg=mg)


@pytest.mark.parametrize("mg", [0.09, 0.0999, 1e-300, 0.0, -5.0])
def test_a_dose_below_0_1_mg_is_a_validation_error(mg: float) -> None:
    with pytest.raises(ValidationError) as err:
        dose(mg)
    assert "dose_mg" in str(err.value)


@pytest.mark.parametrize("mg", [0.1, 0.11, 10.0, 10_000.0])
def test_a_dose_of_0_1_mg_or_more_is_accepted(mg: float) -> None:
    assert MIN_DOSE_MG == 0.1
    assert dose(mg).dose_mg == mg


def test_a_dose_of_0_1_mg_is_recorded_by_the_pathway() -> None:
    d = opened(40.0)
    d.observe(t(0.5), temp_c=39.0, o2_device="hfnc", o2_flow_lpm=30)
    event = d.step(dose(0.1))
    assert event.data["dose_mg"] == 0.1 and event.to_state == "steroid"


@pytest.mark.parametrize("name", ["Dexamethasone", "DEXAMETHASONE", "dexamethasone", " dexaMethasone "])
def test_drug_names_are_case_insensitive(name: str) -> None:
    assert Drug(name) is Drug.DEXAMETHASONE
    assert dose(10, drug=name).drug is Drug.DEXAMETHASONE


def test_every_drug_folds_its_case() -> None:
    for drug in Drug:
        assert Drug(drug.value.upper()) is drug and Drug(drug.value.title()) is drug


@pytest.mark.parametrize("name", ["dexa", "prednisone", "", "tocilizumab2"])
def test_an_unknown_drug_is_still_refused(name: str) -> None:
    with pytest.raises(ValueError):
        Drug(name)
    with pytest.raises(ValidationError):
        dose(10, drug=name)


def test_a_screen_error_is_not_a_refusal() -> None:
    """Invalid input writes nothing and is not a rule: it is not a Refused (which the refusal log keeps)."""
    d = opened(8.0)
    with pytest.raises(Invalid) as err:
        decide(d.episode, observe_cmd(ice_score=3), t(1))  # type: ignore[arg-type]
    assert not isinstance(err.value, Refused)
