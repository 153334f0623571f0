"""Events: what happened, past tense, one per accepted step. The history is a list of these.

The envelope is the same for every kind; `data` holds the kind's facts (inputs and the values
the pathway derived from them, e.g. grades), so a reader needs no code to understand it.
The hash chain is the store's concern (persistence/chain.py); `canonical()` is what it hashes.

Two envelope fields are stamped by the store when it appends, never decided by the pathway
(`STAMPS`): `login`, the authenticated identity that wrote the event (the OS login on SQLite,
the session user on PostgreSQL; `actor` is who the user says acted), and `snapshot_sha256`, the
SHA-256 of the snapshot this event produced, which binds the stored snapshot to the chain so a
step can check it in O(1) (HAZARDS H15, H18). Both are inside the hash. Events written before
they existed (schema 0002 and earlier) have neither, and `canonical()` leaves an absent stamp
out, so those events hash exactly as they did.
"""

import json
from typing import Any, Literal

from pydantic import ConfigDict

from pathway.commands import UtcTime
from pathway.model import Frozen

EventKind = Literal["open", "observe", "give", "act", "resolve", "close", "correct", "void"]


class Override(Frozen):
    """A clinician passed overridable rules: which, why, and who (a deviation on the record)."""

    model_config = ConfigDict(extra="forbid")

    rule: str  # the first rule passed (the one `Refused.rule` would have named)
    rules: tuple[str, ...]
    reason: str
    actor: str


#: The version of the pathway's decision rules, recorded in the data of every event it decides
#: (`data["pathway"]`, inside the hash). Replay re-decides only the events this version decided: an event
#: decided by another version (or before versions were recorded, no key) keeps the decision it was given,
#: vouched for by the chain and the signed checkpoints, never re-interpreted by today's rules (HAZARDS H23).
#: Bump it with any change that would decide a recorded step differently.
PATHWAY_VERSION = "2"


#: The pathway that decided the events the store stamped (schema 0003) before versions were recorded: issue 11's
#: release, contract 2. Older unstamped events are of no known version (contract 1 graded a blank observation 0).
STAMPED_BEFORE_VERSIONS = "2"


def decided_by(data: dict[str, Any]) -> str | None:
    """The pathway version recorded in an event's data (None: before versions were recorded)."""
    version = data.get("pathway")
    return version if isinstance(version, str) else None


def decided_version(event: "Event") -> str | None:
    """The pathway version that decided `event`: the one it records, else STAMPED_BEFORE_VERSIONS for an event
    the store stamped, else None (an earlier pathway). A stamped event cannot pass for an unversioned one by
    losing its version key: it is re-decided as version 2 all the same."""
    recorded = decided_by(event.data)
    if recorded is not None:
        return recorded
    return STAMPED_BEFORE_VERSIONS if event.snapshot_sha256 is not None else None


#: Envelope fields the store stamps on append; the pathway never sets or reads them.
STAMPS = ("login", "snapshot_sha256")


class Event(Frozen):
    model_config = ConfigDict(extra="forbid")

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
    login: str | None = None  # stamped by the store (STAMPS)
    snapshot_sha256: str | None = None  # stamped by the store (STAMPS)

    def canonical(self) -> str:
        """Canonical JSON (sorted keys, no spaces, UTC times): the bytes the hash chain covers.
        A stamp that is absent (an event from before schema 0003) is left out, not written as null."""
        dumped = self.model_dump(mode="json")
        for name in STAMPS:
            if dumped[name] is None:
                del dumped[name]
        return json.dumps(dumped, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    def decided(self) -> "Event":
        """The event as the pathway decides it: without the store's stamps (what replay compares)."""
        if self.login is None and self.snapshot_sha256 is None:
            return self
        return self.model_copy(update=dict.fromkeys(STAMPS))

    @classmethod
    def from_canonical(cls, text: str) -> "Event":
        return cls.model_validate_json(text)

    def as_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")
