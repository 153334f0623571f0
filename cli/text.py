"""One plain-text form for any value shown to a person (terminal, Markdown and HTML reports)."""

from typing import Any


def as_text(value: Any) -> str:
    """None as a dash, booleans as yes/no, floats without trailing zeros, lists and dicts inline."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(as_text(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={as_text(v)}" for k, v in value.items())
    return str(value)
