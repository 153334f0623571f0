"""The README's generated parts (the rule table), so the documentation cannot drift from the code.

Regenerate after changing pathway/rules.py:  .venv/bin/python -m cli.docs
"""

from pathlib import Path

START, END = "<!-- rules:start -->", "<!-- rules:end -->"


def rules_markdown() -> str:
    from pathway.rules import RULES

    lines = ["| rule | kind | refuses when / requires | sources |", "| --- | --- | --- | --- |"]
    for rule in RULES.values():
        lines.append(f"| `{rule.id}` | {rule.kind.value} | {rule.sentence} | {', '.join(rule.citations)} |")
    return "\n".join(lines)


def with_rules(readme: str) -> str:
    """The README text with its rule table replaced by the current one."""
    head, _, rest = readme.partition(START)
    _, _, tail = rest.partition(END)
    return f"{head}{START}\n{rules_markdown()}\n{END}{tail}"


def main() -> None:
    path = Path(__file__).resolve().parent.parent / "README.md"
    path.write_text(with_rules(path.read_text(encoding="utf-8")), encoding="utf-8")


if __name__ == "__main__":
    main()
