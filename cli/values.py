"""Parsers for option values: each turns text into a checked value or raises ValueError with one
sentence naming the value and the limit, so bad input is refused before anything is opened.

Typer calls these while parsing; the error map (cli/errors.py) adds the option's name.
"""

import math
import re
import unicodedata
from datetime import datetime, timedelta, timezone
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
    """A drug name, any case (`Dexamethasone` is dexamethasone); an unknown name is refused with the closest."""
    from pathway.drugs import Drug

    return pick(value, [d.value for d in Drug], "drug")


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


_A_DAY = timedelta(days=1)


_RELATIVE = re.compile(r"-(\d{1,6})([mhd])")
_CLOCK = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}
TIME_EXAMPLE = "use ISO 8601 (2026-03-01T14:30:00Z), HH:MM (today, local time), now, or -15m, -2h, -1d"


def iso_time(value: str | datetime) -> datetime:
    """A time as typed at the bedside -> aware UTC (CONTRACT "Time").

    ISO 8601: an offset or `Z` is taken as given; a naive time is local time, read only when it names exactly
    one instant (an ambiguous or skipped local time is never guessed). Relative: `now`, `-15m`, `-2h`, `-1d`
    (before now), and `HH:MM` (local time today, or yesterday when today's is still in the future: the most
    recent such time). Only from EARLIEST_TIME to LATEST_TIME (pathway/clock.py), so nothing downstream
    overflows."""
    raw = value.isoformat() if isinstance(value, datetime) else str(value).strip()
    example = TIME_EXAMPLE
    if not raw or len(raw) > 64:
        raise ValueError(f"{shown(value)} is not a time; {example}")
    relative = None if isinstance(value, datetime) else _relative(raw.lower())
    if relative is not None:
        return _in_range(relative, raw)
    try:
        parsed = value if isinstance(value, datetime) else datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"{shown(value)} is not a time; {example}") from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        parsed = _local_instant(parsed.replace(tzinfo=None), raw)
    return _in_range(parsed, raw)


def _relative(raw: str) -> datetime | None:
    """`now`, `-15m`, `-2h`, `-1d` or `HH:MM` as an instant (None: not a relative time)."""
    from cli.clock import now

    current = now()
    if raw == "now":
        return current
    if (match := _RELATIVE.fullmatch(raw)) is not None:
        try:
            return current - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
        except OverflowError:
            return datetime.min.replace(tzinfo=timezone.utc)  # refused by the range check
    if (match := _CLOCK.fullmatch(raw)) is not None:
        today = current.astimezone().replace(tzinfo=None)
        wall = today.replace(hour=int(match.group(1)), minute=int(match.group(2)), second=0, microsecond=0)
        instant = _local_instant(wall, raw)
        if instant > current:  # the most recent such time: yesterday's
            instant = _local_instant(wall - _A_DAY, raw)
        return instant
    return None


def _in_range(parsed: datetime, raw: str) -> datetime:
    """The time in UTC, if it lies within the clinical range; else the one sentence naming the range."""
    from pathway.clock import EARLIEST_TIME, LATEST_TIME  # stdlib only

    try:
        instant = parsed.astimezone(timezone.utc)
    except (OverflowError, ValueError):  # e.g. 0001-01-01T00:00+01:00: before the first representable instant
        instant = None
    if instant is None or not EARLIEST_TIME <= instant <= LATEST_TIME:
        raise ValueError(f"{shown(raw)} is outside the clinical time range crs accepts: give a time from "
                         f"{EARLIEST_TIME.date()} to {LATEST_TIME.date()} (UTC)")
    return instant


def _local_instant(naive: datetime, raw: str) -> datetime:
    """The one instant whose wall time in the machine's local zone (TZ, else /etc/localtime) is `naive`.

    The C library decides the zone: `astimezone()` on a naive time asks it for either reading of the wall
    time (fold=0: the earlier offset, fold=1: the later, PEP 495). A reading counts only if converting its
    instant back gives the same wall time: two that do, with different offsets, mean the hour is repeated
    (clocks went back); none means the hour was skipped (clocks went forward). Either is refused.
    """
    from pathway.clock import EARLIEST_TIME, LATEST_TIME

    if not EARLIEST_TIME.replace(tzinfo=None) - _A_DAY <= naive <= LATEST_TIME.replace(tzinfo=None) + _A_DAY:
        return _in_range(naive.replace(tzinfo=timezone.utc), raw)  # refused: far outside, whatever the zone
    try:
        readings = [naive.replace(fold=fold).astimezone() for fold in (0, 1)]
        instants = [reading.astimezone(timezone.utc) for reading in readings]
        found = {instant: reading.utcoffset() for instant, reading in zip(instants, readings)
                 if instant.astimezone().replace(tzinfo=None) == naive}
    except (OverflowError, OSError, ValueError):  # the C library cannot place this time (a broken zone file)
        raise ValueError(f"{shown(raw)} cannot be read in this machine's local zone; give the time with its "
                         "offset, e.g. 2026-03-01T14:30:00+01:00, or in UTC with Z") from None
    wall = naive.isoformat(timespec="minutes" if not naive.second and not naive.microsecond else "auto")
    if len(found) == 1:
        return next(iter(found))
    if found:
        first, second = (_offset_text(offset) for _, offset in sorted(found.items()))
        raise ValueError(f"{shown(raw)} is ambiguous in this machine's local zone: that hour is repeated when the "
                         f"clocks go back, so it could be UTC{first} or UTC{second}; give the offset, e.g. "
                         f"{wall}{first} (the first time) or {wall}{second} (the second), or a UTC time with Z")
    before, later = (_offset_text(instant.astimezone().utcoffset()) for instant in sorted(instants))
    shift = f" (from UTC{before} to UTC{later})" if before != later else ""
    raise ValueError(f"{shown(raw)} does not exist in this machine's local zone: the clocks went forward over it"
                     f"{shift}; give the time with its offset, e.g. {wall}{before}, or a UTC time with Z")


def _offset_text(offset: timedelta | None) -> str:
    """A UTC offset as ISO 8601 writes it (-05:00, +10:30; seconds only where a historical zone had them)."""
    seconds = int((offset or timedelta()).total_seconds())
    sign, seconds = ("-" if seconds < 0 else "+"), abs(seconds)
    text = f"{sign}{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"
    return text + (f":{seconds % 60:02d}" if seconds % 60 else "")


def stored_time(value: str) -> datetime:
    """A time the record itself holds (always with `Z` or an offset), for re-reading crs's own output: no
    range check, since an older release may have stored a time outside today's limits (e.g. 0001-01-01)."""
    parsed = datetime.fromisoformat(str(value))
    return parsed.astimezone(timezone.utc) if parsed.tzinfo is not None else parsed.replace(tzinfo=timezone.utc)


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


def choice(names: tuple[str, ...], what: str = "value") -> Callable[[str], str]:
    """One of `names`, in any case and with `_` or `-` either way (`HFNC` is hfnc, `Escalated-Steroid` is
    escalated_steroid); anything else is refused naming the closest names ("did you mean") and every choice."""

    def parse(value: str) -> str:
        return pick(value, names, what)

    return parse


def completer(names: tuple[str, ...]) -> Callable[[str], list[str]]:
    """Shell completion for a vocabulary (Typer's `autocompletion`): the names starting with what is typed."""

    def complete(incomplete: str) -> list[str]:
        typed = incomplete.lower().replace("_", "-")
        return [name for name in names if name.replace("_", "-").startswith(typed)]

    return complete


def vocabulary_key(name: str) -> str:
    """What two spellings of a vocabulary name must share to be the same name: case, surrounding blanks and
    `_` / `-` / space between words do not count (`ICU_Transfer` is icu-transfer)."""
    return name.strip().lower().replace("_", "-").replace(" ", "-")


def pick(value: str, names: tuple[str, ...] | list[str], what: str) -> str:
    """`value` as one of `names` (see `choice`), or the ValueError a person can act on."""
    import difflib

    by_key = {vocabulary_key(name): name for name in names}
    found = by_key.get(vocabulary_key(str(value)))
    if found is not None:
        return found
    close = [by_key[k] for k in difflib.get_close_matches(vocabulary_key(str(value)), list(by_key), n=2,
                                                           cutoff=0.6)]
    hint = f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""
    raise ValueError(f"{shown(value)} is not a known {what}{hint}; choose from: {', '.join(names)}")


def seq(value: str) -> int:
    """An event's seq as `crs history` prints it: a whole number from 1 (at most 9 digits)."""
    raw = str(value).strip()
    if not re.fullmatch(r"[0-9]{1,9}", raw) or int(raw) < 1:
        raise ValueError(f"{shown(value)} is not an event seq: give the whole number from 1 that `crs history` "
                         "shows")
    return int(raw)
