"""The vocabulary the pathway table is written in. Stdlib only, so a clinician reads plain data.

Names in these records (rule IDs, guard names, regimen names, policy fields) are resolved in
pathway/; a test proves every name used here exists there.
"""

from dataclasses import dataclass, field

from states.names import State


@dataclass(frozen=True)
class Edge:
    """One step a state allows.

    `rules` are checked before the step (they refuse it); `to` is where it goes (None: stays).
    With `when`, the step goes to `to` only if that guard holds, else to `otherwise` — e.g. an
    out-of-order drug given under override is recorded but does not skip the steps never tried.
    """

    trigger: str
    rules: tuple[str, ...] = ()
    to: State | None = None
    when: str | None = None
    otherwise: State | None = None
    note: str = ""


@dataclass(frozen=True)
class TimedGuard:
    """A clock that starts at an event and runs for a policy duration (clinical time only)."""

    name: str
    starts_at: str  # a named moment: "last_tocilizumab", "phase_start", "latest_assessment", ...
    hours_field: str  # the Policy field holding the duration
    what: str
    rule: str | None = None
    only_if: str | None = None  # a condition (pathway/guards.py) that must hold for the timer to matter
    deadline: bool = False  # something expected by then (shown as overdue once past), not something allowed


@dataclass(frozen=True)
class Recommend:
    """A next step this state recommends when its condition holds (all named in pathway/guards.py).

    kind "give" names a `regimen` (pathway/dosing.py) and, with `alternatives`, further regimens
    offered with it as ONE step whose options are exclusive (give one, never all). kind "act" names
    an `action`; kind "support" a measure with no command of its own (e.g. start a vasopressor).
    At most one step per drug class is shown (one steroid regimen at a time, the most urgent).
    """

    id: str
    kind: str  # "give" | "act" | "support"
    when: str
    why: str
    citations: tuple[str, ...]
    regimen: str | None = None  # a named dose rule in pathway/dosing.py
    action: str | None = None
    priority: int = 50  # lower is more urgent
    again_after_h: float | None = None  # an action recorded longer ago than this is due again (daily labs)
    alternatives: tuple[str, ...] = ()  # further regimens: one step with options
    repeat: bool = False  # an action shown whenever its condition holds, even if recorded before (fluid bolus)

    @property
    def regimens(self) -> tuple[str, ...]:
        return ((self.regimen,) if self.regimen else ()) + self.alternatives


@dataclass(frozen=True)
class StateSpec:
    state: State
    meaning: str
    edges: tuple[Edge, ...]
    timed: tuple[TimedGuard, ...] = ()
    recommends: tuple[Recommend, ...] = ()
    citations: tuple[str, ...] = field(default=())

    def edge(self, trigger: str) -> Edge | None:
        return next((e for e in self.edges if e.trigger == trigger), None)
