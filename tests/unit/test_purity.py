"""pathway/ and states/ stay pure: no database, CLI, environment or clock (house rule 1)."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN_MODULES = {"sqlmodel", "sqlalchemy", "typer", "click", "rich", "psycopg", "persistence", "cli", "os",
                     "time", "subprocess", "sqlite3", "platformdirs", "alembic"}
FORBIDDEN_CALLS = {("datetime", "now"), ("datetime", "utcnow"), ("datetime", "today"), ("date", "today"),
                   ("time", "time"), ("time", "monotonic"), ("os", "environ"), ("os", "getenv")}
STATES_ALLOWED = {"enum", "dataclasses", "collections", "states", "__future__", "typing"}


def _files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.source_text
@pytest.mark.parametrize("path", _files("pathway") + _files("states"), ids=lambda p: str(p.relative_to(ROOT)))
def test_module_is_pure(path: Path) -> None:
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name.split(".")[0] for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module.split(".")[0]]
        for name in names:
            assert name not in FORBIDDEN_MODULES, f"{path.name} imports {name}"
            if path.parent.name == "states":
                assert name in STATES_ALLOWED, f"states/ is stdlib data only; {path.name} imports {name}"
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            assert (node.value.id, node.attr) not in FORBIDDEN_CALLS, f"{path.name} reads {node.value.id}.{node.attr}"


def test_importing_the_core_loads_no_database_or_cli() -> None:
    code = ("import sys, pathway.service, pathway.recommend, pathway.describe, pathway.replay;"
            "print(','.join(sorted(m for m in ('sqlmodel','sqlalchemy','typer','rich','psycopg') if m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
