"""Policy: defaults from CLINICAL.md, TOML files, and hard limits no policy can pass."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from pathway.policy import DEFAULT_POLICY, HARD_LIMITS, Policy

DEFAULT_FILE = Path(__file__).resolve().parents[2] / "pathway" / "policies" / "default.toml"


def test_default_file_is_the_default_policy() -> None:
    assert Policy.from_toml(DEFAULT_FILE.read_text()) == DEFAULT_POLICY


def test_defaults_are_clinical_figures() -> None:
    p = DEFAULT_POLICY
    assert (p.toci_min_interval_h, p.toci_max_doses_episode, p.escalation_window_h) == (8, 2, 24)
    assert (p.reassess_h_grade2_plus, p.reassess_h_otherwise, p.resolution_window_h) == (4, 12, 24)
    assert (p.fever_threshold_c, p.fever_comparator, p.high_flow_above_lpm) == (38.0, ">=", 6.0)


@pytest.mark.parametrize(
    ("field", "value", "limit"),
    [
        ("toci_min_interval_h", 6, "below the hard limit of 8"),  # CARTOX's 6 h is not allowed
        ("toci_max_doses_episode", 5, "above the hard limit of 4"),
        ("toci_max_doses_24h", 4, "above the hard limit of 3"),
        ("toci_mg_per_kg", 10, "above the hard limit of 8"),
        ("dexamethasone_escalated_mg", 40, "above the hard limit of 20"),
        ("methylprednisolone_escalated_mg", 2000, "above the hard limit of 1000"),
        ("anakinra_adult_mg", 200, "above the hard limit of 100"),
        ("siltuximab_mg_per_kg", 12, "above the hard limit of 11"),
    ],
)
def test_policy_cannot_exceed_a_hard_limit(field: str, value: float, limit: str) -> None:
    with pytest.raises(ValidationError) as err:
        Policy(**{field: value})
    text = str(err.value)
    assert field in text and limit in text and f"{value:g}" in text


def test_site_policy_within_limits_loads_and_is_versioned() -> None:
    site = Policy.from_toml('name = "site-a"\nversion = "3"\ntoci_max_doses_episode = 4\n')
    assert site.ref == {"name": "site-a", "version": "3"} and site.toci_max_doses_episode == 4


def test_unknown_policy_key_is_refused() -> None:
    with pytest.raises(ValidationError, match="toci_max_dose"):
        Policy.from_toml("toci_max_dose = 3\n")


def test_policy_is_frozen() -> None:
    with pytest.raises(ValidationError):
        DEFAULT_POLICY.toci_min_interval_h = 4  # type: ignore[misc]
    assert HARD_LIMITS.toci_single_dose_max_mg == 800
