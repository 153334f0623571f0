"""Typer's value coercion without pydantic, for the plain parameters `crs` declares.

Typer 0.29 coerces every value it processes (even an unset `--db`) through a pydantic TypeAdapter
built on first use, so `crs pathway` imported pydantic and built adapters: more than its whole
time budget (bench/startup.py). Our parameters are plain: a `parser=` callable (cli/values.py), a
str, a bool flag, or an Enum of choices. For exactly those, `install` gives each parameter a
coercion that does what Typer's adapter does, with the same result and the same message. Anything
else, and any case the fast path is unsure of (a non-str value, an error that is not a plain
ValueError), goes to Typer's own coercion; if Typer's internals differ (an upgrade), nothing is
installed. So an upgrade can cost speed, never correctness. tests/cli/test_coercion.py compares
the two paths value by value for every parameter of every command.

Kept, measured 2026-12-02 (issue 13: 20 interleaved runs each, CPU of the child process, this
module's `install` disabled for "without"): `crs pathway` 97 / 147 ms min / median with it, 203 /
286 ms without (it loads pydantic: ~2x); `crs open --help` and any command's value also load
pydantic without it. `crs --help` and `--version` are the same either way (their eager callbacks
exit before any value is coerced; `crs --help` 95 ms against `import typer` 73 ms: 1.3x, goal 1.5x).
A step loads pydantic anyway and gains nothing measurable.
"""

from collections.abc import Iterator
from enum import Enum
from typing import Any, get_origin

try:  # Typer internals: without them, nothing is installed and Typer coerces as usual
    from typer._click.exceptions import BadParameter
    from typer._click.utils import _escape_control_characters
    from typer._coercion import RuntimeParam, build_runtime_param
    from typer._param_types import coerce_cli_choice
    from typer.core import _TyperParameter
except ImportError:  # pragma: no cover - depends on the installed Typer
    RuntimeParam = None  # type: ignore[assignment,misc]


class _Unsure(Exception):
    """The fast path does not decide this value; Typer's own coercion does."""


def _is_plain(param: Any) -> bool:
    """One value (no list, tuple or file) with a parser=, or annotated Enum, bool or str."""
    descriptor = param.type_descriptor
    annotation = descriptor.annotation
    if param.multiple or param.nargs != 1 or descriptor.file_annotation is not None:
        return False
    if get_origin(annotation) in (list, tuple):
        return False
    return (descriptor.parameter_info.parser is not None or annotation in (bool, str)
            or (isinstance(annotation, type) and issubclass(annotation, Enum)))


def _convert(annotation: Any, info: Any, value: Any, ctx: Any) -> Any:
    """What Typer's pydantic adapter does with a value of a plain parameter, in the order Typer checks."""
    if info.parser is not None:  # Typer: Annotated[Any, BeforeValidator(parser)]
        return info.parser(value)
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return coerce_cli_choice(value, choices=tuple(annotation), case_sensitive=info.case_sensitive, ctx=ctx)
    if type(value) is not annotation:  # bool or str: flags yield bools, argv gives str; anything else is Typer's
        raise _Unsure
    return value


if RuntimeParam is not None:
    class PlainRuntimeParam(RuntimeParam):  # type: ignore[misc,valid-type]
        """Converts as Typer's adapter would; a plain ValueError becomes Typer's message ("Value error, ...").

        Anything else (a value the fast path is unsure of, another exception) is left to Typer's own
        coercion, so the two can differ only in speed.
        """

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            try:
                return _convert(self.annotation, self.parameter_info, value, ctx)
            except _Unsure:
                pass
            except ValueError as error:
                message = f"Value error, {error}"
                if type(error) is ValueError and _encodable(message):
                    raise BadParameter(_escape_control_characters(message), ctx=ctx, param=param) from error
            typer_own = build_runtime_param(param.type_descriptor)
            return typer_own._coerce_value(value, param=param, ctx=ctx)


def _encodable(text: str) -> bool:
    """pydantic cannot carry a message with lone surrogates; Typer's path then decides what happens."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def parameters(command: Any) -> Iterator[Any]:
    """Every parameter of a command and of all its sub-commands."""
    yield from command.params
    for sub in getattr(command, "commands", {}).values():
        yield from parameters(sub)


def install(command: Any) -> int:
    """Give each plain parameter of `command` (and its sub-commands) the fast coercion; returns how many."""
    return sum(install_param(param) for param in parameters(command))


def install_param(param: Any) -> bool:
    """Give one parameter the fast coercion if it is plain and Typer has not built its own yet."""
    if RuntimeParam is None or not isinstance(param, _TyperParameter):
        return False
    if getattr(param, "_runtime_param", True) is not None:
        return False
    try:
        if not _is_plain(param):
            return False
        runtime = PlainRuntimeParam(annotation=param.type_descriptor.annotation,
                                    parameter_info=param.type_descriptor.parameter_info)
    except (AttributeError, TypeError):  # a Typer whose descriptors or RuntimeParam differ
        return False
    param._runtime_param = runtime
    return True
