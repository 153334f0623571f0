"""Run-wide tallies the property suite reports at the end of a session (conftest prints them).

Module-level on purpose: the state machines and the exhaustive check add to them as they run,
and `pytest_terminal_summary` reads them, so a run always says how often each state was reached.
"""

from collections import Counter

#: (machine name, state) -> number of examples (whole episodes) that reached the state.
STATES_REACHED: Counter[tuple[str, str]] = Counter()
#: machine name -> number of examples run.
EXAMPLES: Counter[str] = Counter()
#: machine name -> number of episodes (an example goes on with a new episode once one is closed).
EPISODES: Counter[str] = Counter()
#: machine name -> number of steps taken (accepted + refused commands, clock jumps).
STEPS: Counter[str] = Counter()
#: (machine name, "accepted" | "refused") -> number of commands.
OUTCOMES: Counter[tuple[str, str]] = Counter()
#: rule -> number of refusals naming it (all machines).
REFUSED_BY: Counter[str] = Counter()
#: Figures of the exhaustive check: states, edges, seconds, ...
EXHAUSTIVE: dict[str, object] = {}


def summary() -> list[str]:
    """Human-readable lines; empty when nothing ran."""
    lines: list[str] = []
    for machine in sorted(EXAMPLES):
        n = EXAMPLES[machine]
        lines.append(f"{machine}: {n} examples, {EPISODES[machine]} episodes, {STEPS[machine]} steps, "
                     f"{OUTCOMES[(machine, 'accepted')]} accepted / {OUTCOMES[(machine, 'refused')]} refused")
        reached = {state: count for (m, state), count in STATES_REACHED.items() if m == machine}
        from states import State

        lines.append("  examples reaching each state (% of examples): " + ", ".join(
            f"{s.value}={reached.get(s.value, 0)} ({100 * reached.get(s.value, 0) / max(n, 1):.0f}%)" for s in State))
    if REFUSED_BY:
        lines.append("refusals by rule: " + ", ".join(f"{r}={c}" for r, c in REFUSED_BY.most_common()))
    if EXHAUSTIVE:
        lines.append("exhaustive check: " + ", ".join(f"{k}={v}" for k, v in EXHAUSTIVE.items()))
    return lines
