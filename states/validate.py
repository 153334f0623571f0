"""Structural checks on the pathway table, run when it is built: a broken table never loads."""

from collections import deque

from states.names import State
from states.spec import StateSpec


class PathwayDefinitionError(ValueError):
    """The pathway table is malformed (unreachable state, trap state, exit from a final state...)."""


def destinations(spec: StateSpec) -> set[State]:
    out: set[State] = set()
    for edge in spec.edges:
        for dest in (edge.to, edge.otherwise if edge.when else None):
            if dest is not None:
                out.add(dest)
    return out


def validate(pathway: dict[State, StateSpec], initial: State, terminal: frozenset[State]) -> None:
    missing = set(State) - set(pathway)
    if missing:
        raise PathwayDefinitionError(f"states without a module: {sorted(missing)}")
    for state, spec in pathway.items():
        triggers = [e.trigger for e in spec.edges]
        if len(triggers) != len(set(triggers)):
            raise PathwayDefinitionError(f"{state}: a trigger is declared twice")
        if state in terminal and spec.edges:
            raise PathwayDefinitionError(f"{state} is final but declares steps")
        if state not in terminal and not (destinations(spec) - {state}):
            raise PathwayDefinitionError(f"{state} is a trap state: no step leaves it")
        for edge in spec.edges:
            if edge.otherwise is not None and edge.when is None:
                raise PathwayDefinitionError(f"{state}.{edge.trigger}: 'otherwise' without 'when'")
    seen = {initial}
    queue = deque([initial])
    while queue:
        for dest in destinations(pathway[queue.popleft()]):
            if dest not in seen:
                seen.add(dest)
                queue.append(dest)
    unreachable = set(State) - seen
    if unreachable:
        raise PathwayDefinitionError(f"unreachable from {initial}: {sorted(unreachable)}")
    for state in [s for s in State if s not in terminal]:  # in declaration order: the same state named every run
        # every open state can reach a final state
        reach, queue = {state}, deque([state])
        while queue:
            for dest in destinations(pathway[queue.popleft()]):
                if dest not in reach:
                    reach.add(dest)
                    queue.append(dest)
        if not reach & terminal:
            raise PathwayDefinitionError(f"{state} cannot reach a final state")
