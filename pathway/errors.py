"""One error tree for the whole product; the CLI maps each branch to one exit code.

    CrsError
     ├── Refused        exit 1  a pathway or safety rule refused the step (carries the rules)
     ├── Invalid        exit 2  bad input: value, option, name, policy file, database URL
     ├── Conflict       exit 3  the episode changed under you (lost an optimistic race); retry
     ├── NotFound       exit 4  no such episode
     └── IntegrityError exit 5  a hash chain or replay check failed

Messages are one plain sentence and never contain patient data beyond the pseudonymous
episode id.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class CrsError(Exception):
    code: str = "error"
    exit_code: int = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def as_json(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.message}


@dataclass(frozen=True)
class Violation:
    """One rule that refuses one step, with what would let the step through."""

    rule: str
    overridable: bool
    message: str
    earliest_at: datetime | None = None
    details: dict[str, Any] = field(default_factory=dict)


class Refused(CrsError):
    """A step refused by one or more rules; hard ones first. Nothing was written to the episode."""

    code = "refused"
    exit_code = 1

    def __init__(self, violations: list[Violation] | tuple[Violation, ...], *, breaks_seq: int | None = None) -> None:
        ordered = tuple(sorted(violations, key=lambda v: v.overridable))  # stable: hard first
        if not ordered:
            raise ValueError("Refused needs at least one violation")
        self.violations = ordered
        #: A correction or late entry refused because an event already recorded would break a rule in the
        #: corrected history: that event's seq (the first, in clinical-time order). None: the step itself.
        self.breaks_seq = breaks_seq
        first = ordered[0]
        where = f" (seq {breaks_seq}, in the corrected history)" if breaks_seq is not None else ""
        super().__init__(first.message + where)

    @property
    def rule(self) -> str:
        return self.violations[0].rule

    @property
    def rules(self) -> tuple[str, ...]:
        return tuple(v.rule for v in self.violations)

    @property
    def overridable(self) -> bool:
        return all(v.overridable for v in self.violations)

    @property
    def earliest_at(self) -> datetime | None:
        times = [v.earliest_at for v in self.violations if v.earliest_at is not None]
        return max(times) if times else None

    def as_json(self) -> dict[str, Any]:
        from pathway.clock import iso

        out: dict[str, Any] = {
            "error": self.code,
            "message": self.message,
            "rule": self.rule,
            "rules": list(self.rules),
            "overridable": self.overridable,
            "violations": [
                {"rule": v.rule, "overridable": v.overridable, "message": v.message,
                 **({"earliest_at": iso(v.earliest_at)} if v.earliest_at else {}), **v.details}
                for v in self.violations
            ],
        }
        if self.earliest_at is not None:
            out["earliest_at"] = iso(self.earliest_at)
        if self.breaks_seq is not None:
            out["breaks_seq"] = self.breaks_seq
        return out


class Invalid(CrsError):
    code = "invalid"
    exit_code = 2


class Conflict(CrsError):
    code = "conflict"
    exit_code = 3


class NotFound(CrsError):
    code = "not_found"
    exit_code = 4


class IntegrityError(CrsError):
    code = "integrity"
    exit_code = 5


class UntrustedRecord(IntegrityError):
    """The record a step would decide on fails its check: the snapshot does not match the episode's hash
    chain (HAZARDS H15), or the history a correction re-decides does not verify.

    Exit 5 like any integrity failure, and a refusal like a rule's (RECORD_INTEGRITY): the attempt is
    logged, nothing else is written, and every step on the episode is refused until QA has looked."""

    rule = "RECORD_INTEGRITY"
    rules = (rule,)  # as a Refused has them, for the refusal log
    breaks_seq = None

    def __init__(self, episode_id: str, message: str) -> None:
        super().__init__(message)
        self.episode_id = episode_id

    def as_json(self) -> dict[str, Any]:
        return {**super().as_json(), "rule": self.rule, "episode": self.episode_id}
