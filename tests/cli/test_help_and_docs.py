"""Every command and option is documented; the README and the CLI agree with the code and the contract."""

from pathlib import Path
from typing import Any

import pytest
import typer

from cli.app import app
from cli.commands import steps
from cli.docs import END, START, rules_markdown
from cli.report.guards import REQUIRED_ACTIONS
from cli.text import MISSING_WORDS
from pathway.drugs import Action, Drug
from pathway.observations import CerebralEdema, Consciousness, O2Device, Seizure
from pathway.recommend import MISSING_TEXT
from pathway.rules import RULES
from states import SUPPORTIVE
from tests.cli import test_malformed_input

ROOT = Path(__file__).resolve().parents[2]

#: CONTRACT.md: every command and the options it must have.
CONTRACT: dict[str, set[str]] = {
    "open": {"--patient", "--weight-kg", "--age-years", "--context", "--policy", "--at", "--json"},
    "observe": {"--at", "--temp", "--hypotension", "--vasopressors", "--vasopressin", "--o2", "--o2-flow", "--fio2",
                "--ice", "--consciousness", "--seizure", "--motor-weakness", "--cerebral-edema", "--capd", "--note",
                "--late", "--override", "--json"},
    "give": {"--dose-mg", "--route", "--at", "--override", "--late", "--json"},
    "act": {"--at", "--note", "--late", "--override", "--json"},
    "correct": {"--reason", "--override", "--drug", "--dose-mg", "--route", "--action", "--note", "--temp", "--o2",
                "--o2-flow", "--fio2", "--ice", "--capd", "--consciousness", "--seizure", "--cerebral-edema",
                "--vasopressors", "--hypotension", "--no-hypotension", "--vasopressin", "--no-vasopressin",
                "--motor-weakness", "--no-motor-weakness", "--unset", "--json"},
    "void": {"--reason", "--override", "--json"},
    "upgrade": {"--json"},
    "resolve": {"--at", "--override", "--json"},
    "close": {"--at", "--reason", "--json"},
    "status": {"--as-of", "--full", "--json"},
    "history": {"--wide", "--json"},
    "list": {"--state", "--due", "--at", "--active", "--limit", "--wide", "--json"},
    "info": {"--json"},
    "audit verify": {"--checkpoint", "--public-key", "--json"},
    "audit refusals": {"--wide", "--json"},
    "audit report": {"--format", "--out", "--force", "--json"},
    "audit keygen": {"--out", "--json"},
    "audit checkpoint": {"--key", "--out", "--force", "--json"},
    "pathway": {"--format", "--json"},
    "demo": {"--json"},
    "export": {"--format", "--out", "--force", "--json"},
    "import": {"--dry-run", "--json"},
}


def _commands(group: Any, prefix: str = "") -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name, command in group.commands.items():
        path = f"{prefix}{name}"
        found[path] = command
        if hasattr(command, "commands"):
            found.update(_commands(command, f"{path} "))
    return found


ROOT_GROUP = typer.main.get_command(app)
COMMANDS = _commands(ROOT_GROUP)


def test_every_contract_command_and_option_exists() -> None:
    for path, options in CONTRACT.items():
        assert path in COMMANDS, f"missing command {path}"
        declared = {opt for param in COMMANDS[path].params for opt in [*param.opts, *param.secondary_opts]
                    if opt.startswith("--")}
        assert options <= declared, f"{path}: missing {sorted(options - declared)}"
    root_options = {opt for param in ROOT_GROUP.params for opt in param.opts}
    assert {"--db", "--actor", "--version"} <= root_options


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_every_command_and_parameter_has_help(path: str) -> None:
    command = COMMANDS[path]
    assert (command.help or "").strip(), f"{path} has no help text"
    for param in command.params:
        assert (getattr(param, "help", None) or "").strip(), f"{path} {param.name} has no help text"


def test_global_options_have_help() -> None:
    for param in ROOT_GROUP.params:
        assert (getattr(param, "help", None) or "").strip(), f"crs {param.name} has no help text"


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_help_runs(crs, path: str) -> None:  # type: ignore[no-untyped-def]
    ran = crs(*path.split(), "--help")
    assert ran.code == 0 and "Usage" in ran.stdout and ran.stderr == ""


def test_observation_vocabularies_match_the_pathway() -> None:
    """The CLI spells the contract's choices itself (start-up time); they must equal the core's enums."""
    assert steps.O2_DEVICES == tuple(d.value for d in O2Device)
    assert steps.CONSCIOUSNESS == tuple(c.value for c in Consciousness)
    assert steps.SEIZURE == tuple(s.value for s in Seizure)
    assert steps.CEREBRAL_EDEMA == tuple(e.value for e in CerebralEdema)


def test_action_and_drug_vocabularies_match_the_pathway() -> None:
    """Lists spelled out elsewhere (the fuzz test's names, the report's required actions) follow the core."""
    assert test_malformed_input.ACTIONS == tuple(a.value for a in Action)
    assert test_malformed_input.DRUGS == tuple(d.value for d in Drug)
    assert test_malformed_input.O2 == steps.O2_DEVICES
    required = {action for _, action, _ in REQUIRED_ACTIONS}
    assert required <= {a.value for a in Action}
    recommended = {rec.action for rec in SUPPORTIVE if rec.kind == "act"}
    assert recommended <= required, f"the QA report does not check {sorted(recommended - required)}"


def test_every_missing_input_has_words() -> None:
    """A grade's `missing` names (pathway.grading) are shown in words, never raw field names."""
    assert set(MISSING_WORDS) == set(MISSING_TEXT)


def test_observe_help_explains_not_assessed_and_the_two_screens(crs) -> None:  # type: ignore[no-untyped-def]
    shown = " ".join(crs("observe", "--help", env={"COLUMNS": "200"}).stdout.split())
    assert "--capd N|unable" in shown and "0–32" in shown and "'unable'" in shown
    assert "not assessed (never 0)" in shown and "CRS is graded only with --temp and --o2" in shown
    assert "a younger child: --capd" in shown and "older patients: --ice" in shown
    give = " ".join(crs("give", "--help", env={"COLUMNS": "200"}).stdout.split())
    assert "(any case)" in give and "at least 0.1" in give


def test_readme_rule_table_is_current() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split(START, 1)[1].split(END, 1)[0].strip()
    assert section == rules_markdown(), "README rule table is stale: run `.venv/bin/python -m cli.docs`"
    for rule_id in RULES:
        assert f"`{rule_id}`" in readme


@pytest.mark.parametrize("relative", ["README.md", "docs/CLINICAL.md"])
def test_generated_documentation_is_current(relative: str) -> None:
    """docs/CLINICAL.md's rule, policy, hard-limit and source tables (and the README's rule table) are what
    `python -m cli.docs` writes from the code now: a figure changed in the code and not in the document fails."""
    from cli.docs import PARTS, markers, regenerated

    text = (ROOT / relative).read_text(encoding="utf-8")
    for name in PARTS[relative]:
        assert all(marker in text for marker in markers(name)), f"{relative} lost its {name} markers"
    assert text == regenerated(relative), f"{relative} is stale: run `.venv/bin/python -m cli.docs`"


def test_every_policy_figure_and_source_is_explained_in_clinical_md() -> None:
    from pathway.policy import Policy
    from pathway.sources import SOURCES

    clinical = (ROOT / "docs" / "CLINICAL.md").read_text(encoding="utf-8")
    for name, field in Policy.model_fields.items():
        if name not in ("name", "version"):
            assert field.description, f"Policy.{name} has no description for docs/CLINICAL.md"
            assert f"`{name}`" in clinical
    for key in SOURCES:
        assert f"`{key}`" in clinical


def test_nothing_the_project_prints_or_documents_refers_to_shared(crs) -> None:  # type: ignore[no-untyped-def]
    """The project reads without ../shared (issue 13): no help text, document or demo output points there."""
    import re

    for relative in ["README.md", *(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))]:
        text = (ROOT / relative).read_text(encoding="utf-8")
        assert not re.search(r"shared/|\.\./shared", text), f"{relative} refers to ../shared"
    outputs = [crs("--help").stdout, crs("demo").stdout, crs("pathway").stdout]
    outputs += [crs(*command.split(), "--help").stdout for command in CONTRACT]
    for shown in outputs:
        assert "shared/" not in shown


def test_readme_names_every_command_and_the_two_quick_start_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for path in CONTRACT:
        assert f"crs {path}" in readme, f"README does not show `crs {path}`"
    assert "make demo" in readme and "make test" in readme
    assert "does not replace, clinical judgement" in readme
    assert "## Benchmarks" in readme
