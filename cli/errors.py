"""The one place an exception becomes an exit code, a JSON error object and one plain sentence.

    CrsError subclasses   their own exit code (Refused 1, Invalid 2, Conflict 3, NotFound 4, Integrity 5)
    usage errors          2  (bad value, unknown option, command, drug or action name)
    pydantic validation   2  (the field is named as its option, with the limit and the value)
    database driver       2  (cannot open / read-only / unusable URL); 3 when locked or raced
    OSError               2  (a file or folder the system refused: full disk, permission, name too long)
    anything else         70 (an internal error: one sentence, never a traceback)
"""

import errno
import re
from dataclasses import dataclass
from typing import Any

from typer._click.exceptions import BadParameter, ClickException

from pathway.errors import CrsError, Refused

INTERNAL_ERROR = 70  # EX_SOFTWARE: not a clinical answer, so none of the contract's codes
INTERRUPTED = 130

#: Command-model fields and the options a person typed for them.
OPTION_FOR_FIELD: dict[str, str] = {
    "at": "--at", "actor": "--actor", "episode_id": "EPISODE", "patient_ref": "--patient",
    "weight_kg": "--weight-kg", "age_years": "--age-years", "context": "--context", "policy": "--policy",
    "drug": "DRUG", "dose_mg": "--dose-mg", "route": "--route", "override_reason": "--override",
    "action": "ACTION", "note": "--note", "reason": "--reason", "late": "--late", "target_seq": "SEQ",
    "unset": "--unset",
    "temp_c": "--temp", "hypotension": "--hypotension", "vasopressors": "--vasopressors",
    "vasopressin": "--vasopressin", "o2_device": "--o2", "o2_flow_lpm": "--o2-flow", "fio2": "--fio2",
    "ice_score": "--ice", "consciousness": "--consciousness", "seizure": "--seizure",
    "motor_weakness": "--motor-weakness", "cerebral_edema": "--cerebral-edema",
    "capd_score": "--capd", "capd_unable": "--capd unable",
}
#: Free text or identifiers whose value is never repeated in an error message (it might be patient data).
PRIVATE_OPTIONS = frozenset({"--patient", "--context", "--note", "--reason", "--override", "--actor", "--late"})
_FIELD_NAMES = re.compile(r"\b(" + "|".join(sorted(OPTION_FOR_FIELD, key=len, reverse=True)) + r")\b")


@dataclass(frozen=True)
class Failure:
    exit_code: int
    payload: dict[str, Any]  # the JSON error object
    sentence: str  # the plain sentence for stderr


def sentence(text: str, limit: int = 400) -> str:
    """One line, control characters escaped, cut to a readable length, ending with a full stop."""
    from cli.text import visible

    flat = visible(" ".join(str(text).split()))  # the one escaping rule (cli/text.py)
    if len(flat) > limit:
        flat = flat[: limit - 1].rstrip() + "…"
    flat = flat.strip() or "unknown error"
    flat = flat[0].upper() + flat[1:]
    return flat if flat.endswith((".", "?", "!")) else flat + "."


def classify(exc: BaseException) -> Failure:
    """Map any exception to (exit code, JSON object, sentence). Pure: prints nothing."""
    if isinstance(exc, Refused):
        return Failure(exc.exit_code, exc.as_json(), refusal_sentence(exc))
    if isinstance(exc, CrsError):
        failure = _failure(exc.exit_code, exc.code, exc.message)
        extra = {k: v for k, v in exc.as_json().items() if k not in ("error", "message")}  # e.g. rule, episode
        return Failure(failure.exit_code, {**failure.payload, **extra}, failure.sentence) if extra else failure
    if isinstance(exc, ClickException):
        return _failure(2, "invalid", usage_message(exc))
    if _is_validation_error(exc):
        return _failure(2, "invalid", validation_message(exc))
    if isinstance(exc, KeyboardInterrupt):
        return _failure(INTERRUPTED, "interrupted", "interrupted; nothing was written by the unfinished step")
    database = _database_failure(exc)
    if database is not None:
        return database
    return _failure(INTERNAL_ERROR, "internal",
                    f"internal error ({type(exc).__name__}); nothing was written by the unfinished step, "
                    "please report this")


def _failure(code: int, kind: str, message: str) -> Failure:
    text = sentence(message)
    return Failure(code, {"error": kind, "message": text}, text)


def refusal_sentence(refused: Refused) -> str:
    """Which rules refused, how each can be met (a time, an override, or not at all), and why."""
    from pathway.clock import iso

    notes = []
    for violation in refused.violations:
        if violation.overridable:
            note = "overridable: a clinician may proceed with --override REASON, recorded as a deviation"
        else:
            note = "hard limit"
        if violation.earliest_at is not None:  # never set at a recorded event (breaks_seq): pathway/history.py
            note += f", allowed from {iso(violation.earliest_at)}"
        notes.append(f"{violation.rule} ({note})")
    message = refused.message.rstrip(". ")
    if refused.breaks_seq is None:
        return sentence(f"refused by {', '.join(notes)}: {message}")
    # a correction or late entry that an event already recorded would break: said first, never cut off
    message = message.removesuffix(f" (seq {refused.breaks_seq}, in the corrected history)")
    return sentence(f"refused by {', '.join(notes)}, broken at seq {refused.breaks_seq} in the corrected "
                    f"history: {message}")


def usage_message(exc: ClickException) -> str:
    """A usage error as one sentence in crs's words. A bad value is said from what Click's BadParameter carries,
    not by rewriting Click's text: the parameter (`--temp`; `--actor (or CRS_ACTOR)` for an option its help
    shows an environment variable for; an argument by its metavar) and the parser's own sentence (cli/values.py)
    without Typer's `Value error, ` (pydantic's prefix, which cli/coercion.py reproduces). Any other usage error
    is Click's text, its `. Did you mean` and `. Choose from:` joined into the sentence."""
    if type(exc) is BadParameter and exc.param is not None and exc.param_hint is None:
        return f"Invalid value for {_named(exc.param)}: {exc.message.removeprefix('Value error, ')}"
    return exc.format_message().replace(". Choose from:", "; choose from:").replace(". Did you mean", "; did you mean")


def _named(param: Any) -> str:
    """An option by its names (`--version / -V`) and the environment variable its help shows; else the metavar."""
    name = " / ".join(param.opts) if param.param_type_name == "option" else param.display_name_raw
    envvar = param.envvar if getattr(param, "show_envvar", False) else None
    return f"{name} (or {envvar})" if isinstance(envvar, str) else name


def _is_validation_error(exc: BaseException) -> bool:
    try:
        from pydantic import ValidationError
    except ImportError:  # pragma: no cover - pydantic is a dependency
        return False
    return isinstance(exc, ValidationError)


def validation_message(exc: Any) -> str:
    """The first pydantic error as `Invalid value for --option: <limit>, got <value>`."""
    from cli.values import shown

    error = exc.errors()[0]
    loc = [str(part) for part in error.get("loc", ()) if not isinstance(part, int)]
    field = next((OPTION_FOR_FIELD[part] for part in reversed(loc) if part in OPTION_FOR_FIELD), None)
    message = _FIELD_NAMES.sub(lambda m: OPTION_FOR_FIELD[m.group(1)], str(error.get("msg", "invalid")))
    message = message.removeprefix("Value error, ")
    message = message[:1].lower() + message[1:]
    private = field in PRIVATE_OPTIONS
    if private or error.get("type") in ("value_error", "assertion_error") or "input" not in error:
        got = ""
    else:
        got = f", got {shown(error['input'])}"
    if field is None:
        return f"Invalid input: {message}{got}"
    return f"Invalid value for {field}: {message}{got}"


def _database_failure(exc: BaseException) -> Failure | None:
    """Driver errors that escaped the store: a database that cannot be opened, written or reached; and the
    file system's refusals (OSError), which the environment causes and so are never an internal error."""
    if isinstance(exc, OSError):
        return _os_failure(exc)
    from persistence.database import DatabaseError

    module = type(exc).__module__.split(".")[0]
    if not isinstance(exc, DatabaseError) and module not in ("sqlalchemy", "sqlite3", "psycopg", "alembic"):
        return None
    original = getattr(exc, "orig", None) or exc
    detail = str(original).splitlines()[0] if str(original) else type(original).__name__
    if re.search(r"locked|could not serialize|deadlock", detail, re.IGNORECASE):
        return _failure(3, "conflict", f"the database is busy ({detail}); nothing was written, retry")
    return _failure(2, "invalid", f"the database cannot be used ({detail}); nothing was written")


_OS_REASONS = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is used up",
               errno.EACCES: "permission denied", errno.EPERM: "not permitted", errno.EROFS: "a read-only file system",
               errno.ENAMETOOLONG: "a name is too long for the file system", errno.EIO: "an input/output error"}


def _os_failure(exc: OSError) -> Failure:
    """A file or folder the system refused (full disk, no permission, a name too long, ...): exit 2, naming the
    file when the error does (a path the user gave; never data read from the database)."""
    reason = _OS_REASONS.get(exc.errno or 0) or (exc.strerror or type(exc).__name__).lower()
    subject = f"the file {exc.filename}" if isinstance(exc.filename, str) and exc.filename else "an operation"
    return _failure(2, "invalid", f"the system refused {subject}: {reason}; the command did not finish")
