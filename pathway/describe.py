"""The pathway described for people: a table, a JSON document and a mermaid drawing.

All three are generated from states.PATHWAY and the machine built from it, so they cannot drift
from what decide() enforces.
"""

from dataclasses import asdict
from typing import Any

from pathway.table import transition_specs
from pathway.policy import DEFAULT_POLICY, HARD_LIMITS, Policy
from pathway.rules import RULES
from pathway.sources import SOURCES
from states import DRUG_RULES, INITIAL, PATHWAY, STEP_RULES, SUPPORTIVE, TERMINAL, Edge


def _edge(edge: Edge) -> dict[str, Any]:
    out: dict[str, Any] = {"trigger": edge.trigger, "to": edge.to.value if edge.to else None,
                           "rules": list(edge.rules)}
    if edge.when:
        out["when"] = edge.when
        out["otherwise"] = edge.otherwise.value if edge.otherwise else None
    if edge.note:
        out["note"] = edge.note
    return out


def describe(policy: Policy = DEFAULT_POLICY) -> dict[str, Any]:
    """States, transitions, guards, rules, limits and citations, as one JSON-ready document."""
    states = []
    for state, spec in PATHWAY.items():
        states.append({
            "name": state.value, "meaning": spec.meaning, "initial": state is INITIAL,
            "terminal": state in TERMINAL, "transitions": [_edge(e) for e in spec.edges],
            "timed_guards": [{**asdict(g), "hours": None if g.hours_field.endswith("*")
                              else getattr(policy, g.hours_field)} for g in spec.timed],
            "recommends": [asdict(r) for r in spec.recommends], "citations": list(spec.citations),
        })
    return {
        "states": states,
        "step_rules": list(STEP_RULES),
        "drug_rules": {drug: list(rules) for drug, rules in DRUG_RULES.items()},
        "supportive_care": [asdict(r) for r in SUPPORTIVE],
        "rules": [r.as_json() for r in RULES.values()],
        "hard_limits": asdict(HARD_LIMITS),
        "policy": policy.model_dump(mode="json"),
        "sources": SOURCES,
    }


def table_rows() -> list[dict[str, str]]:
    """One row per declared step: from, step, to, rules checked (plus each drug's own rules)."""
    rows = []
    for state, spec in PATHWAY.items():
        for edge in spec.edges:
            to = edge.to.value if edge.to else "(stays)"
            if edge.when:
                other = edge.otherwise.value if edge.otherwise else "(stays)"
                to = f"{to} if {edge.when}, else {other}"
            rows.append({"from": state.value, "step": edge.trigger, "to": to,
                         "rules": ", ".join(STEP_RULES + edge.rules)})
    return rows


def mermaid() -> str:
    """A mermaid state diagram drawn by transitions' own mermaid engine from the machine's spec."""
    from transitions.extensions import GraphMachine

    class _Drawing:
        state: str

    machine = GraphMachine(model=_Drawing(), states=[s.value for s in PATHWAY], transitions=transition_specs(),
                           initial=INITIAL.value, auto_transitions=False, graph_engine="mermaid",
                           show_conditions=True, title="CRS pathway")
    return str(machine.models[0].get_graph().draw(None))
