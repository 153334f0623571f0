"""The per-episode hash chain: each event's hash covers its predecessor's hash and its own
canonical JSON, so editing, deleting, reordering or inserting any event breaks the chain.

Kept tiny and dependency-free on purpose: an auditor should be able to re-implement it from
this docstring alone: ``hash = sha256(prev_hash + canonical_json).hexdigest()``, UTF-8, with
a genesis ``prev_hash`` of 64 zeros.
"""

import hashlib

from pathway.events import Event

GENESIS = "0" * 64


def link(prev_hash: str, canonical: str) -> str:
    """The hash of one event given its predecessor's hash and its canonical JSON text."""
    return hashlib.sha256((prev_hash + canonical).encode("utf-8")).hexdigest()


def event_hash(prev_hash: str, event: Event) -> str:
    return link(prev_hash, event.canonical())
