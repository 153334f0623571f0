"""The exhaustive check (tests/properties/exhaustive.py): breadth-first over the pathway's abstract
state space with the real decide(); no reachable state may break a safety predicate.

Two slices: `pathway` (state x CRS grade x ICANS bucket x tocilizumab doses and timers x steroid
intensity x refractory x phase window, with the full alphabet of steps) and `daily-limits` (the
24 h sums of methylprednisolone, anakinra and siltuximab). Each must run to completion (the
frontier empties) with zero violations; the figures go to the session summary.
"""

from tests.properties import reach
from tests.properties.exhaustive import SLICES, explore
from states import State

#: Sane floors: if the exploration suddenly finds far fewer states, the abstraction or the
#: alphabet has broken (e.g. every step refused), and "no violation" would prove nothing.
FLOORS = {"pathway": (3_000, 40_000), "daily-limits": (300, 2_000)}


def test_no_reachable_abstract_state_is_unsafe() -> None:
    lines = []
    for slice_ in SLICES:
        result = explore(slice_)
        reach.EXHAUSTIVE[slice_.name] = result.as_dict()
        lines.append(f"exhaustive {slice_.name}: {result.states} abstract states, {result.edges} edges, "
                     f"{result.refusals} refusals, depth {result.max_depth}, {result.seconds:.1f} s, "
                     f"by state {result.by_state}")
        assert result.complete, f"{slice_.name}: exploration stopped before the frontier emptied"
        assert not result.violations, f"{slice_.name}: unsafe reachable state(s):\n" + "\n".join(result.violations[:20])
        min_states, min_edges = FLOORS[slice_.name]
        assert result.states >= min_states and result.edges >= min_edges, \
            f"{slice_.name}: only {result.states} states / {result.edges} edges explored"
        if slice_.name == "pathway":
            assert set(result.by_state) == {s.value for s in State}, f"states not reached: {result.by_state}"
    print("\n" + "\n".join(lines))
