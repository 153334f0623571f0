"""Commands that need no database must not pay for loading one: no sqlmodel/sqlalchemy/persistence store.

`crs --help` and `crs pathway` must also start fast (bench/startup.py): no pydantic (Typer's value
coercion is replaced, cli/coercion.py), no rich and no transitions (the pathway is printed from its
frozen copy, pathway/described.py).
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


def test_the_probe_can_fail() -> None:
    """A command that does open the database loads SQLAlchemy and pydantic: the probes above would see them."""
    code = PROBE.format(argv=["--db", "sqlite:////nonexistent/x.db", "list"], heavy_roots=("sqlalchemy", "pydantic"),
                        heavy=("sqlalchemy", "pydantic"))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    marker = [line for line in done.stderr.splitlines() if line.startswith("LOADED=")]
    assert {"sqlalchemy", "pydantic"} <= set(json.loads(marker[-1].removeprefix("LOADED=")))
