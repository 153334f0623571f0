"""The JSON objects the commands print (CONTRACT.md), built from domain objects. Pure: no I/O.

Human views (cli/views.py) render these same objects, so text and JSON never disagree.
"""

from typing import Any

from pathway.clock import iso


def opened(result: Any) -> dict[str, Any]:
    """The new episode, and which ICANS screen its patient's age calls for (ICE, or CAPD for a child)."""
    from pathway.grading import uses_capd

    episode, event = result.episode, result.event
    return {
        "episode": episode.id,
        "state": str(episode.state),
        "policy": episode.policy.ref,
        "patient": episode.patient_ref,
        "weight_kg": episode.weight_kg,
        "age_years": episode.age_years,
        "context": episode.context,
        "opened_at": iso(episode.opened_at),
        "seq": event.seq,
        "actor": event.actor,
        "login": event.login,
        "icans_screen": "capd" if uses_capd(episode.age_years, episode.policy) else "ice",
    }


def observed(result: Any, status: dict[str, Any]) -> dict[str, Any]:
    """The episode's status, with this observation's grades and their basis."""
    data = result.event.data
    observation = {
        "seq": result.event.seq,
        "at": iso(result.event.at),
        "crs_grade": data.get("crs_grade"),
        "icans_grade": data.get("icans_grade"),
        "crs_basis": data.get("crs_basis"),
        "icans_basis": data.get("icans_basis"),
    }
    return {**status, "seq": result.event.seq, "observation": observation}


def stepped(result: Any, status: dict[str, Any]) -> dict[str, Any]:
    event = result.event
    return {
        "episode": event.episode_id,
        "seq": event.seq,
        "kind": event.kind,
        "at": iso(event.at),
        "from_state": event.from_state,
        "state": event.to_state,
        "deviation": event.override.model_dump(mode="json") if event.override else None,
        "event": history_event(event, None),
        "status": status,
    }


def history_event(event: Any, digest: str | None) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "kind": event.kind,
        "at": iso(event.at),
        "recorded_at": iso(event.recorded_at),
        "actor": event.actor,
        "login": event.login,  # who the system says wrote it (None: recorded before crs kept it)
        "from_state": event.from_state,
        "to_state": event.to_state,
        "data": event.data,
        "override": event.override.model_dump(mode="json") if event.override else None,
        **({"hash": digest} if digest is not None else {}),
    }


def history(episode_id: str, stored: list[Any]) -> dict[str, Any]:
    """Every stored event, each with the event that superseded or voided it (None: it stands)."""
    superseded, voided = replaced(s.event for s in stored)
    return {"episode": episode_id,
            "events": [{**history_event(s.event, s.hash), "superseded_by": superseded.get(s.event.seq),
                        "voided_by": voided.get(s.event.seq)} for s in stored]}


def replaced(events: Any) -> tuple[dict[int, int], dict[int, int]]:
    """seq -> the correct event that superseded it, and seq -> the void that voided it.

    From the effective history (pathway.history.standing); a record that cannot make one (damaged:
    `audit verify` names it) is still shown, read from the correct and void events themselves."""
    from pathway.history import standing

    events = list(events)
    try:
        history = standing(events)
        return dict(history.superseded_by), dict(history.voided_by)
    except (ValueError, KeyError, TypeError):
        superseded = {e.data.get("target_seq"): e.seq for e in events if e.kind == "correct"}
        voided = {e.data.get("target_seq"): e.seq for e in events if e.kind == "void"}
        return superseded, voided


def episode_row(episode: Any, status: dict[str, Any] | None = None) -> dict[str, Any]:
    latest = episode.latest
    row: dict[str, Any] = {
        "episode": episode.id,
        "patient": episode.patient_ref,
        "state": str(episode.state),
        "crs_grade": latest.crs_grade if latest else None,
        "icans_grade": latest.icans_grade if latest else None,
        "opened_at": iso(episode.opened_at),
        "last_at": iso(episode.last_at),
        "events": episode.version,
        "tocilizumab_doses": len(episode.toci_doses),
        "deviations": episode.deviations,
        "policy": episode.policy.ref,
    }
    if status is not None:
        row["due"] = status.get("due", [])
    return row


def refusal(record: Any) -> dict[str, Any]:
    return {
        "at": iso(record.at),
        "recorded_at": iso(record.recorded_at),
        "actor": record.actor,
        "login": record.login,
        "episode": record.episode_id,
        "kind": record.kind,
        "command": record.command,
        "rule": record.rule,
        "rules": list(record.rules),
        "message": record.message,
        "breaks_seq": record.breaks_seq,
    }
