"""Bedside inputs and grade bases in the words a nurse uses: `38.6 °C, nasal cannula 4 L/min`, not `temp_c=38.6`.

The JSON keeps the field names (scripts read them); a person reads these. An input that was not
recorded is left out here, never shown as a default (`crs status` names what is missing next to the
grade). Plain strings, no rich: every view can share them.
"""

from typing import Any

from cli.text import as_text

#: Oxygen support as said at the bedside (pathway.observations.O2Device values).
DEVICE_WORDS = {
    "room-air": "room air",
    "nasal-cannula": "nasal cannula",
    "blow-by": "blow-by oxygen",
    "hfnc": "high-flow nasal cannula",
    "facemask": "face mask",
    "non-rebreather": "non-rebreather mask",
    "venturi": "Venturi mask",
    "cpap": "CPAP",
    "bipap": "BiPAP",
    "ventilator": "ventilator",
}
#: Level of consciousness (pathway.observations.Consciousness values).
CONSCIOUSNESS_WORDS = {
    "awake": "awake",
    "voice": "awakens to voice",
    "touch": "awakens only to touch",
    "unarousable": "unarousable",
}


def device_text(device: Any, flow_lpm: Any = None) -> str:
    """`nasal cannula 4 L/min`, `room air`; a device the table does not know is shown as recorded."""
    words = DEVICE_WORDS.get(str(device), str(device))
    return f"{words} {as_text(flow_lpm)} L/min" if flow_lpm is not None else words


def inputs_text(inputs: dict[str, Any]) -> str:
    """An observation's recorded inputs in clinical words, in bedside order (vital signs, then neuro)."""
    parts: list[str] = []
    if inputs.get("temp_c") is not None:
        parts.append(f"{as_text(inputs['temp_c'])} °C")
    if inputs.get("o2_device") is not None:
        parts.append(device_text(inputs["o2_device"], inputs.get("o2_flow_lpm")))
    elif inputs.get("o2_flow_lpm") is not None:
        parts.append(f"oxygen {as_text(inputs['o2_flow_lpm'])} L/min")
    if inputs.get("fio2") is not None:
        parts.append(f"FiO2 {as_text(round(float(inputs['fio2']) * 100, 1))} %")
    if inputs.get("hypotension"):
        parts.append("hypotension")
    pressors = inputs.get("vasopressors") or 0
    if pressors:
        parts.append(f"{pressors} vasopressor{'s' if pressors != 1 else ''}")
    if inputs.get("vasopressin"):
        parts.append("vasopressin")
    if inputs.get("ice_score") is not None:
        parts.append(f"ICE {inputs['ice_score']}/10")
    if inputs.get("capd_unable"):
        parts.append("CAPD unable to assess")
    elif inputs.get("capd_score") is not None:
        parts.append(f"CAPD {inputs['capd_score']}")
    if inputs.get("consciousness") is not None:
        parts.append(CONSCIOUSNESS_WORDS.get(str(inputs["consciousness"]), str(inputs["consciousness"])))
    if inputs.get("seizure") not in (None, "none"):
        parts.append(f"seizure ({inputs['seizure']})")
    if inputs.get("motor_weakness"):
        parts.append("focal motor weakness")
    if inputs.get("cerebral_edema") not in (None, "none"):
        parts.append(f"cerebral oedema ({inputs['cerebral_edema']})")
    known = {"temp_c", "o2_device", "o2_flow_lpm", "fio2", "hypotension", "vasopressors", "vasopressin", "ice_score",
             "capd_unable", "capd_score", "consciousness", "seizure", "motor_weakness", "cerebral_edema"}
    parts += [f"{name} {as_text(value)}" for name, value in inputs.items() if name not in known and value is not None]
    return ", ".join(parts) or "nothing recorded"


#: What decided a grade (pathway.grading `decided_by` tags without a value) in words.
_DECIDED = {"motor_weakness": "focal motor weakness", "no fever, no hypotension, no hypoxia":
            "no fever, hypotension or hypoxia"}


def decided_text(tag: Any) -> str:
    """One `decided_by` tag in words: `o2=hfnc` → `high-flow nasal cannula`, `ice=3` → `ICE 3`,
    `vasopressors=1+vasopressin` → `1 vasopressor + vasopressin`; an unknown tag is shown as it is."""
    text = str(tag)
    if "+" in text:
        return " + ".join(decided_text(part) for part in text.split("+"))
    name, _, value = text.partition("=")
    if not value:
        return _DECIDED.get(text, text)
    words = {
        "o2": lambda: " ".join([device_text(value.split(" ", 1)[0]), *value.split(" ", 1)[1:]]),
        "temp_c": lambda: f"{value} °C",
        "ice": lambda: f"ICE {value}/10",
        "capd": lambda: "CAPD unable to assess" if value == "unable" else f"CAPD {value}",
        "vasopressors": lambda: f"{value} vasopressor{'' if value == '1' else 's'}",
        "consciousness": lambda: CONSCIOUSNESS_WORDS.get(value, value),
        "seizure": lambda: f"seizure ({value})",
        "cerebral_edema": lambda: f"cerebral oedema ({value})",
    }.get(name)
    return words() if words else text
