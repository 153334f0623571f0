"""The Click classes every `crs` command and group is made of: help laid out without breaking a word at a
hyphen, and the pydantic-free coercion (cli/coercion.py) for the help option too."""

from collections.abc import Sequence
from typing import Any

from typer._click import Context, HelpFormatter
from typer.core import TyperCommand, TyperGroup

from cli import coercion

#: A non-breaking hyphen stands in for every hyphen while Click wraps a help text, then is a hyphen again.
_HELD_HYPHEN = "\u2011"


class CrsHelpFormatter(HelpFormatter):
    """Click's help layout, except that a line never breaks at a hyphen (`--weight-kg`, `nasal-cannula`).

    Click wraps with textwrap's default break_on_hyphens=True and has no setting for it; textwrap breaks
    only at an ASCII hyphen, so the hyphens are held as U+2011 (one column too) while Click wraps."""

    def write_text(self, text: str) -> None:
        super().write_text(text.replace("-", _HELD_HYPHEN))

    def write_dl(self, rows: Sequence[tuple[str, str]], col_max: int = 30, col_spacing: int = 2) -> None:
        super().write_dl([(term, text.replace("-", _HELD_HYPHEN)) for term, text in rows], col_max, col_spacing)

    def write(self, string: str) -> None:
        super().write(string.replace(_HELD_HYPHEN, "-"))


class CrsContext(Context):
    formatter_class = CrsHelpFormatter


class _PlainHelpOption:
    """The help option, which Click makes on first use, gets the pydantic-free coercion too."""

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)  # type: ignore[misc]
        if option is not None:
            coercion.install_param(option)
        return option


class CrsCommand(_PlainHelpOption, TyperCommand):
    """Every `crs` command (each is declared with `cls=CrsCommand`)."""

    context_class = CrsContext


class CrsSubgroup(_PlainHelpOption, TyperGroup):
    """A group of `crs` commands (`crs audit`); cli/app.py's CrsGroup, the whole app, is one too."""

    context_class = CrsContext
