"""The pydantic-free coercion (cli/coercion.py) decides every value exactly as Typer's own would.

For each parameter it took over, the same value goes through both: the same result, or the same
usage message, or the same kind of exception. Values mix valid and malformed ones of every kind.
"""

from enum import Enum
from typing import Any

import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st
from typer._click import Context
from typer._click.exceptions import BadParameter
from typer._coercion import build_runtime_param

from cli import coercion
from cli.app import app

ROOT = typer.main.get_command(app)
ALL = list(coercion.parameters(ROOT))
TAKEN = [p for p in ALL if isinstance(p._runtime_param, coercion.PlainRuntimeParam)]
CHOICES = sorted({str(member.value) for p in TAKEN if isinstance(p.type_descriptor.annotation, type)
                  and issubclass(p.type_descriptor.annotation, Enum) for member in p.type_descriptor.annotation})
SAMPLES = [*CHOICES, *(c.upper() for c in CHOICES), " table", "", " ", "38.5", "-1", "1e999", "nan", "0.21", "7",
           "2026-03-01T14:30:00Z", "2026-03-01 14:30", "yesterday", "E7K2", "e7k2-o1", "default", "nurse-a",
           "sqlite:///x.db", "a\udcff", "a\x00b", "\u202e", "x" * 600, "/nonexistent/p.toml", "PT-1:2/3"]
VALUES = st.one_of(st.sampled_from(SAMPLES), st.text(max_size=40), st.none(), st.booleans(), st.integers(),
                   st.floats(allow_nan=False), st.binary(max_size=6))


def _outcome(runtime: Any, param: Any, value: Any) -> tuple[str, Any]:
    try:
        return "ok", runtime.coerce(value, param=param, ctx=Context(ROOT))
    except BadParameter as bad:
        return "usage", bad.format_message()
    except Exception as error:  # noqa: BLE001 - the kind of failure must match too
        return "raised", type(error)


def test_the_plain_parameters_are_taken_over() -> None:
    """Those `crs pathway` and the global options need, at least: else pydantic loads again."""
    names = {p.name for p in TAKEN}
    assert {"db", "actor", "json_out", "version", "format", "episode", "at", "temp", "drug"} <= names
    assert len(TAKEN) >= len(ALL) - 8, [p.name for p in ALL if p not in TAKEN]


def test_other_parameters_keep_typers_coercion() -> None:
    left = {p.name: p.type_descriptor.annotation for p in ALL if p not in TAKEN}
    assert left, "expected Path and Literal parameters to stay with Typer"
    assert all(p._runtime_param is None for p in ALL if p not in TAKEN)


@settings(max_examples=600, deadline=None)
@given(index=st.integers(min_value=0, max_value=len(TAKEN) - 1), value=VALUES)
def test_same_outcome_as_typer(index: int, value: Any) -> None:
    param = TAKEN[index]
    ours = _outcome(param._runtime_param, param, value)
    typers = _outcome(build_runtime_param(param.type_descriptor), param, value)
    assert ours == typers, f"{param.name}={value!r}"


@pytest.mark.parametrize("value", ["bad", "TABLE", "", "x" * 200, "a\x00b", "\u202ejson"])
def test_a_bad_format_is_one_clear_sentence(value: str) -> None:
    from typer.testing import CliRunner

    from tests.cli.conftest import one_sentence

    result = CliRunner().invoke(app, ["pathway", "--format", value])
    assert result.exit_code == 2 and result.stdout == ""
    assert one_sentence(result.stderr) and "--format" in result.stderr and "'table', 'mermaid', 'json'" in result.stderr
