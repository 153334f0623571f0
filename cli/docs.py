"""The generated parts of README.md and docs/CLINICAL.md, so the documentation cannot drift from the code.

README.md: the rule table (pathway/rules.py). docs/CLINICAL.md: the rule table, the figures a site may change
(pathway/policy.py: Policy, with their defaults and the bounds validation allows), the hard limits no policy
or override can pass (HardLimits), and the sources every rule cites (pathway/sources.py). Each part sits
between `<!-- NAME:start -->` and `<!-- NAME:end -->`; the prose around them is written by hand.
A test (tests/cli/test_help_and_docs.py) fails when a part is stale.

Regenerate after changing the rules, the policy, the limits or the sources:  .venv/bin/python -m cli.docs
"""

from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
START, END = "<!-- rules:start -->", "<!-- rules:end -->"


def markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def rules_markdown() -> str:
    from pathway.rules import RULES

    lines = ["| rule | kind | refuses when / requires | sources |", "| --- | --- | --- | --- |"]
    for rule in RULES.values():
        lines.append(f"| `{rule.id}` | {rule.kind.value} | {rule.sentence} | {', '.join(rule.citations)} |")
    return "\n".join(lines)


def _bounds(field: Any) -> str:
    """The range pydantic accepts for a policy field, e.g. `≥ 37.5, ≤ 39`, or its choices."""
    import typing

    parts = []
    for item in field.metadata:
        for attribute, sign in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
            value = getattr(item, attribute, None)
            if value is not None:
                parts.append(f"{sign} {value:g}" if isinstance(value, (int, float)) else f"{sign} {value}")
    if typing.get_origin(field.annotation) is typing.Literal:
        parts.append(" or ".join(f"`{choice}`" for choice in typing.get_args(field.annotation)))
    return ", ".join(parts) or "—"


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (tuple, list)):
        return ", ".join(_value(v) for v in value) or "—"
    return str(value)


def policy_markdown() -> str:
    """Every policy field: its default and what validation allows (a site's policy file may change it)."""
    from pathway.policy import Policy

    lines = ["| policy figure | default | a site may set | meaning |", "| --- | --- | --- | --- |"]
    for name, field in Policy.model_fields.items():
        if name in ("name", "version"):
            continue
        lines.append(f"| `{name}` | {_value(field.default)} | {_bounds(field)} | {field.description or ''} |")
    return "\n".join(lines)


def hard_limits_markdown() -> str:
    """The hard limits: no policy, override or correction passes them."""
    from dataclasses import fields

    from pathway.policy import HARD_LIMITS

    lines = ["| hard limit | value |", "| --- | --- |"]
    for field in fields(HARD_LIMITS):
        lines.append(f"| `{field.name}` | {_value(getattr(HARD_LIMITS, field.name))} |")
    return "\n".join(lines)


def sources_markdown() -> str:
    from pathway.sources import SOURCES

    return "\n".join(f"- `{key}` — {text}" for key, text in SOURCES.items())


#: file (relative to the project) -> its generated parts: marker name -> what writes it
PARTS: dict[str, dict[str, Callable[[], str]]] = {
    "README.md": {"rules": rules_markdown},
    "docs/CLINICAL.md": {"rules": rules_markdown, "policy": policy_markdown, "hard-limits": hard_limits_markdown,
                         "sources": sources_markdown},
}


def with_part(text: str, name: str, body: str) -> str:
    """`text` with the part between the markers of `name` replaced by `body` (unchanged without the markers)."""
    start, end = markers(name)
    head, found, rest = text.partition(start)
    if not found:
        return text
    _, _, tail = rest.partition(end)
    return f"{head}{start}\n{body}\n{end}{tail}"


def with_rules(readme: str) -> str:
    """The README text with its rule table replaced by the current one."""
    return with_part(readme, "rules", rules_markdown())


def regenerated(relative: str) -> str:
    """The file's text with every generated part current."""
    text = (ROOT / relative).read_text(encoding="utf-8")
    for name, write in PARTS[relative].items():
        text = with_part(text, name, write())
    return text


def main() -> None:
    for relative in PARTS:
        (ROOT / relative).write_text(regenerated(relative), encoding="utf-8")


if __name__ == "__main__":
    main()
