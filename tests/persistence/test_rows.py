"""The row conversions: the hash the store writes covers exactly `Event.canonical()`.

event_params serialises `data` and `override` once and splices the hashed text from those column
texts (the same splice audit verify uses); these properties pin that shortcut to the reference
definition for any event, including unusual text, times and numbers.
"""

from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from pathway.events import Event, Override
from persistence.chain import GENESIS, link
from persistence.rows import canonical_text, event_from_row, event_params

_text = st.text(min_size=1, max_size=20)
_json = st.recursive(
    st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats(allow_nan=False, allow_infinity=False) | _text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=12,
)
_times = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1),
                      timezones=st.sampled_from([timezone.utc, timezone(timedelta(hours=-7, minutes=-30))]))
_events = st.builds(
    Event, episode_id=_text, seq=st.integers(1, 10**6), kind=st.sampled_from(["open", "observe", "give", "act"]),
    at=_times, recorded_at=_times, actor=_text, from_state=st.none() | _text, to_state=_text,
    data=st.dictionaries(_text, _json, max_size=5),
    override=st.none() | st.builds(Override, rule=_text, rules=st.lists(_text, max_size=3).map(tuple),
                                   reason=_text, actor=_text),
)


class _Row:
    def __init__(self, values: dict[str, object]) -> None:
        self.__dict__.update(values)


@settings(max_examples=300)
@given(event=_events, prev=st.sampled_from([GENESIS, "ab" * 32]))
def test_the_written_hash_covers_the_canonical_text(event: Event, prev: str) -> None:
    row = event_params(event, prev)
    assert canonical_text(row) == event.canonical()
    assert row["hash"] == link(prev, event.canonical())
    assert event_from_row(_Row(row)).event == event
