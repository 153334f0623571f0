"""Where output goes: one JSON object, or rich text for a person; errors as one sentence.

Colour only when stdout is a terminal and NO_COLOR is unset. Rich is imported only for human
output, so JSON and error paths stay light.
"""

import json
import os
import sys
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from rich.console import Console

    from cli.context import Settings
    from cli.errors import Failure


def write_json(payload: dict[str, Any]) -> None:
    utf8 = (getattr(sys.stdout, "encoding", None) or "").lower().replace("-", "") == "utf8"
    sys.stdout.write(json.dumps(payload, ensure_ascii=not utf8, default=str) + "\n")
    sys.stdout.flush()


def console() -> "Console":
    from rich.console import Console

    is_tty = sys.stdout.isatty()
    plain = not is_tty or bool(os.environ.get("NO_COLOR"))
    width = None if is_tty else max(100, _columns())
    class _Console(Console):
        def on_broken_pipe(self) -> None:  # rich would exit 1, which means "refused" here
            self.quiet = True
            raise BrokenPipeError

    return _Console(file=sys.stdout, highlight=False, emoji=False, markup=False, no_color=plain,
                    color_system=None if plain else "auto", width=width, soft_wrap=False)


def _columns() -> int:
    try:
        return int(os.environ.get("COLUMNS", "120"))
    except ValueError:
        return 120


View = str | Callable[["Console", dict[str, Any]], None]


def emit(config: "Settings", payload: dict[str, Any], view: View) -> None:
    """One result: JSON with --json, else the human view (a cli.views function name) of the same object."""
    if config.json:
        write_json(payload)
        return
    if isinstance(view, str):
        from cli import views  # rich is loaded only for human output

        view = getattr(views, view)
    view(console(), payload)


def report_failure(failure: "Failure", as_json: bool) -> None:
    """An error: the JSON object on stdout with --json, else one plain sentence on stderr."""
    if as_json:
        write_json(failure.payload)
    else:
        sys.stderr.write(f"crs: {failure.sentence}\n")
        sys.stderr.flush()
