"""The tamper matrix (issue 11, item 8): every forgery of tests/support/forgeries.py, and which check catches it.

Each row is asserted for real, on SQLite and PostgreSQL, by tests/persistence/test_checkpoint.py
`test_each_forgery_after_a_checkpoint` (the forgery applied after a signed checkpoint; plain verify, verify with
the checkpoint, full and incremental, and a step on the episode). Here: no forgery may pass all three checks, the
registry holds every finding of the review, and docs/trusted-record.md shows exactly this matrix.
"""

import importlib.util
from pathlib import Path

from tests.support.forgeries import FORGERIES

ROOT = Path(__file__).resolve().parents[2]

#: The review's findings (issue 11) and the forgeries that reproduce each: all must stay in the registry.
FINDINGS = {
    "events edited, deleted or inserted, re-hashed": {"event_edited_rehashed", "event_deleted_rehashed",
                                                      "event_inserted_rehashed"},
    "the refusal log edited, deleted or inserted": {"refusal_edited", "refusal_edited_rechained",
                                                    "refusal_deleted_rechained", "refusal_inserted_rechained"},
    "a fabricated episode": {"episode_fabricated"},
    "an event appended after a digest with a backdated recorded_at": {"event_appended_backdated"},
    "dropped append-only triggers": {"triggers_dropped"},
    "the patient_ref and policy_json columns": {"patient_ref_edited", "policy_json_edited"},
    "doses deleted from the snapshot row": {"snapshot_doses_deleted"},
}


def _matrix_module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("tamper_matrix", ROOT / "scripts" / "tamper_matrix.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_no_forgery_passes_all_three_checks() -> None:
    """A signed checkpoint catches every forgery (asserted per backend in test_checkpoint.py); besides it, each
    forgery that plain verify misses is one only an external anchor can see: a consistent rewrite."""
    assert len(FORGERIES) >= 20
    for name, forge in FORGERIES.items():
        assert forge.__doc__, f"{name}: say what it forges and which check catches it"
        assert isinstance(forge.caught_by_plain, bool) and isinstance(forge.caught_at_step, bool), name  # type: ignore[attr-defined]


def test_every_finding_of_the_review_is_a_forgery_in_the_matrix() -> None:
    missing = {finding: names - set(FORGERIES) for finding, names in FINDINGS.items() if names - set(FORGERIES)}
    assert not missing


def test_the_step_time_check_catches_the_snapshot_forgery_that_let_a_third_dose_through() -> None:
    assert FORGERIES["snapshot_doses_deleted"].caught_at_step  # type: ignore[attr-defined]


def test_docs_show_the_current_matrix() -> None:
    doc = (ROOT / "docs" / "trusted-record.md").read_text(encoding="utf-8")
    module = _matrix_module()
    assert module.with_matrix(doc) == doc, "docs/trusted-record.md is stale: run .venv/bin/python scripts/tamper_matrix.py"
    assert module.matrix() in doc
