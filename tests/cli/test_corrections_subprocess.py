"""Issue 10's acceptance through the INSTALLED `crs`, as real processes, on SQLite and on a real PostgreSQL
server: the 56 -> 560 mg typo corrected, the real 8 h interval kept, 900 mg refused by TOCI_DOSE_MAX even
with an override, a late dose 2 h before a recorded one refused with breaks_seq, the only tocilizumab dose
voided back to assessment; `audit verify` clean after each; and `crs upgrade` on an older schema."""

from persistence.schema import HEAD
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import Ran, iso, one_sentence, recent_t0

pytestmark = pytest.mark.slow

CRS_2 = ["--temp", "38.6", "--o2", "nasal-cannula", "--o2-flow", "4", "--ice", "10", "--consciousness", "awake"]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'crs.db'}"
    return str(request.getfixturevalue("postgres_url"))


class Bedside:
    """The installed `crs` on one database; clinical times are hours after a t0 in the past."""

    def __init__(self, crs_bin: Callable[..., Ran], url: str, t0: datetime) -> None:
        self.crs_bin, self.url, self.t0 = crs_bin, url, t0

    def at(self, hours: float) -> str:
        return iso(self.t0 + timedelta(hours=hours))

    def run(self, *args: str, hours: float | None = None, as_json: bool = True) -> Ran:
        when = ["--at", self.at(hours)] if hours is not None else []
        return self.crs_bin(*args, *when, *(["--json"] if as_json else []), env={"CRS_DB": self.url})

    def ok(self, *args: str, hours: float | None = None) -> dict[str, Any]:
        ran = self.run(*args, hours=hours)
        assert ran.code == 0, (args, ran.stdout, ran.stderr)
        return dict(ran.json)

    def open_adult(self) -> str:
        episode = str(self.ok("open", "--patient", "CART-70", "--weight-kg", "70", "--age-years", "58", hours=0)
                      ["episode"])
        self.ok("observe", episode, *CRS_2, hours=1)
        return episode

    def verify_clean(self) -> None:
        ran = self.run("audit", "verify")
        assert ran.code == 0 and ran.json["ok"] is True, ran.stdout


def test_issue_10_acceptance(crs_bin: Callable[..., Ran], url: str) -> None:
    bed = Bedside(crs_bin, url, recent_t0(30))

    # the 56 mg typo: a correction to 900 mg is refused by the hard limit even with an override ...
    typo = bed.open_adult()
    assert bed.ok("give", typo, "tocilizumab", "--dose-mg", "56", hours=1.5)["seq"] == 3
    recorded = bed.ok("history", typo)
    too_much = bed.run("correct", typo, "3", "--reason", "typo", "--dose-mg", "900", "--override", "insists")
    assert too_much.code == 1 and too_much.json["rule"] == "TOCI_DOSE_MAX", too_much.stdout
    assert bed.ok("history", typo) == recorded, "nothing written but the refusal"
    # ... the correction to 560 mg is accepted, at the dose's own clinical time
    corrected = bed.ok("correct", typo, "3", "--reason", "typo: 560 mg given", "--dose-mg", "560")
    assert (corrected["seq"], corrected["at"], corrected["correction"]["after"]["dose_mg"]) == (4, bed.at(1.5), 560.0)
    # the next dose: +1 h after the first refused (the correction moved nothing in time), +8 h accepted
    early = bed.run("give", typo, "tocilizumab", "--dose-mg", "560", hours=2.5)
    assert early.code == 1 and early.json["rule"] == "TOCI_MIN_INTERVAL"
    assert bed.ok("give", typo, "tocilizumab", "--dose-mg", "560", hours=9.5)["seq"] == 5
    events = bed.ok("history", typo)["events"]
    assert [(e["seq"], e["kind"], e["superseded_by"]) for e in events] == [
        (1, "open", None), (2, "observe", None), (3, "give", 4), (4, "correct", None), (5, "give", None)]
    bed.verify_clean()

    # a late tocilizumab dose 2 h before a recorded one: TOCI_MIN_INTERVAL, breaks_seq the recorded dose
    late = bed.open_adult()
    bed.ok("give", late, "tocilizumab", "--dose-mg", "560", hours=4)
    refused = bed.run("give", late, "tocilizumab", "--dose-mg", "560", "--late", "charted after the fact", hours=2)
    assert refused.code == 1 and (refused.json["rule"], refused.json["breaks_seq"]) == ("TOCI_MIN_INTERVAL", 3)
    plain = bed.run("give", late, "tocilizumab", "--dose-mg", "560", "--late", "charted after the fact", hours=2,
                    as_json=False)
    assert plain.code == 1 and plain.stdout == "" and one_sentence(plain.stderr) and "seq 3" in plain.stderr

    # voiding the only tocilizumab dose: back to assessment by the pathway's own table, and said so
    voided = bed.run("void", late, "3", "--reason", "recorded on the wrong episode", as_json=False)
    assert voided.code == 0, voided.stderr
    assert "State recomputed: tocilizumab → assessment" in " ".join(voided.stdout.split())
    assert bed.ok("status", late)["state"] == "assessment"

    refusals = bed.ok("audit", "refusals")["refusals"]
    assert [(r["episode"], r["kind"], r["rule"], r["breaks_seq"]) for r in refusals] == [
        (typo, "correct", "TOCI_DOSE_MAX", None), (typo, "give", "TOCI_MIN_INTERVAL", None),
        (late, "give", "TOCI_MIN_INTERVAL", 3), (late, "give", "TOCI_MIN_INTERVAL", 3)]
    bed.verify_clean()


def test_upgrade_an_older_schema_in_place(crs_bin: Callable[..., Ran], url: str) -> None:
    """A database at schema 0001 (as its migration made it, on either backend): read-only commands ask for
    `crs upgrade`; the upgrade reports what it did, password masked, and the database then takes corrections."""
    from tests.support.schema import migrate_to

    if url.startswith("postgresql"):  # trust authentication: the password is ignored, and must not be shown
        url = url.replace("://crs@", "://crs:s3cret@")
    migrate_to(url, "0001")
    bed = Bedside(crs_bin, url, recent_t0(30))
    asked = bed.run("list", as_json=False)
    assert asked.code == 2 and one_sentence(asked.stderr) and "crs upgrade" in asked.stderr
    upgraded = bed.ok("upgrade")
    assert (upgraded["schema"], upgraded["upgraded_from"], upgraded["created"]) == (HEAD, "0001", False)
    assert "s3cret" not in upgraded["database"]
    if url.startswith("postgresql"):
        assert "crs:***@" in upgraded["database"]
    else:
        assert upgraded["database"] == url
    assert bed.ok("upgrade")["upgraded_from"] is None
    episode = bed.open_adult()
    bed.ok("act", episode, "labs", hours=2)
    bed.ok("void", episode, "3", "--reason", "not sent")
    bed.verify_clean()
