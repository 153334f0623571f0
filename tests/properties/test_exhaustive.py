"""The exhaustive check (tests/properties/exhaustive.py): breadth-first over the pathway's abstract
state space with the real decide(); no reachable state may break a safety predicate.

Four slices: `pathway` (state x latest assessed CRS grade x ICANS bucket x tocilizumab doses and
timers x steroid intensity x refractory x phase window, with the full alphabet of steps),
`daily-limits` (the 24 h sums of methylprednisolone, anakinra and siltuximab), and `assessment` /
`assessment-child` (adult by ICE; 10 kg, 4 years by CAPD: partial and empty observations, ICANS alone,
the zero streak and resolution, the wrong screen, every recommended dose and alternative followed,
and `crs status` of every abstract state checked: ceilings incl. per-kg, one steroid step,
tocilizumab only for CRS, deadlines that do not slide). Each must run to completion (the frontier
empties) with zero violations; the figures go to the session summary.
"""

from tests.properties import reach
from tests.properties.exhaustive import SLICES, explore
from states import State

#: Sane floors: if the exploration suddenly finds far fewer states, the abstraction or the
#: alphabet has broken (e.g. every step refused), and "no violation" would prove nothing.
FLOORS = {"pathway": (3_000, 40_000), "daily-limits": (300, 2_000), "assessment": (600, 10_000),
          "assessment-child": (600, 10_000)}


def test_no_reachable_abstract_state_is_unsafe() -> None:
    lines = []
    for slice_ in SLICES:
        result = explore(slice_)
        reach.EXHAUSTIVE[slice_.name] = result.as_dict()
        lines.append(f"exhaustive {slice_.name}: {result.states} abstract states, {result.edges} edges, "
                     f"{result.refusals} refusals, {result.invalid} invalid (wrong screen), status checked on "
                     f"{result.status_checked} states, depth {result.max_depth}, {result.seconds:.1f} s, "
                     f"by state {result.by_state}")
        assert result.complete, f"{slice_.name}: exploration stopped before the frontier emptied"
        assert not result.violations, f"{slice_.name}: unsafe reachable state(s):\n" + "\n".join(result.violations[:20])
        min_states, min_edges = FLOORS[slice_.name]
        assert result.states >= min_states and result.edges >= min_edges, \
            f"{slice_.name}: only {result.states} states / {result.edges} edges explored"
        if slice_.name in ("pathway", "assessment", "assessment-child"):
            assert set(result.by_state) == {s.value for s in State}, f"states not reached: {result.by_state}"
        if slice_.check_status:
            assert result.status_checked == result.states and result.invalid > 0, \
                f"{slice_.name}: status checked on {result.status_checked} of {result.states} states, " \
                f"{result.invalid} wrong screens refused"
    print("\n" + "\n".join(lines))
