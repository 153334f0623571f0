"""The declared lower bounds of pyproject.toml as pins, for the lowest-versions environment (issue 13).

`python3 scripts/lowest_pins.py [EXTRA ...]` prints a pip constraints file: each requirement of
[project].dependencies (and of the named optional-dependency groups) as `name==X`, where `X` is its `>=X`
lower bound. `psycopg[binary]>=X` also pins `psycopg-binary==X` (the extra's own distribution, released
in step with psycopg). A requirement without a `>=` lower bound, or with a marker or another operator, is
an error: every dependency must have a lower bound that scripts/lowest-versions.sh installs and tests.

Standard library only (tomllib), so it runs before any environment exists. tests/unit/test_packaging.py
loads it too.
"""

import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: `name`, `name[extra,...]`, then `>=X` and optionally `,<Y`; nothing else (no markers, no `~=`, no `==`).
REQUIREMENT = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?:\[(?P<extras>[A-Za-z0-9_,. -]+)\])?"
                         r"\s*>=\s*(?P<low>[0-9][0-9A-Za-z.]*)\s*(?:,\s*<\s*[0-9][0-9A-Za-z.]*\s*)?$")

#: An extra that is a distribution of its own, released with the same version numbers (`psycopg[binary]`).
EXTRA_DISTRIBUTIONS = {("psycopg", "binary"): "psycopg-binary"}


def normalize(name: str) -> str:
    """PEP 503 normalized name: `Typing_Extensions` and `typing.extensions` both become `typing-extensions`."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirements(extras: tuple[str, ...] = (), pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    """The requirement strings of the project's dependencies and of the named extras, in declaration order."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    found = list(project["dependencies"])
    optional = project.get("optional-dependencies", {})
    for extra in extras:
        if extra not in optional:
            raise SystemExit(f"error: pyproject.toml has no optional-dependencies group {extra!r}")
        found += optional[extra]
    return found


def parse(requirement: str) -> tuple[str, tuple[str, ...], str]:
    """(name, extras, lower bound) of `name[extras]>=low`; SystemExit for any other form."""
    match = REQUIREMENT.match(requirement.strip())
    if match is None:
        raise SystemExit(f"error: {requirement!r} is not of the form name>=X (or name[extra]>=X): "
                         "every dependency needs a lower bound that the lowest-versions environment installs")
    extras = tuple(e.strip() for e in (match["extras"] or "").split(",") if e.strip())
    return match["name"], extras, match["low"]


def pins(extras: tuple[str, ...] = (), pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    """The constraints: `name==low` for each requirement, plus the extras that are distributions of their own."""
    out: dict[str, str] = {}
    for requirement in requirements(extras, pyproject):
        name, its_extras, low = parse(requirement)
        wanted = {normalize(name): low}
        for extra in its_extras:
            if (normalize(name), extra) in EXTRA_DISTRIBUTIONS:
                wanted[EXTRA_DISTRIBUTIONS[(normalize(name), extra)]] = low
        for key, version in wanted.items():
            if out.get(key, version) != version:
                raise SystemExit(f"error: {key} has two lower bounds, {out[key]} and {version}")
            out[key] = version
    return [f"{name}=={version}" for name, version in out.items()]


if __name__ == "__main__":
    print("\n".join(pins(tuple(sys.argv[1:]))))
