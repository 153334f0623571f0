"""Run-wide tallies the property suite reports at the end of a session (conftest prints them).

Module-level on purpose: the state machines and the exhaustive check add to them as they run,
and `pytest_terminal_summary` reads them, so a run always says how often each state was reached.
"""

from collections import Counter
from typing import Any

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
#: rule -> number of accepted steps that overrode it (all machines).
OVERRIDDEN: Counter[str] = Counter()
#: (machine name, kind) -> accepted observations of that kind (see observation_kinds; late and corrected ones
#: included, issue 10), and invalid screens.
OBSERVATIONS: Counter[tuple[str, str]] = Counter()
#: (machine name, episode kind) -> episodes of that kind ("all", "child (CAPD)", "ICANS-only", ...).
EPISODE_KINDS: Counter[tuple[str, str]] = Counter()
#: (machine name, episode kind, state) -> examples in which an episode of that kind reached the state.
KIND_STATES: Counter[tuple[str, str, str]] = Counter()
#: (machine name, episode kind) -> examples with at least one episode of that kind.
KIND_EXAMPLES: Counter[tuple[str, str]] = Counter()
#: Figures of the exhaustive check: states, edges, seconds, ...
EXHAUSTIVE: dict[str, object] = {}
#: Issue 10. (kind, outcome) -> count; kind correct | void | late, outcome tried | accepted | refused |
#: invalid | "refused naming breaks_seq" (all machines).
CHANGES: Counter[tuple[str, str]] = Counter()
#: (kind, case, outcome) -> count: the case a change stood for ("dose x10 (56 -> 560 typo)", "the only
#: tocilizumab dose", "tocilizumab inside 8 h of a recorded dose", ...).
CHANGE_CASES: Counter[tuple[str, str, str]] = Counter()
#: (kind, rule) -> refusals of a change naming the rule.
CHANGE_REFUSED_BY: Counter[tuple[str, str]] = Counter()
#: (kind, rule) -> accepted changes whose override passed the rule somewhere in the corrected history.
CHANGE_OVERRIDDEN: Counter[tuple[str, str]] = Counter()
CHANGE_KINDS = ("correct", "void", "late")


CAPD_EDGES = {0, 1, 8, 9, 32}


def observation_kinds(event: Any) -> list[str]:
    """How much an accepted observe event recorded: empty, a domain not assessed, partly or fully
    assessed; and its ICANS screen (ICE, CAPD and the CAPD grading edges)."""
    data = event.data
    inputs = data["observation"]
    crs, icans = data["crs_grade"], data["icans_grade"]
    missing = list(data["crs_basis"].get("missing", [])) + list(data["icans_basis"].get("missing", []))
    kinds = ["all"]
    if not inputs:
        kinds.append("empty")
    if crs is None and icans is None:
        kinds.append("CRS and ICANS not assessed")
    elif crs is None:
        kinds.append("CRS not assessed")
    elif icans is None:
        kinds.append("ICANS not assessed")
    elif missing:
        kinds.append("both graded, partly assessed")
    else:
        kinds.append("fully assessed")
    if crs is None and icans is not None and icans >= 1:
        kinds.append("neuro only (ICANS >= 1, CRS not assessed)")
    if "ice_score" in inputs:
        kinds.append("ICE")
    if "capd_score" in inputs or inputs.get("capd_unable"):
        kinds.append("CAPD")
        score = inputs.get("capd_score")
        if inputs.get("capd_unable"):
            kinds.append("CAPD unable")
        elif score in CAPD_EDGES:
            kinds.append(f"CAPD={score}")
    return kinds


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
        for kind in sorted({k for (m, k) in KIND_EXAMPLES if m == machine} - {"all"}):
            k_n = KIND_EXAMPLES[(machine, kind)]
            lines.append(f"  {kind}: {EPISODE_KINDS[(machine, kind)]} episodes in {k_n} examples; examples where "
                         "such an episode reached each state: " + ", ".join(
                             f"{s.value}={KIND_STATES[(machine, kind, s.value)]}" for s in State))
        obs = {k: c for (m, k), c in OBSERVATIONS.items() if m == machine}
        if obs:
            lines.append("  observations: " + ", ".join(
                f"{k}={c}" for k, c in sorted(obs.items(), key=lambda kc: -kc[1])))
    if REFUSED_BY:
        lines.append("refusals by rule: " + ", ".join(f"{r}={c}" for r, c in REFUSED_BY.most_common()))
    if OVERRIDDEN:
        lines.append("overrides by rule: " + ", ".join(f"{r}={c}" for r, c in OVERRIDDEN.most_common()))
    lines += change_summary()
    if EXHAUSTIVE:
        lines.append("exhaustive check: " + ", ".join(f"{k}={v}" for k, v in EXHAUSTIVE.items()))
    return lines


def change_summary() -> list[str]:
    """Issue 10: how often correct, void and late entry were tried / accepted / refused (by rule), by case."""
    if not any(CHANGES.values()):
        return []
    lines = ["corrections (all machines): " + "; ".join(
        f"{k} tried={CHANGES[(k, 'tried')]} accepted={CHANGES[(k, 'accepted')]} refused={CHANGES[(k, 'refused')]} "
        f"(naming breaks_seq {CHANGES[(k, 'refused naming breaks_seq')]}) invalid={CHANGES[(k, 'invalid')]}"
        for k in CHANGE_KINDS)]
    for kind in CHANGE_KINDS:
        by_rule = sorted(((r, c) for (k, r), c in CHANGE_REFUSED_BY.items() if k == kind), key=lambda rc: -rc[1])
        if by_rule:
            lines.append(f"  {kind} refused by rule: " + ", ".join(f"{r}={c}" for r, c in by_rule))
        passed = sorted(((r, c) for (k, r), c in CHANGE_OVERRIDDEN.items() if k == kind), key=lambda rc: -rc[1])
        if passed:
            lines.append(f"  {kind} accepted with an override of: " + ", ".join(f"{r}={c}" for r, c in passed))
        cases = sorted({case for (k, case, _) in CHANGE_CASES if k == kind})
        if cases:
            lines.append(f"  {kind} cases (tried/accepted/refused/invalid): " + ", ".join(
                f"{case}={CHANGE_CASES[(kind, case, 'tried')]}/{CHANGE_CASES[(kind, case, 'accepted')]}/"
                f"{CHANGE_CASES[(kind, case, 'refused')]}/{CHANGE_CASES[(kind, case, 'invalid')]}" for case in cases))
    return lines
