"""Commands that need no database must not pay for loading one: no sqlmodel/sqlalchemy/persistence store.

`crs --help` and `crs pathway` must also start fast (bench/startup.py): no pydantic (Typer's value
coercion is replaced, cli/coercion.py), no rich and no transitions (the pathway is printed from its
frozen copy, pathway/described.py). A step and the queries on a current database load no SQLAlchemy,
SQLModel or Alembic (persistence/database.py: the drivers directly), and nothing of rich with --json.
"""

import json
import subprocess
import sys

import pytest

HEAVY = ("sqlmodel", "sqlalchemy", "alembic", "psycopg", "persistence.store", "persistence.audit")

PROBE = """
import json, sys
from cli.app import main
try:
    main({argv!r})
except SystemExit:
    pass
loaded = sorted(m for m in sys.modules if m.split(".")[0] in {heavy_roots!r} or m in {heavy!r})
sys.stderr.write("\\nLOADED=" + json.dumps(loaded) + "\\n")
"""


@pytest.mark.parametrize("argv", [
    ["--help"], ["--version"], ["open", "--help"], ["audit", "--help"],
    ["pathway"], ["pathway", "--format", "mermaid"], ["pathway", "--format", "json"], ["pathway", "--json"],
], ids=lambda argv: " ".join(argv))
def test_no_database_libraries_loaded(argv: list[str]) -> None:
    assert_loads_none_of(HEAVY, argv)


def assert_loads_none_of(heavy: tuple[str, ...], argv: list[str]) -> None:
    """Run `crs argv` in a fresh interpreter; it must print something and load none of `heavy`."""
    code = PROBE.format(argv=argv, heavy_roots=tuple(h for h in heavy if "." not in h), heavy=heavy)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={"NO_COLOR": "1", "PATH": "/usr/bin:/bin"})
    marker = [line for line in done.stderr.splitlines() if line.startswith("LOADED=")]
    assert marker, done.stderr
    assert json.loads(marker[-1].removeprefix("LOADED=")) == []
    assert done.stdout.strip(), "the command printed nothing"


FAST = ("pydantic", "pydantic_core", "rich", "transitions", "typer._adapters", "pathway.policy", "pathway.machine")


@pytest.mark.parametrize("argv", [
    ["--help"], ["--version"], ["pathway"], ["pathway", "--format", "mermaid"], ["pathway", "--format", "json"],
    ["pathway", "--json"], ["--db", "sqlite:///x.db", "--actor", "nurse-a", "--json", "pathway", "--format", "table"],
    ["pathway", "--help"],
], ids=lambda argv: " ".join(argv))
def test_fast_commands_load_no_pydantic_rich_or_transitions(argv: list[str]) -> None:
    assert_loads_none_of(FAST, argv)


SCHEMA_LIBRARIES = ("sqlmodel", "sqlalchemy", "alembic")


@pytest.fixture(scope="module")
def current_database(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A SQLite database at the current schema with one episode (made by `crs open`: the migration runs there)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('imports') / 'crs.db'}"
    done = subprocess.run([sys.executable, "-m", "cli", "--db", url, "--json", "open", "--patient", "PT-IMPORTS",
                           "--weight-kg", "70", "--age-years", "40", "--at", "-2h"],
                          capture_output=True, text=True, timeout=60, env={"NO_COLOR": "1", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    return url, json.loads(done.stdout)["episode"]


@pytest.mark.parametrize("argv", [
    ["observe", "{episode}", "--temp", "38.4", "--at", "-90m"],
    ["observe", "{episode}", "--temp", "38.5", "--at", "-80m", "--json"],
    ["give", "{episode}", "tocilizumab", "--dose-mg", "560", "--at", "-70m", "--json"],
    ["status", "{episode}"], ["history", "{episode}"], ["list"], ["list", "--due", "--json"],
    ["audit", "verify", "--json"],
], ids=lambda argv: " ".join(argv))
def test_steps_and_queries_load_no_sqlalchemy(current_database: tuple[str, str], argv: list[str]) -> None:
    url, episode = current_database
    heavy = SCHEMA_LIBRARIES + (("rich",) if "--json" in argv else ())
    assert_loads_none_of(heavy, ["--db", url, *(arg.format(episode=episode) for arg in argv)])


def test_a_new_database_is_made_by_alembic(tmp_path: pytest.TempPathFactory) -> None:
    """The probe can fail: a command that has to create the schema does load Alembic and SQLAlchemy, and a
    human view loads rich."""
    code = PROBE.format(argv=["--db", f"sqlite:///{tmp_path}/new.db", "open", "--patient", "PT-NEW", "--weight-kg",
                              "70", "--age-years", "40"],
                        heavy_roots=("sqlalchemy", "alembic", "rich"), heavy=("sqlalchemy", "alembic", "rich"))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    marker = [line for line in done.stderr.splitlines() if line.startswith("LOADED=")]
    assert {"sqlalchemy", "alembic", "rich"} <= {m.split(".")[0] for m in json.loads(marker[-1].removeprefix("LOADED="))}


def test_the_probe_can_fail() -> None:
    """A command that does open the database loads pydantic: the probes above would see it."""
    code = PROBE.format(argv=["--db", "sqlite:////nonexistent/x.db", "list"], heavy_roots=("pydantic",),
                        heavy=("pydantic",))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    marker = [line for line in done.stderr.splitlines() if line.startswith("LOADED=")]
    assert {"pydantic"} <= set(json.loads(marker[-1].removeprefix("LOADED=")))
