"""Parsers for option values: each turns text into a checked value or raises ValueError with one
sentence naming the value and the limit, so bad input is refused before anything is opened.

Typer calls these while parsing; the error map (cli/errors.py) adds the option's name.
"""

import math
import re
import unicodedata
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

#: Unicode categories refused in free text: control, format (e.g. bidi overrides), surrogate
#: (undecodable argv bytes), private use and unassigned. What remains is printable text.
_UNPRINTABLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})
_PATIENT_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/-]*")
_EPISODE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
_POLICY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


def shown(value: object, limit: int = 40) -> str:
    """A user value quoted for an error sentence: control characters escaped, long text cut."""
    text = str(value)
    return repr(text if len(text) <= limit else text[:limit] + "…")


def number(low: float, high: float, *, integer: bool = False, low_open: bool = False,
           unit: str = "") -> Callable[[str], float | int]:
    """A finite number within [low, high] (or (low, high] when low_open)."""
    suffix = f" {unit}" if unit else ""

    def parse(text: str | float | int) -> float | int:
        raw = str(text).strip()
        if len(raw) > 32:
            raise ValueError(f"{shown(raw)} is too long to be a number")
        try:
            value: float | int = int(raw) if integer else float(raw)
        except ValueError:
            kind = "a whole number" if integer else "a number"
            raise ValueError(f"{shown(text)} is not {kind}") from None
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{shown(text)} is not a finite number")
        if value < low or (low_open and value == low):
            bound = "above" if low_open else "at least"
            raise ValueError(f"{_number_text(raw)} is out of range: it must be {bound} {low:g}{suffix} "
                             f"(and at most {high:g})")
        if value > high:
            raise ValueError(f"{_number_text(raw)} is out of range: it must be at most {high:g}{suffix}")
        return value

    return parse


def capd(value: str) -> int | str:
    """A CAPD total (0–32) or `unable` (CAPD cannot be performed: grade 4 domain, CLINICAL §2b)."""
    raw = str(value).strip()
    if raw.lower() == "unable":
        return "unable"
    try:
        return int(number(0, 32, integer=True)(raw))
    except ValueError:
        raise ValueError(f"{shown(raw)} is not a CAPD total: give a whole number from 0 to 32, or 'unable' when "
                         "the CAPD cannot be performed") from None


def drug(value: str) -> str:
    """A drug name, case-insensitive (`Dexamethasone` is dexamethasone); unknown names list the known ones."""
    from pathway.drugs import Drug

    folded = str(value).strip().lower()
    names = [d.value for d in Drug]
    if folded not in names:
        raise ValueError(f"{shown(value)} is not a drug the pathway knows; choose from {', '.join(names)}")
    return folded


def _number_text(raw: str) -> str:
    """The number as typed, cut if very long (never formatted: a huge int cannot become a float)."""
    return raw if len(raw) <= 24 else raw[:20] + "…"


def text(max_length: int) -> Callable[[str], str]:
    """One line of printable text, 1..max_length characters after trimming."""

    def parse(value: str) -> str:
        stripped = str(value).strip()
        if not stripped:
            raise ValueError("the text is empty")
        if len(stripped) > max_length:
            raise ValueError(f"the text has {len(stripped)} characters, more than the limit of {max_length}")
        for char in stripped:
            if unicodedata.category(char) in _UNPRINTABLE:
                raise ValueError(f"the text contains the unprintable character U+{ord(char):04X}; "
                                 "use one line of printable text")
        return stripped

    return parse


def patient_ref(value: str) -> str:
    """A pseudonymous reference (no names): letters, digits and - _ . : / only."""
    stripped = str(value).strip()
    if len(stripped) > 64 or not _PATIENT_REF.fullmatch(stripped):
        # the value is not echoed: whatever was typed here might be a name (no PHI in messages)
        raise ValueError("the patient reference must be pseudonymous: 1 to 64 letters, digits and - _ . : / "
                         "(no names or spaces)")
    return stripped


def episode_id(value: str) -> str:
    """An episode id as `crs open` printed it (case and O/0, I/1 look-alikes forgiven)."""
    from persistence.ids import normalise_episode_id  # stdlib only: no database driver is loaded

    stripped = str(value).strip()
    if len(stripped) > 64 or not _EPISODE_ID.fullmatch(stripped):
        raise ValueError(f"{shown(value)} is not an episode id (letters, digits, - and _, as `crs open` printed it)")
    return normalise_episode_id(stripped)


def actor(value: str) -> str:
    return text(64)(value)


def iso_time(value: str | datetime) -> datetime:
    """ISO 8601 -> aware UTC. An offset or `Z` is taken as given; a naive time is local time."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.astimezone()
    raw = str(value).strip()
    example = "use ISO 8601, e.g. 2026-03-01T14:30:00Z"
    if not raw or len(raw) > 64:
        raise ValueError(f"{shown(value)} is not a time; {example}")
    try:
        parsed = datetime.fromisoformat(raw)
        if parsed.tzinfo is None or parsed.utcoffset() is None:
            parsed = parsed.astimezone()  # naive: the machine's local zone
        return parsed.astimezone(timezone.utc)
    except (ValueError, OverflowError, OSError):
        raise ValueError(f"{shown(value)} is not a time; {example}") from None


def policy(value: str) -> "object":
    """A packaged policy name (e.g. `default`) or a TOML policy file, validated against the hard limits."""
    import tomllib
    from importlib import resources

    from pydantic import ValidationError

    from pathway.policy import Policy

    raw = str(value).strip()
    path = Path(raw)
    looks_like_file = raw.endswith(".toml") or "/" in raw or "\\" in raw
    if not looks_like_file and _POLICY_NAME.fullmatch(raw) and len(raw) <= 64:
        packaged = resources.files("pathway").joinpath("policies", f"{raw}.toml")
        if packaged.is_file():
            source, content = f"policy {raw}", packaged.read_text(encoding="utf-8")
        elif path.is_file():
            source, content = f"file {shown(raw)}", _read(path, raw)
        else:
            raise ValueError(f"there is no policy named {shown(raw)} (packaged: {', '.join(packaged_policies())}) "
                             "and no such file")
    else:
        if not path.is_file():
            raise ValueError(f"the policy file {shown(raw)} does not exist")
        source, content = f"file {shown(raw)}", _read(path, raw)
    try:
        return Policy.from_toml(content)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"the {source} is not valid TOML ({str(exc).rstrip('.')})") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "policy"
        message = str(first["msg"]).removeprefix("Value error, ")
        raise ValueError(f"the {source} does not validate: {where}: {message}") from None


def packaged_policies() -> list[str]:
    from importlib import resources

    folder = resources.files("pathway").joinpath("policies")
    return sorted(entry.name.removesuffix(".toml") for entry in folder.iterdir() if entry.name.endswith(".toml"))


def _read(path: Path, raw: str) -> str:
    try:
        if path.stat().st_size > 1_000_000:
            raise ValueError(f"the policy file {shown(raw)} is too large")
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"the policy file {shown(raw)} cannot be read ({type(exc).__name__})") from None


def choice(names: tuple[str, ...]) -> Callable[[str], str]:
    """One of `names`, exactly as spelled (as Typer checks a choice), for options that must stay plain
    (cli/coercion.py) where a Literal type would load pydantic."""

    def parse(value: str) -> str:
        if value not in names:
            raise ValueError(f"{shown(value)} is not one of {', '.join(repr(n) for n in names)}")
        return value

    return parse


def seq(value: str) -> int:
    """An event's seq as `crs history` prints it: a whole number from 1 (at most 9 digits)."""
    raw = str(value).strip()
    if not re.fullmatch(r"[0-9]{1,9}", raw) or int(raw) < 1:
        raise ValueError(f"{shown(value)} is not an event seq: give the whole number from 1 that `crs history` "
                         "shows")
    return int(raw)
