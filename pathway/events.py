"""Events: what happened, past tense, one per accepted step. The history is a list of these.

The envelope is the same for every kind; `data` holds the kind's facts (inputs and the values
the pathway derived from them, e.g. grades), so a reader needs no code to understand it.
The hash chain is the store's concern (persistence/chain.py); `canonical()` is what it hashes.
"""

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from pathway.commands import UtcTime

EventKind = Literal["open", "observe", "give", "act", "resolve", "close", "correct", "void"]


class Override(BaseModel):
    """A clinician passed overridable rules: which, why, and who (a deviation on the record)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rule: str  # the first rule passed (the one `Refused.rule` would have named)
    rules: tuple[str, ...]
    reason: str
    actor: str


class Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    episode_id: str
    seq: int
    kind: EventKind
    at: UtcTime
    recorded_at: UtcTime
    actor: str
    from_state: str | None
    to_state: str
    data: dict[str, Any]
    override: Override | None = None

    def canonical(self) -> str:
        """Canonical JSON (sorted keys, no spaces, UTC times): the bytes the hash chain covers."""
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_canonical(cls, text: str) -> "Event":
        return cls.model_validate_json(text)

    def as_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")
