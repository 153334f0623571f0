"""Signed checkpoints: tamper evidence that the database's administrators cannot forge alone (HAZARDS H19).

A hash chain proves only that the rows agree with each other: whoever can write the database and
knows the algorithm can rewrite a history, delete an episode, fabricate one, edit the refusal log,
and re-hash it all so that `audit verify` finds nothing. A checkpoint anchors the record outside
the database. `take` runs a full verify and, in the same read transaction, notes every episode's
last seq and head hash and the refusal log's head; `sign` signs that with an Ed25519 key that the
administrators do not hold. Later, `verify_checkpoint` checks the signature with a public key given
separately (never one the checkpoint names) and that the database *extends* the checkpoint exactly:

- every checkpointed episode still has its event at the checkpoint's seq, with the checkpoint's hash
  (so, the chain being recomputed, nothing at or before it changed, was deleted or was inserted);
- no checkpointed episode is missing, and the refusal log still has the checkpoint's head entry;
- nothing recorded at or before `complete_through` is new: no episode outside the checkpoint with
  such an event (fabricated, or backdated), no event after a checkpointed seq and no refusal after
  the checkpoint's head with such a `recorded_at` (appended and backdated).

`complete_through` is `taken_at` less IN_FLIGHT: a step stamps `recorded_at` when it decides, before
it waits for the write lock and commits, so a step in flight while the checkpoint was read can land
afterwards with a `recorded_at` a little before `taken_at`. Those are growth, not forgery.

The file format (`crs-checkpoint/1`) is one JSON object, written as `text_of` writes it (sorted keys,
two-space indent, a final newline) and read back only if it is byte for byte that text: so any edit
of the file, even of its layout, fails. The signature (hex) covers the canonical JSON (sorted keys,
no spaces; persistence/rows.py dumps) of every other field. Every failure to read, parse or verify a
checkpoint or a public key is an integrity failure (exit 5) in one sentence; a private key that cannot
be read is invalid input (exit 2). Keys are PEM: the private key PKCS8 without a passphrase (keep it,
and the checkpoints, where the database's administrators cannot write), the public key
SubjectPublicKeyInfo.
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pathway.clock import as_utc, iso
from pathway.errors import IntegrityError, Invalid
from persistence.audit import HASH, RECORDED_AT, SEQ, EpisodeRow, Failure, RefusalRow, VerifyReport, verify
from persistence.rows import dumps, time_text
from persistence.store import Store

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

FORMAT = "crs-checkpoint/1"
#: How long a step may take from stamping `recorded_at` to committing: the lock timeout (10 s) with room
#: for a slow disk or a busy server and a second or two of clock difference between PostgreSQL clients.
IN_FLIGHT = timedelta(seconds=60)
_FIELDS = {"format", "taken_at", "complete_through", "schema", "backend", "episodes", "events", "refusals",
           "public_key", "signature"}
_HEX = frozenset("0123456789abcdef")


# -- keys -------------------------------------------------------------------------------------------------

def generate_key() -> "Ed25519PrivateKey":
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.generate()


def private_pem(key: "Ed25519PrivateKey") -> bytes:
    """The private key as PEM, PKCS8, unencrypted (the file's mode 0600 is what guards it)."""
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def public_pem(key: "Ed25519PublicKey") -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def fingerprint(key: "Ed25519PublicKey") -> str:
    """`sha256:` and the SHA-256 of the raw 32-byte public key: names the key a checkpoint was signed with."""
    from cryptography.hazmat.primitives import serialization

    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def load_private_key(pem: bytes, shown: str) -> "Ed25519PrivateKey":
    """The Ed25519 private key in `pem` (exit 2 if it is not one; `shown` names the file)."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except TypeError:
        raise Invalid(f"--key: {shown} is protected by a passphrase; crs signs with an unencrypted key "
                      "(`crs audit keygen`)") from None
    except (ValueError, UnsupportedAlgorithm):
        key = None
    if not isinstance(key, Ed25519PrivateKey):
        raise Invalid(f"--key: {shown} is not an Ed25519 private key in PEM (make one with `crs audit keygen`)")
    return key


def load_public_key(pem: bytes, shown: str) -> "Ed25519PublicKey":
    """The Ed25519 public key in `pem`; anything else is an integrity failure (exit 5): checkpoints cannot be
    checked with it."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        key = None
    if not isinstance(key, Ed25519PublicKey):
        raise IntegrityError(f"--public-key: {shown} is not an Ed25519 public key in PEM; the checkpoint "
                             "cannot be checked with it")
    return key


# -- the file ---------------------------------------------------------------------------------------------

def text_of(checkpoint: dict[str, Any]) -> str:
    """The checkpoint file's one text: sorted keys, two-space indent, a final newline."""
    return json.dumps(checkpoint, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def signed_bytes(body: dict[str, Any]) -> bytes:
    """What the signature covers: the canonical JSON of every field but the signature."""
    return dumps({name: value for name, value in body.items() if name != "signature"}).encode("utf-8")


def sign(body: dict[str, Any], key: "Ed25519PrivateKey") -> dict[str, Any]:
    """The checkpoint: `body` with the public key's fingerprint and the signature over both."""
    body = {**body, "public_key": fingerprint(key.public_key())}
    return {**body, "signature": key.sign(signed_bytes(body)).hex()}


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint whose signature verified: what the database must extend."""

    taken_at: datetime
    complete_through: datetime
    schema: str | None
    backend: str
    episodes: dict[str, tuple[int, str]]
    events: int
    refusals: tuple[int, str]  # the refusal log's head: (seq, hash); (0, GENESIS) when it was empty
    public_key: str

    def as_json(self) -> dict[str, Any]:
        """What `verify --checkpoint` reports about the checkpoint it checked against."""
        return {"taken_at": iso(self.taken_at), "complete_through": iso(self.complete_through),
                "episodes": len(self.episodes), "events": self.events, "refusals": self.refusals[0],
                "public_key": self.public_key}


def _broken(problem: str) -> IntegrityError:
    return IntegrityError(f"the checkpoint {problem}; nothing can be checked against it")


def _head(value: Any) -> tuple[int, str]:
    seq, hash_ = value["seq"], value["hash"]
    if type(seq) is not int or seq < 0 or not isinstance(hash_, str) or len(hash_) != 64 or not set(hash_) <= _HEX:
        raise ValueError
    return seq, hash_


def read(text: bytes, public_key: "Ed25519PublicKey") -> Checkpoint:
    """The checkpoint in `text` if it is exactly as `crs audit checkpoint` wrote it and `public_key` signed it.

    IntegrityError (exit 5), one sentence, for anything else: not the format, edited, signed by another
    key, a signature that does not verify."""
    from cryptography.exceptions import InvalidSignature

    try:
        value = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise _broken(f"is not a {FORMAT} file (not JSON)") from None
    if not isinstance(value, dict) or value.get("format") != FORMAT or set(value) != _FIELDS:
        raise _broken(f"is not a {FORMAT} file")
    if text_of(value).encode("utf-8") != text:
        raise _broken("file is not byte for byte as `crs audit checkpoint` wrote it (edited)")
    if value["public_key"] != fingerprint(public_key):
        raise _broken("was signed with another key than the --public-key given")
    try:
        public_key.verify(bytes.fromhex(value["signature"]), signed_bytes(value))
    except (InvalidSignature, ValueError, TypeError):
        raise _broken("does not verify with the --public-key given (its signature or its content was "
                      "altered)") from None
    try:
        taken_at = as_utc(datetime.fromisoformat(value["taken_at"]))
        through = as_utc(datetime.fromisoformat(value["complete_through"]))
        episodes = {str(k): _head(v) for k, v in value["episodes"].items()}
        refusals = _head(value["refusals"])
        if type(value["events"]) is not int or not isinstance(value["backend"], str):
            raise ValueError
    except (AttributeError, KeyError, TypeError, ValueError):
        raise _broken(f"is signed but is not a valid {FORMAT} checkpoint") from None
    return Checkpoint(taken_at=taken_at, complete_through=through, schema=value["schema"], backend=value["backend"],
                      episodes=episodes, events=value["events"], refusals=refusals, public_key=value["public_key"])


# -- taking one -------------------------------------------------------------------------------------------

class _Heads:
    """A Witness that notes each episode's last seq and hash as verify reads it (the same transaction)."""

    def __init__(self) -> None:
        self.heads: dict[str, tuple[int, str]] = {}

    def history(self, episode: EpisodeRow, rows: list[tuple[Any, ...]]) -> tuple[list[tuple[int | None, str]], int]:
        if rows:
            self.heads[episode.id] = (rows[-1][SEQ], rows[-1][HASH])
        return [], 0

    def refusal_log(self, rows: list[RefusalRow]) -> list[Failure]:
        return []

    def finish(self) -> list[Failure]:
        return []

    def settled_events(self) -> int:
        return 0


def take(store: Store, now: datetime) -> tuple[VerifyReport, dict[str, Any] | None]:
    """A full verify and, if the database verifies, the checkpoint's unsigned body (None if it does not:
    a database that does not verify is never vouched for). `now` is the wall clock (the CLI reads it)."""
    from persistence.schema import current_revision

    taken_at = as_utc(now)
    with store.reading() as conn:
        schema = current_revision(conn)
    heads = _Heads()
    report = verify(store, witness=heads)
    if not report.ok:
        return report, None
    body = {
        "format": FORMAT, "taken_at": iso(taken_at), "complete_through": iso(taken_at - IN_FLIGHT),
        "schema": schema, "backend": store.backend,
        "episodes": {episode: {"seq": seq, "hash": hash_} for episode, (seq, hash_) in sorted(heads.heads.items())},
        "events": report.events,
        "refusals": {"seq": report.refusal_head[0], "hash": report.refusal_head[1]},
    }
    return report, body


# -- checking a database against one ------------------------------------------------------------------------

class _Extension:
    """A Witness: the database must extend the checkpoint exactly (see the module docstring)."""

    def __init__(self, checkpoint: Checkpoint, backend: str, incremental: bool) -> None:
        self._checkpoint = checkpoint
        self._backend = backend
        self._incremental = incremental
        self._through = time_text(checkpoint.complete_through)  # fixed-width UTC text: compares as the times do
        self._seen: set[str] = set()

    def _before(self, recorded_at: Any) -> bool:
        return isinstance(recorded_at, str) and recorded_at <= self._through

    def history(self, episode: EpisodeRow, rows: list[tuple[Any, ...]]) -> tuple[list[tuple[int | None, str]], int]:
        found: list[tuple[int | None, str]] = []
        entry = self._checkpoint.episodes.get(episode.id)
        if entry is None:
            early = next((row[SEQ] for row in rows if self._before(row[RECORDED_AT])), None)
            if early is not None:
                found.append((early, "the episode is not in the checkpoint but has events recorded before it was "
                                     "taken (fabricated or backdated)"))
            return found, 0
        self._seen.add(episode.id)
        seq, hash_ = entry
        at = next((row for row in rows if row[SEQ] == seq), None)
        settled = 0
        if at is None:
            last = rows[-1][SEQ] if rows else None
            found.append((seq, f"the history ends at seq {last}, before the checkpoint's seq {seq} (truncated)"
                          if last is None or (isinstance(last, int) and last < seq)
                          else "its event at the checkpoint's seq is missing (deleted)"))
        elif at[HASH] != hash_:
            found.append((seq, "its hash differs from the checkpoint's (history rewritten)"))
        else:
            settled = seq if self._incremental else 0
        for row in rows:
            if isinstance(row[SEQ], int) and row[SEQ] > seq and self._before(row[RECORDED_AT]):
                found.append((row[SEQ], "appended after the checkpoint but recorded before it was taken (backdated)"))
        return found, settled

    def refusal_log(self, rows: list[RefusalRow]) -> list[Failure]:
        failures: list[Failure] = []
        seq, hash_ = self._checkpoint.refusals
        if seq:
            at = next((row for row in rows if row.seq == seq), None)
            if at is None:
                last = max((row.seq for row in rows if isinstance(row.seq, int)), default=0)
                problem = (f"the log ends at entry {last}, before the checkpoint's entry {seq} (truncated)"
                           if last < seq else f"entry {seq}, the checkpoint's head, is missing (deleted)")
                failures.append(Failure(None, None, f"refusal log: {problem}", refusal=seq))
            elif at.hash != hash_:
                failures.append(Failure(None, None, f"refusal log: entry {seq}'s hash differs from the checkpoint's "
                                                    "(the log was rewritten)", refusal=seq))
        for row in rows:
            if (not isinstance(row.seq, int) or row.seq > seq) and self._before(row.recorded_at):
                failures.append(Failure(None, None, f"refusal log: entry {row.seq} was appended after the checkpoint "
                                                    "but recorded before it was taken (backdated)", refusal=row.seq))
        return failures

    def settled_events(self) -> int:
        return sum(seq for seq, _ in self._checkpoint.episodes.values()) if self._incremental else 0

    def finish(self) -> list[Failure]:
        failures = [Failure(episode, seq, "the episode is missing (deleted)")
                    for episode, (seq, _) in sorted(self._checkpoint.episodes.items()) if episode not in self._seen]
        if self._checkpoint.backend != self._backend:
            failures.append(Failure(None, None, f"the checkpoint is of a {self._checkpoint.backend} database, "
                                                f"this one is {self._backend}"))
        return failures


def verify_checkpoint(store: Store, checkpoint: Checkpoint, *, incremental: bool = False) -> VerifyReport:
    """Full verify, plus the database must extend `checkpoint` exactly (the module docstring's list).

    `incremental` (`crs audit verify --since-checkpoint`) checks the same things but for one: each
    checkpointed episode's events up to its checkpointed seq are not re-decided by the pathway (they
    are folded, to replay what came after on the right episode), and an episode that has not changed
    since is not folded at all. What it therefore does not re-check, and a full verify does:
    - that the pathway would decide those earlier events again as they were recorded: the full verify
      that `crs audit checkpoint` ran before signing did, with the crs of that day; a pathway changed
      since (a rule fixed) is applied only to what came after the checkpoint;
    - that an unchanged episode's snapshot equals the fold of its events: it is checked against the
      SHA-256 its head event recorded (inside the head's hash, which the checkpoint pins), which the
      checkpoint's full verify tied to that fold;
    - and so it trusts whoever holds the private key to have signed only a database that verified.
    Still checked in full: the signature, the extension, every event's and every refusal's hash, every
    episode row's columns, the triggers, and re-deciding every event after its episode's checkpointed
    seq and every event of an episode the checkpoint does not have (opened since). An episode whose
    event at the checkpointed seq is not the checkpoint's (a failure anyway) is re-decided in full."""
    return verify(store, witness=_Extension(checkpoint, store.backend, incremental))
