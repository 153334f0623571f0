"""closed: the episode has ended. It takes no further step (rule EPISODE_CLOSED)."""

from states.names import State
from states.spec import StateSpec

SPEC = StateSpec(state=State.CLOSED, meaning="Ended; the record is final.", edges=(), citations=("CONTRACT",))
