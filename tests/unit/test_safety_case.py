"""docs/SAFETY.md names only evidence that exists (issue 12), and the checker that says so can fail.

The safety case is read as data by tests/support/safety_case.py: every hazard H1–H23 has a section, every
rule it names is in the rule catalogue, every invariant is an @invariant of the stateful suite, every slice
is a slice of the exhaustive search, and every evidence and teeth node id is a test defined in its file.
The checker's own teeth: a synthetic document that passes, then the same document with ONE thing wrong
(a hazard left out, a test misspelled, an unknown rule, an unknown invariant, a TODO, ...) yields exactly
the expected problem.

Every test here reads source files as text (the document; the test files, parsed with `ast`), so the
module is `source_text`: `make mutation` deselects it (a mutant of pathway/ is not killed by a document).
"""

from pathlib import Path

import pytest

from tests.support.safety_case import (REQUIRED, TABLE_END, TABLE_START, document_problems, parse, problems,
                                       summary_table)

pytestmark = pytest.mark.source_text

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "SAFETY.md"

SECTION = """### {hid} — hazard {hid}
- situation: something goes wrong.
- cause: a cause.
- harm: a harm.
- control: rule `TOCI_DOSE_MAX` (hard); design: the ceilings (`pathway/dosing.py`).
- invariant: `EpisodeMachine.history_is_safe` (problem `TOCI_DOSE_MAX`), `exhaustive: pathway`
- evidence: `tests/unit/test_rules.py::test_toci_dose_max`, `tests/properties/test_episode_machine.py::TestDefaultPolicyEpisodes`
- teeth: `tests/properties/test_teeth.py::test_the_state_machine_catches_a_disabled_guard` (case TOCI_DOSE_MAX)
"""


def synthetic(sections: dict[str, str] | None = None) -> str:
    """A document with a valid section for every required hazard; `sections` replaces some of them."""
    chosen = {hid: SECTION.format(hid=hid) for hid in REQUIRED} | (sections or {})
    return "# Safety case\n\n" + "\n".join(chosen.values()) + "\n## Mutation testing\n\nx\n"


def found(text: str) -> list[str]:
    return problems(parse(text), ROOT)


def one_wrong(old: str, new: str, hid: str = "H7") -> list[str]:
    """The problems of the synthetic document with `old` replaced by `new` in one section only."""
    section = SECTION.format(hid=hid)
    assert old in section
    return found(synthetic({hid: section.replace(old, new)}))


@pytest.mark.source_text
def test_the_safety_case_names_only_evidence_that_exists() -> None:
    """The real document: every hazard of H1–H23 (and each one found since), each with a control, an invariant
    or the reason there is none, evidence and teeth that exist, and a summary table that matches its sections."""
    found_ = document_problems(DOC.read_text(encoding="utf-8"), ROOT)
    assert not found_, f"{len(found_)} problem(s) in docs/SAFETY.md:\n" + "\n".join(found_)


def test_the_real_document_has_every_required_hazard_in_the_expected_shape() -> None:
    """Independent of the TODOs still open: the sections parse, with all seven lines each."""
    hazards = parse(DOC.read_text(encoding="utf-8"))
    assert set(REQUIRED) <= set(hazards)
    assert all(not h.errors and len(h.fields) == 7 for h in hazards.values()), [h.errors for h in hazards.values()]


def test_a_valid_synthetic_document_has_no_problems() -> None:
    """The baseline of the checker's teeth: without it, every test below could pass on a checker that always fails."""
    assert found(synthetic()) == []


def test_a_missing_hazard_is_named() -> None:
    sections = {hid: SECTION.format(hid=hid) for hid in REQUIRED if hid != "H13"}
    text = "\n".join(sections.values())
    assert found(text) == ["H13: missing (every hazard of the project's table needs a section)"]


def test_a_gap_after_the_required_hazards_is_named() -> None:
    assert found(synthetic({"H25": SECTION.format(hid="H25")})) == [
        "H24: missing (hazard ids run H1 to H25 without gaps)"]


def test_a_misspelled_test_name_is_named() -> None:
    assert one_wrong("::test_toci_dose_max", "::test_toci_dose_maximum") == [
        "H7: evidence `tests/unit/test_rules.py::test_toci_dose_maximum`: tests/unit/test_rules.py defines no test "
        "`test_toci_dose_maximum` at top level"]


def test_a_test_file_that_does_not_exist_is_named() -> None:
    assert one_wrong("tests/unit/test_rules.py", "tests/unit/test_ruels.py") == [
        "H7: evidence `tests/unit/test_ruels.py::test_toci_dose_max`: tests/unit/test_ruels.py does not exist or "
        "does not parse"]


def test_a_helper_that_is_not_a_test_is_named() -> None:
    """A function defined in the file but not collected by pytest (no test_ prefix) is not evidence."""
    problems_ = one_wrong("tests/properties/test_teeth.py::test_the_state_machine_catches_a_disabled_guard",
                          "tests/properties/test_teeth.py::stateful_failure")
    assert problems_ == ["H7: teeth `tests/properties/test_teeth.py::stateful_failure`: tests/properties/test_teeth.py "
                         "defines no test `stateful_failure` at top level"]


def test_a_class_method_node_id_is_resolved_and_a_wrong_method_named() -> None:
    assert one_wrong("tests/unit/test_rules.py::test_toci_dose_max",
                     "tests/cli/test_help_and_docs.py::test_help_runs") == []  # a real function, another file
    wrong = one_wrong("tests/unit/test_rules.py::test_toci_dose_max",
                      "tests/properties/test_episode_machine.py::TestNoSuchMachine::runTest")
    assert wrong == ["H7: evidence `tests/properties/test_episode_machine.py::TestNoSuchMachine::runTest`: "
                     "tests/properties/test_episode_machine.py defines no test class `TestNoSuchMachine` at top level"]


def test_an_unknown_parametrize_case_is_named() -> None:
    assert one_wrong("(case TOCI_DOSE_MAX)", "(case TOCI_DOSE_MAXX)") == [
        "H7: teeth `tests/properties/test_teeth.py::test_the_state_machine_catches_a_disabled_guard`: case "
        "`TOCI_DOSE_MAXX` is named nowhere in tests/properties/test_teeth.py or the test modules it imports"]


def test_an_unknown_rule_is_named() -> None:
    assert one_wrong("rule `TOCI_DOSE_MAX`", "rule `TOCI_DOSE_CAP`") == [
        "H7: control names unknown rule `TOCI_DOSE_CAP` (not in pathway/rules.py)"]


def test_a_rule_of_the_wrong_kind_is_named() -> None:
    assert one_wrong("`TOCI_DOSE_MAX` (hard)", "`TOCI_DOSE_MAX` (overridable)") == [
        "H7: control calls rule `TOCI_DOSE_MAX` overridable; pathway/rules.py says hard"]


def test_a_control_file_that_does_not_exist_is_named() -> None:
    assert one_wrong("`pathway/dosing.py`", "`pathway/doses.py`") == [
        "H7: control names `pathway/doses.py`, which does not exist"]


def test_an_unknown_invariant_is_named() -> None:
    assert one_wrong("`EpisodeMachine.history_is_safe`", "`EpisodeMachine.history_is_sound`") == [
        "H7: `EpisodeMachine.history_is_sound` is not an @invariant of EpisodeMachine "
        "(tests/properties/episode_machine.py)"]


def test_a_rule_of_the_machine_is_not_an_invariant() -> None:
    """`give_below_the_minimum` is a method of EpisodeMachine, but a @rule: it is not checked after every step."""
    assert one_wrong("`EpisodeMachine.history_is_safe`", "`EpisodeMachine.give_below_the_minimum`") == [
        "H7: `EpisodeMachine.give_below_the_minimum` is not an @invariant of EpisodeMachine "
        "(tests/properties/episode_machine.py)"]


def test_an_unknown_slice_and_an_unknown_problem_tag_are_named() -> None:
    assert one_wrong("`exhaustive: pathway`", "`exhaustive: everything`") == [
        "H7: `exhaustive: everything` is not a slice of tests/properties/exhaustive.py SLICES"]
    assert one_wrong("(problem `TOCI_DOSE_MAX`)", "(problem `DOSE_TOO_HIGH`)") == [
        "H7: problem tag `DOSE_TOO_HIGH` is neither a rule ID nor a tag any invariant reports"]
    assert one_wrong("(problem `TOCI_DOSE_MAX`)", "(problem `RECOMMEND_DOSE`)") == []  # a tag of advice.py


def test_invariant_none_needs_its_reason() -> None:
    line = "- invariant: `EpisodeMachine.history_is_safe` (problem `TOCI_DOSE_MAX`), `exhaustive: pathway`"
    assert one_wrong(line, "- invariant: none") == [
        "H7: `invariant: none` must say why: `none — <why the stateful suite cannot state it>`"]
    assert one_wrong(line, "- invariant: none — the hazard is a file on disk, outside the in-memory suite") == []


def test_a_todo_is_named() -> None:
    teeth = "`tests/properties/test_teeth.py::test_the_state_machine_catches_a_disabled_guard` (case TOCI_DOSE_MAX)"
    assert one_wrong(teeth, "TODO(B) the control disabled, the evidence fails") == [
        "H7: `teeth` still has a TODO: TODO(B) the control disabled, the evidence fails"]
    assert one_wrong(teeth, f"{teeth}; TODO(lead): one more") == [
        "H7: `teeth` still has a TODO: TODO(lead): one more"]


def test_a_section_twice_and_a_heading_without_its_title_are_named() -> None:
    twice = synthetic() + SECTION.format(hid="H7")
    assert found(twice) == ["H7: the section appears more than once"]
    untitled = SECTION.format(hid="H7").replace("### H7 — hazard H7", "### H7 hazard H7")
    assert found(synthetic({"H7": untitled})) == ["H7: the heading must be `### H7 — <the hazard in a few words>`"]


def test_an_indented_line_continues_the_line_before() -> None:
    wrapped = SECTION.format(hid="H7").replace(", `tests/properties/test_episode_machine.py",
                                               ",\n  `tests/properties/test_episode_machine.py")
    hazard = parse(synthetic({"H7": wrapped}))["H7"]
    assert len(hazard.nodes("evidence")) == 2 and found(synthetic({"H7": wrapped})) == []


def test_a_missing_or_unknown_line_is_named() -> None:
    assert one_wrong("- harm: a harm.\n", "") == ["H7: no `harm` line (or it is empty)"]
    assert one_wrong("- harm: a harm.\n", "- harms: a harm.\n") == [
        "H7: unknown line `harms` (expected one of situation, cause, harm, control, invariant, evidence, teeth)",
        "H7: no `harm` line (or it is empty)"]


def test_a_node_id_in_the_wrong_form_is_named() -> None:
    assert one_wrong("`tests/unit/test_rules.py::test_toci_dose_max`", "`test_toci_dose_max`") == [
        "H7: evidence `test_toci_dose_max` is not a node id (path::function or path::Class::method)"]


def test_a_stale_summary_table_a_missing_tail_section_and_a_shared_link_are_named() -> None:
    body = synthetic()
    fresh = body.replace("# Safety case\n", f"# Safety case\n{TABLE_START}\n{summary_table(parse(body))}\n{TABLE_END}\n")
    fresh += "\n## Fuzzing budget\n\nx\n"
    assert document_problems(fresh, ROOT) == []
    stale = fresh.replace("| H7 | hazard H7 |", "| H7 | another hazard |")
    assert document_problems(stale, ROOT) == [
        "the summary table does not match the sections: run `.venv/bin/python -m tests.support.safety_case`"]
    assert document_problems(fresh.replace("## Fuzzing budget", "## Fuzzing"), ROOT) == [
        "the document has no `## Fuzzing budget` section"]
    assert document_problems(fresh + "See ../shared/HAZARDS.md.\n", ROOT) == [
        "the document points at `../shared`: it must read without anything outside the project",
        "the document points at `shared/`: it must read without anything outside the project"]
