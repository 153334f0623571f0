"""Next steps in words (CONTRACT v2 kinds): give, give ONE of (alternatives), act, support, assess now,
reassess by / OVERDUE. Plain strings, no rich: the terminal views and any other output share them.
"""

import re
from collections.abc import Callable
from typing import Any

from cli.text import as_text, missing_text

_ISO = re.compile(r"(\d{4}-\d\d-\d\d)T(\d\d:\d\d)(:\d\d)?(\.\d+)?(Z|\+00:00)")


def when(value: Any) -> str:
    """A UTC time for people: `2026-03-01 14:30:05Z` (JSON keeps full ISO 8601)."""
    return _ISO.sub(lambda m: f"{m.group(1)} {m.group(2)}{m.group(3) or ''}Z", str(value)) if value else "—"


def short_when(value: Any) -> str:
    """A UTC time in a narrow column: `03-01 14:30Z` (the year and seconds in `--wide` and JSON)."""
    return _ISO.sub(lambda m: f"{m.group(1)[5:]} {m.group(2)}Z", str(value)) if value else "—"


def regimen_text(option: dict[str, Any]) -> str:
    """One dose option in a few words: `dexamethasone 10 mg iv q6h` (its schedule after a colon)."""
    text = str(option.get("drug"))
    if option.get("dose_mg") is not None:
        text += f" {as_text(option['dose_mg'])} mg"
    if option.get("route"):
        text += f" {option['route']}"
    if option.get("every_hours"):
        text += f" q{as_text(option['every_hours'])}h"
    if option.get("schedule"):
        text += ": " + "; then ".join(str(part) for part in option["schedule"])
    return text


def step_text(item: dict[str, Any], time_text: Callable[[Any], str] = when) -> str:
    """A next step as a person reads it: give / give ONE of / act / support / assess now / reassess."""
    kind = item.get("kind")
    if kind == "give":
        options = item.get("alternatives")
        if options:
            return "give ONE of: " + " | ".join(regimen_text(option) for option in options)
        return "give " + regimen_text(item)
    if kind == "act":
        return f"act {item.get('action')}"
    if kind == "support":
        return f"support: {item.get('support')}"
    if kind == "assess":
        return f"assess now: {missing_text(item.get('missing') or [])}"
    if kind == "reassess":
        if item.get("overdue"):
            return f"reassess now: OVERDUE since {time_text(item.get('at'))}"
        return f"reassess by {time_text(item.get('at'))}"
    return as_text({k: v for k, v in item.items() if k not in ("why", "citations", "rule")})
