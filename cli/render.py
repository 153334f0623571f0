"""Where output goes: one JSON object, or rich text for a person; errors as one sentence.

Colour only when stdout is a terminal and NO_COLOR is unset. Rich is imported only for human
output, so JSON and error paths stay light; `text_table` and `bold` draw a table and bold text without
rich for output that must start fast (`crs pathway`: cli/commands/describe.py gives the figures).

Stored text reaches a person only through `emit` (every string of the payload through
cli.text.visible before a view sees it, so widths are laid out on what is shown) and `write_json`
(cli.text.visible_json: the same JSON value, no raw DEL, C1 or bidi character), so a record can never
clear or rewrite a screen (HAZARDS H22). Rich markup is off: a stored `[red]` is text, not a style.
"""

import json
import os
import sys
from typing import TYPE_CHECKING, Any, Callable

from cli.text import visible_all, visible_json

if TYPE_CHECKING:
    from rich.console import Console

    from cli.context import Settings
    from cli.errors import Failure


def write_json(payload: dict[str, Any]) -> None:
    sys.stdout.write(visible_json(json.dumps(payload, ensure_ascii=not _utf8_out(), default=str)) + "\n")
    sys.stdout.flush()


def console() -> "Console":
    from rich.console import Console

    is_tty = sys.stdout.isatty()
    plain = not is_tty or bool(os.environ.get("NO_COLOR"))
    width = None if is_tty else output_width()
    class _Console(Console):
        def on_broken_pipe(self) -> None:  # rich would exit 1, which means "refused" here
            self.quiet = True
            raise BrokenPipeError

    return _Console(file=sys.stdout, highlight=False, emoji=False, markup=False, no_color=plain,
                    color_system=None if plain else "auto", width=width, soft_wrap=False)


def output_width() -> int:
    """The terminal's width; when stdout is not a terminal (a pipe, a file, a test), COLUMNS, else 80:
    the width of the ward workstation's terminal the views are laid out for."""
    if sys.stdout.isatty():
        import shutil

        return shutil.get_terminal_size().columns
    return _columns()


def _columns() -> int:
    try:
        columns = int(os.environ.get("COLUMNS", "80"))
    except ValueError:
        return 80
    return columns if columns >= 20 else 80


def write_text(text: str) -> None:
    """Plain text on stdout; characters its encoding cannot show become `?` rather than an error."""
    encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        text = text.encode(encoding, "replace").decode(encoding)
    except LookupError:  # an encoding Python does not know: write as is
        pass
    sys.stdout.write(text)
    sys.stdout.flush()


def bold(text: str) -> str:
    """Bold on a colour terminal (the rule console() follows), else the text as is.

    Kept, measured 2026-12-02 (issue 13: `crs pathway` on a terminal, 20 interleaved runs, CPU): through
    rich's Console, which would decide the terminal and NO_COLOR itself, 127 / 178 ms min / median against
    117 / 149 ms with this code; rich's Style.render costs about nothing more (importing rich.style ~9 ms)
    but would still need this very check, so it would only replace the escape code."""
    if sys.stdout.isatty() and not os.environ.get("NO_COLOR"):
        return f"\x1b[1m{text}\x1b[0m"
    return text


def _utf8_out() -> bool:
    return (getattr(sys.stdout, "encoding", None) or "").lower().replace("-", "") == "utf8"


def text_table(header: list[str], rows: list[list[str]], width: int) -> str:
    """A boxed table in at most `width` columns: cells wrap at spaces; the widest columns give way first, each
    down to its longest word, so no word or identifier is split (a table whose longest words alone are wider
    than `width` is drawn wider: nothing is cut).

    Kept, not rich's Table: `crs pathway` (its one user) took 125 / 159 ms CPU min / median this way and 238 /
    291 ms with rich's Table (20 interleaved runs, 2026-12-02; cli/commands/describe.py)."""
    import textwrap

    box = "┌┬┐├┼┤└┴┘─│" if _utf8_out() else "+++++++++-|"
    count = len(header)
    natural = [max(len(line) for cell in [name, *(row[i] for row in rows)] for line in (cell or " ").split("\n"))
               for i, name in enumerate(header)]
    longest_word = [max((len(word) for cell in [name, *(row[i] for row in rows)] for word in (cell or "").split()),
                        default=1) for i, name in enumerate(header)]
    # a column gives way down to its longest word (an identifier, a rule ID, a number with its unit stays whole)
    floor = [min(natural[i], max(longest_word[i], min(len(header[i]), 8))) for i in range(count)]
    if sum(floor) + 3 * count + 1 > width:  # even at its longest words it does not fit: one record per row
        return records(header, rows, width)
    widths = list(natural)
    room = max(width - 3 * count - 1, sum(floor))
    while sum(widths) > room:  # narrow the widest column that can still give way, one character at a time
        column = max((i for i in range(count) if widths[i] > floor[i]), key=lambda i: widths[i])
        widths[column] -= 1

    def rule(left: str, middle: str, right: str) -> str:
        return left + middle.join(box[9] * (w + 2) for w in widths) + right

    def line(cells: list[str]) -> list[str]:
        wrapped = [[piece for part in (cell or "").split("\n")
                    for piece in ([part] if len(part) <= w else textwrap.wrap(part, w, break_on_hyphens=False) or [""])]
                   for cell, w in zip(cells, widths)]
        height = max(len(lines) for lines in wrapped)
        return [box[10] + box[10].join(f" {(lines[k] if k < len(lines) else ''):<{w}} "
                                       for lines, w in zip(wrapped, widths)) + box[10] for k in range(height)]

    out = [rule(box[0], box[1], box[2]), *line(header), rule(box[3], box[4], box[5])]
    for row in rows:
        out += line(row)
    out.append(rule(box[6], box[7], box[8]))
    return "\n".join(out)


def records(header: list[str], rows: list[list[str]], width: int) -> str:
    """A table too wide for `width` as records: each row's first cell on a line of its own, then every other
    cell as `header: value`, wrapped between words and indented (no word split, nothing cut)."""
    import textwrap

    out: list[str] = []
    for row in rows:
        out.append(" ".join((row[0] or "—").split("\n")))
        for name, cell in zip(header[1:], row[1:]):
            text = " ".join((cell or "—").split("\n"))
            out += textwrap.wrap(f"{name}: {text}", width, initial_indent="  ", subsequent_indent="      ",
                                 break_long_words=False, break_on_hyphens=False) or ["  " + name + ":"]
    return "\n".join(out)


View = str | Callable[["Console", dict[str, Any]], None]


def emit(config: "Settings", payload: dict[str, Any], view: View, **options: Any) -> None:
    """One result: JSON with --json, else the human view (a cli.views function name, called with `options`,
    e.g. wide=True) of the same object."""
    if config.json:
        write_json(payload)
        return
    if isinstance(view, str):
        from cli import views  # rich is loaded only for human output

        view = getattr(views, view)
    view(console(), visible_all(payload), **options)


def report_failure(failure: "Failure", as_json: bool) -> None:
    """An error: the JSON object on stdout with --json, else one plain sentence on stderr."""
    if as_json:
        write_json(failure.payload)
    else:
        sys.stderr.write(f"crs: {failure.sentence}\n")
        sys.stderr.flush()
