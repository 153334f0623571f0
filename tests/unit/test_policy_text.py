"""A policy file cannot name itself with text that rewrites a screen (HAZARDS H22).

Found: a policy name or version containing ESC[2J, U+202E or a newline was stored and printed raw on
every status and report. Now `Policy.from_toml` (the one way a policy file or a packaged policy is
read) refuses control, format (bidi), surrogate, private-use and unassigned characters and line
breaks in `name` and `version`. A policy already stored (read with `model_validate`, no file context)
still loads, so a record written by an older version stays readable and verifiable; the CLI
escapes it when it shows it (tests/cli/test_escaping.py).
"""

import json

import pytest
from pydantic import ValidationError

from pathway.policy import DEFAULT_POLICY, Policy

HOSTILE = {
    "ESC[2J": "\\u001b[2J",
    "U+202E right-to-left override": "\\u202e",
    "U+2066 left-to-right isolate": "\\u2066",
    "newline": "\\n",
    "carriage return": "\\r",
    "tab": "\\t",
    "NUL": "\\u0000",
    "DEL": "\\u007f",
    "C1 CSI": "\\u009b",
    "zero-width space": "\\u200b",
    "line separator": "\\u2028",
    "paragraph separator": "\\u2029",
    "private use": "\\ue000",
    "unassigned": "\\U000e0080",
}


def _toml(name: str = "site", version: str = "1") -> str:
    return f'name = "{name}"\nversion = "{version}"\n'


@pytest.mark.parametrize("field", ["name", "version"])
@pytest.mark.parametrize("what", sorted(HOSTILE))
def test_policy_name_or_version_with_control_characters_is_refused(field: str, what: str) -> None:
    """ESC[2J, U+202E, a newline (and every other unprintable character) in a policy file's name or version."""
    escape = HOSTILE[what]
    text = _toml(**{field: f"a{escape}b"})
    with pytest.raises(ValidationError) as raised:
        Policy.from_toml(text)
    error = raised.value.errors()[0]
    assert error["loc"] == (field,)
    code = json.loads(f'"{escape}"')[0] if not escape.startswith("\\U") else chr(int(escape[2:], 16))
    assert f"U+{ord(code):04X}" in error["msg"] and "one line of printable text" in error["msg"]


@pytest.mark.parametrize("name", ["Hôpital Saint-Éloi", "病院 2026", "site (v2) — α/β", "Zürich_CAR-T", "🏥 ward"])
def test_policy_name_in_any_script_is_accepted(name: str) -> None:
    """Only what could rewrite a line is refused: letters of any script, symbols, spaces and emoji stay."""
    policy = Policy.from_toml(_toml(name=name, version="2026-03 rev. 1"))
    assert policy.name == name and policy.version == "2026-03 rev. 1"


def test_packaged_policies_still_load() -> None:
    from importlib import resources

    folder = resources.files("pathway").joinpath("policies")
    loaded = [Policy.from_toml(entry.read_text(encoding="utf-8")) for entry in folder.iterdir()
              if entry.name.endswith(".toml")]
    assert loaded and all(p.name for p in loaded)


def test_a_stored_policy_with_such_a_name_still_loads() -> None:
    """A policy stored by an older version (inside an episode's snapshot and open event) is read without the
    file check, so that episode's record stays readable and its replay verifies (HAZARDS H23)."""
    stored = {**DEFAULT_POLICY.model_dump(mode="json"), "name": "site\x1b[2J\u202e\n", "version": "1\n2"}
    policy = Policy.model_validate(stored)
    assert policy.name == "site\x1b[2J\u202e\n"
    assert Policy.model_validate_json(policy.model_dump_json()).version == "1\n2"


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan")])
def test_a_policy_with_a_non_finite_number_is_refused(value: float) -> None:
    """Regression: `resolution_window_h = inf` was accepted and stored as JSON null, and the episode could
    then not be read back (exit 2 on every later step) nor verified."""
    from pydantic import ValidationError

    from pathway.policy import Policy

    with pytest.raises(ValidationError, match="finite"):
        Policy(name="p", version="1", resolution_window_h=value)
