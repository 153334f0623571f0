"""The error objects `crs --json` prints (CONTRACT.md "Exit codes" and "Error object"), key by key.

A script, a QA tool and the acceptance tests read these objects: `"error"` names the branch, `"message"`
is the one sentence a person reads, a refusal names `"rule"` (the first, hard before overridable),
`"rules"` (all of them), `"overridable"`, and where there is a way on, `"earliest_at"`; a correction
refused because of an event already recorded says which (`"breaks_seq"`). The expected objects below are
written out from the contract, not generated from the code.
"""

from datetime import datetime, timedelta, timezone

import pytest

from pathway.errors import (Conflict, CrsError, IntegrityError, Invalid, NotFound, Refused, UntrustedRecord,
                            Violation)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)

#: Two rules a second tocilizumab dose too soon and too many can break at once (CONTRACT "Rule IDs").
INTERVAL = Violation("TOCI_MIN_INTERVAL", False, "tocilizumab was given less than 8 h ago",
                     earliest_at=T0 + timedelta(hours=8))
EPISODE_MAX = Violation("TOCI_MAX_DOSES", True, "the policy allows 2 tocilizumab doses in an episode")
INDICATION = Violation("TOCI_INDICATION", True, "no CRS grade 2 or higher is on record")


# -- the branches and their exit codes ---------------------------------------------------------------

@pytest.mark.parametrize(("error", "code", "exit_code"), [
    (Refused([INDICATION]), "refused", 1),
    (Invalid("the weight must be 0.5-350 kg"), "invalid", 2),
    (Conflict("the episode changed under you (a concurrent step); retry"), "conflict", 3),
    (NotFound("no episode E9"), "not_found", 4),
    (IntegrityError("episode E9: seq 3 does not match its hash"), "integrity", 5),
    (UntrustedRecord("E9", "episode E9: its stored snapshot is not its chain's"), "integrity", 5),
])
def test_each_branch_has_its_contract_code_and_exit_code(error: CrsError, code: str, exit_code: int) -> None:
    assert (error.code, error.exit_code) == (code, exit_code)
    assert error.as_json()["error"] == code


def test_a_plain_error_is_its_code_and_its_one_sentence() -> None:
    error = Invalid("the weight must be 0.5-350 kg")
    assert error.message == "the weight must be 0.5-350 kg"
    assert str(error) == "the weight must be 0.5-350 kg"  # what a traceback-free stderr line shows
    assert error.as_json() == {"error": "invalid", "message": "the weight must be 0.5-350 kg"}
    assert NotFound("no episode E9").as_json() == {"error": "not_found", "message": "no episode E9"}


def test_an_untrusted_record_is_an_integrity_error_that_names_its_rule_and_episode() -> None:
    error = UntrustedRecord("E9", "episode E9: its stored snapshot (version 3) names a head hash that is not "
                                  "its latest event's")
    assert isinstance(error, IntegrityError) and error.episode_id == "E9"
    assert error.as_json() == {
        "error": "integrity",
        "message": "episode E9: its stored snapshot (version 3) names a head hash that is not its latest event's",
        "rule": "RECORD_INTEGRITY",
        "episode": "E9",
    }
    assert (error.rule, error.rules, error.breaks_seq) == ("RECORD_INTEGRITY", ("RECORD_INTEGRITY",), None)


# -- a refusal -----------------------------------------------------------------------------------------

def test_one_overridable_rule_says_it_can_be_overridden_and_has_no_time_or_seq() -> None:
    refused = Refused([INDICATION])
    assert refused.message == str(refused) == "no CRS grade 2 or higher is on record"
    assert refused.as_json() == {
        "error": "refused",
        "message": "no CRS grade 2 or higher is on record",
        "rule": "TOCI_INDICATION",
        "rules": ["TOCI_INDICATION"],
        "overridable": True,
        "violations": [{"rule": "TOCI_INDICATION", "overridable": True,
                        "message": "no CRS grade 2 or higher is on record"}],
    }


def test_hard_rules_come_first_and_the_first_rule_gives_the_message() -> None:
    refused = Refused([EPISODE_MAX, INDICATION, INTERVAL])  # the hard one given last
    assert refused.rule == "TOCI_MIN_INTERVAL"
    assert refused.rules == ("TOCI_MIN_INTERVAL", "TOCI_MAX_DOSES", "TOCI_INDICATION")  # overridable ones in order
    assert refused.message == "tocilizumab was given less than 8 h ago"
    assert refused.overridable is False  # an override cannot pass a hard rule
    assert refused.earliest_at == T0 + timedelta(hours=8)
    assert refused.as_json() == {
        "error": "refused",
        "message": "tocilizumab was given less than 8 h ago",
        "rule": "TOCI_MIN_INTERVAL",
        "rules": ["TOCI_MIN_INTERVAL", "TOCI_MAX_DOSES", "TOCI_INDICATION"],
        "overridable": False,
        "violations": [
            {"rule": "TOCI_MIN_INTERVAL", "overridable": False, "message": "tocilizumab was given less than 8 h ago",
             "earliest_at": "2026-03-01T20:00:00Z"},
            {"rule": "TOCI_MAX_DOSES", "overridable": True,
             "message": "the policy allows 2 tocilizumab doses in an episode"},
            {"rule": "TOCI_INDICATION", "overridable": True, "message": "no CRS grade 2 or higher is on record"},
        ],
        "earliest_at": "2026-03-01T20:00:00Z",
    }


def test_several_overridable_rules_are_overridable_together_and_keep_their_order() -> None:
    refused = Refused((INDICATION, EPISODE_MAX))
    assert refused.overridable is True
    assert refused.rules == ("TOCI_INDICATION", "TOCI_MAX_DOSES") and refused.rule == "TOCI_INDICATION"
    assert refused.earliest_at is None and "earliest_at" not in refused.as_json()


def test_one_hard_rule_among_overridable_ones_makes_the_whole_refusal_hard() -> None:
    hard_last = Refused([INDICATION, Violation("TIME_FUTURE", False, "the time is more than 5 minutes ahead")])
    assert hard_last.overridable is False and hard_last.as_json()["overridable"] is False
    assert hard_last.rule == "TIME_FUTURE"


def test_the_earliest_time_is_the_latest_of_the_rules_times_in_utc_with_z() -> None:
    """A step that two timed guards hold back is allowed only when both have passed."""
    local = timezone(timedelta(hours=2))
    sooner = Violation("TOCI_MIN_INTERVAL", False, "too soon", earliest_at=datetime(2026, 3, 1, 16, 0, tzinfo=local))
    later = Violation("STEROID_INDICATION", True, "not yet", earliest_at=T0 + timedelta(hours=6))
    for order in ([sooner, later], [later, sooner]):
        refused = Refused(order)
        assert refused.earliest_at == T0 + timedelta(hours=6)
        body = refused.as_json()
        assert body["earliest_at"] == "2026-03-01T18:00:00Z"
        assert body["violations"][0]["earliest_at"] == "2026-03-01T14:00:00Z"  # 16:00 +02:00, said in UTC


def test_a_rules_details_are_part_of_its_violation_entry() -> None:
    over = Violation("TOCI_DOSE_MAX", False, "840 mg is above 800 mg", details={"limit_mg": 800.0, "dose_mg": 840.0})
    assert Refused([over]).as_json()["violations"] == [
        {"rule": "TOCI_DOSE_MAX", "overridable": False, "message": "840 mg is above 800 mg",
         "limit_mg": 800.0, "dose_mg": 840.0}]


def test_a_correction_refused_at_a_recorded_event_names_its_seq_in_the_object_and_the_sentence() -> None:
    refused = Refused([INTERVAL], breaks_seq=4)
    assert refused.breaks_seq == 4
    assert refused.message == "tocilizumab was given less than 8 h ago (seq 4, in the corrected history)"
    assert str(refused) == refused.message
    body = refused.as_json()
    assert body["breaks_seq"] == 4 and body["message"] == refused.message
    assert body["violations"][0]["message"] == "tocilizumab was given less than 8 h ago"  # the rule's own words
    assert "breaks_seq" not in Refused([INTERVAL]).as_json()
    assert Refused([INTERVAL]).breaks_seq is None


def test_a_refusal_without_a_rule_is_a_bug_not_a_refusal() -> None:
    with pytest.raises(ValueError, match=r"^Refused needs at least one violation$"):
        Refused([])
