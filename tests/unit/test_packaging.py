"""Every distribution the project imports is declared in pyproject.toml, with a lower bound (issue 13).

The source is read (every `import X` and `from X import ...`, at module level or inside a function: a lazy
import is needed at run time all the same) and each top-level module is mapped to the distribution that
installs it (importlib.metadata.packages_distributions). The runtime packages may import only what
[project].dependencies declares; tests/ and bench/ may also use the `dev` extra, scripts/ also `mutation`.
A transitive dependency imported directly (pydantic_core, a dependency of pydantic) must be declared too:
otherwise its lower bound is nobody's, and scripts/lowest-versions.sh never tests it.
"""

import ast
import importlib.metadata
import importlib.util
import sys
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: Which declarations each folder may rely on: the runtime packages only on [project].dependencies.
FOLDERS = {"pathway": (), "states": (), "persistence": (), "cli": (), "tests": ("dev",), "bench": ("dev",),
           "scripts": ("dev", "mutation")}
#: The project's own top-level modules (scripts/ run with scripts/ on sys.path, so their siblings count too).
OWN = set(FOLDERS) | {path.stem for path in (ROOT / "scripts").glob("*.py")}


def _lowest_pins():  # scripts/lowest_pins.py, the parser the lowest-versions environment uses
    spec = importlib.util.spec_from_file_location("lowest_pins", ROOT / "scripts" / "lowest_pins.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


lowest_pins = _lowest_pins()


def imported_modules(path: Path) -> set[str]:
    """The top-level names of the absolute imports in one source file."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def third_party(folder: str) -> dict[str, list[Path]]:
    """Module -> the files of `folder` that import it, for every module neither stdlib nor the project's own."""
    users: dict[str, list[Path]] = {}
    for path in sorted((ROOT / folder).rglob("*.py")):
        for module in imported_modules(path) - OWN:
            if module not in sys.stdlib_module_names:
                users.setdefault(module, []).append(path.relative_to(ROOT))
    return users


@cache
def declared(extras: tuple[str, ...]) -> set[str]:
    """Normalized names of the distributions declared for [project].dependencies plus `extras`."""
    names = set()
    for requirement in lowest_pins.requirements(extras):
        name, its_extras, _ = lowest_pins.parse(requirement)
        names.add(lowest_pins.normalize(name))
    return names


@pytest.mark.source_text
@pytest.mark.parametrize("folder", list(FOLDERS))
def test_every_imported_distribution_is_declared(folder: str) -> None:
    distributions = importlib.metadata.packages_distributions()
    allowed = declared(FOLDERS[folder])
    problems = []
    for module, users in sorted(third_party(folder).items()):
        providers = {lowest_pins.normalize(d) for d in distributions.get(module, [])}
        if not providers and lowest_pins.normalize(module) in allowed:  # declared, not installed here (mutmut)
            providers = {lowest_pins.normalize(module)}
        where = ", ".join(str(u) for u in users[:3]) + (" ..." if len(users) > 3 else "")
        if not providers:
            problems.append(f"{module} (imported by {where}) is installed by no distribution here, "
                            "and no declared distribution has its name")
        elif not providers & allowed:
            problems.append(f"{module} (imported by {where}) comes from {', '.join(sorted(providers))}, "
                            f"which pyproject.toml does not declare for {folder}/")
    assert not problems, "\n".join(problems)


def test_every_dependency_has_a_lower_bound_the_lowest_environment_pins() -> None:
    """scripts/lowest-versions.sh installs these pins; a requirement without `>=X` would stop it."""
    pins = lowest_pins.pins(("dev", "mutation"))
    assert all("==" in pin for pin in pins)
    names = {pin.partition("==")[0] for pin in pins}
    assert {"pydantic", "pydantic-core", "typer", "psycopg", "psycopg-binary", "markdown-it-py"} <= names


@pytest.mark.parametrize("bad", ["typer", "typer==0.29", "typer~=0.29", "typer>=0.29; python_version<'3.12'",
                                 "typer<1"])
def test_a_requirement_without_a_plain_lower_bound_is_refused(bad: str) -> None:
    with pytest.raises(SystemExit):
        lowest_pins.parse(bad)


def test_pins_keep_the_extra_and_pin_its_distribution(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\ndependencies = ["psycopg[binary]>=3.1.4", "Typing_Extensions>=4.6,<5"]\n'
                         '[project.optional-dependencies]\ndev = ["pytest>=8"]\n')
    assert lowest_pins.pins(("dev",), pyproject) == ["psycopg==3.1.4", "psycopg-binary==3.1.4",
                                                     "typing-extensions==4.6", "pytest==8"]
