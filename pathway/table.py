"""The pathway table as `transitions` transition dicts: shared by the machine and its drawing.

Kept apart from machine.py so that describing the pathway (`crs pathway`) needs neither the
commands nor the rule checks.
"""

from typing import Any

from states import PATHWAY


def transition_specs() -> list[dict[str, Any]]:
    """The pathway table as `transitions` transition dicts (conditions by guard name)."""
    specs: list[dict[str, Any]] = []
    for spec in PATHWAY.values():
        for edge in spec.edges:
            to = edge.to.value if edge.to else None  # None: internal (stays)
            if edge.when:
                specs.append({"trigger": edge.trigger, "source": spec.state.value, "dest": to,
                              "conditions": [edge.when]})
                other = edge.otherwise.value if edge.otherwise else None
                specs.append({"trigger": edge.trigger, "source": spec.state.value, "dest": other,
                              "unless": [edge.when]})
            else:
                specs.append({"trigger": edge.trigger, "source": spec.state.value, "dest": to})
    return specs
