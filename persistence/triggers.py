"""The triggers that make the record append-only, by backend: what `audit verify` checks is in place.

A trigger an administrator dropped (and perhaps re-created after editing rows) leaves no mark in the
rows, so verify asks the database's catalogue for every one of these by name (HAZARDS H19). The
names are those the migrations create (0001 append-only, 0003 stamped/authenticated inserts); a test
checks a freshly made database has exactly these.
"""

SQLITE = frozenset({
    "event_no_update", "event_no_delete", "refusal_no_update", "refusal_no_delete", "episode_no_delete",
    "event_stamped", "refusal_chained",
})
#: (table, trigger) pairs on PostgreSQL.
POSTGRES = frozenset({
    ("event", "event_append_only"), ("refusal", "refusal_append_only"), ("event", "event_no_truncate"),
    ("refusal", "refusal_no_truncate"), ("episode", "episode_no_truncate"), ("episode", "episode_no_delete"), ("event", "event_authenticated"),
    ("refusal", "refusal_authenticated"),
})
