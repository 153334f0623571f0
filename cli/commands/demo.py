"""`crs demo`: the seed-000 episode (scenarios/README.md) end to end on a throwaway SQLite file.

Times are relative to T0 = now - 26 h, so every step lies in the past (TIME_FUTURE passes) and
the episode reads like a real one. Each step goes through the same service as `crs give` etc.
"""

import shlex
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import typer

from cli.clock import now
from cli.context import Settings, open_store, settings, status_at, step
from cli.options import JsonFlag
from cli.render import console, write_json
from cli.text import grade_text

REASON = "given at referring centre before transfer"


@dataclass(frozen=True)
class DemoStep:
    hours: float  # relative to T0
    verb: str  # open | observe | give
    args: dict[str, Any] = field(default_factory=dict)
    expect: str = "accepted"  # or the rule that must refuse it


SEED_000: tuple[DemoStep, ...] = (
    DemoStep(-50, "open", {"patient_ref": "DC-15", "weight_kg": 52, "age_years": 15,
                           "context": "day 11 post-haplo HSCT, dyskeratosis congenita"}),
    DemoStep(-48, "give", {"drug": "anakinra", "dose_mg": 100}, expect="REFRACTORY_ORDER"),
    DemoStep(-48, "give", {"drug": "anakinra", "dose_mg": 100, "override_reason": REASON}),
    DemoStep(-24.5, "observe", {"temp_c": 39.4, "o2_device": "hfnc", "o2_flow_lpm": 30, "fio2": 0.35}),
    DemoStep(-24, "give", {"drug": "tocilizumab", "dose_mg": 400}),
    DemoStep(0, "observe", {"temp_c": 39.1, "o2_device": "hfnc", "o2_flow_lpm": 50, "fio2": 0.35}),
    DemoStep(5 / 60, "give", {"drug": "tocilizumab", "dose_mg": 400}),
    DemoStep(10 / 60, "give", {"drug": "dexamethasone", "dose_mg": 10}),
    DemoStep(1, "give", {"drug": "tocilizumab", "dose_mg": 400}, expect="TOCI_MIN_INTERVAL"),
    DemoStep(6, "observe", {"temp_c": 38.9, "o2_device": "hfnc", "o2_flow_lpm": 50, "fio2": 0.4}),
    DemoStep(6, "give", {"drug": "methylprednisolone", "dose_mg": 1000}, expect="ESCALATION_ORDER"),
    DemoStep(24.5, "observe", {"temp_c": 38.8, "o2_device": "hfnc", "o2_flow_lpm": 50, "fio2": 0.4}),
    DemoStep(25, "give", {"drug": "methylprednisolone", "dose_mg": 1000}),
)

_FLAG = {"patient_ref": "--patient", "weight_kg": "--weight-kg", "age_years": "--age-years", "context": "--context",
         "dose_mg": "--dose-mg", "override_reason": "--override", "temp_c": "--temp", "o2_device": "--o2",
         "o2_flow_lpm": "--o2-flow", "fio2": "--fio2"}


def command_line(item: DemoStep, episode: str, at: datetime) -> str:
    """The `crs` command a person would type for this step."""
    from pathway.clock import iso

    words = ["crs", item.verb] + ([] if item.verb == "open" else [episode])
    for key, value in item.args.items():
        if key == "drug":
            words.append(str(value))
        else:
            words += [_FLAG[key], f"{value:g}" if isinstance(value, float) else str(value)]
    return shlex.join(words + ["--at", iso(at)])


def _command(item: DemoStep, episode: str, at: datetime, actor: str) -> Any:
    from pathway.commands import AdministerDose, OpenEpisode, RecordObservation
    from pathway.observations import Observation

    if item.verb == "open":
        return OpenEpisode(at=at, actor=actor, **item.args)
    if item.verb == "observe":
        return RecordObservation(at=at, actor=actor, episode_id=episode, observation=Observation(**item.args))
    return AdministerDose(at=at, actor=actor, episode_id=episode, **item.args)


def demo(ctx: typer.Context, json_out: JsonFlag = False) -> None:
    """Run the seed-000 episode end to end on a fresh SQLite file in a temporary folder."""
    run(ctx, json_out)


def run(ctx: typer.Context, json_flag: bool) -> None:
    from pathway.clock import iso
    from pathway.errors import Refused
    from persistence import audit

    config = settings(ctx, json_flag)
    t0 = now().replace(second=0, microsecond=0) - timedelta(hours=26)
    out = None if config.json else console()
    record: list[dict[str, Any]] = []
    mismatches: list[str] = []
    with tempfile.TemporaryDirectory(prefix="crs-demo-") as folder:
        url = f"sqlite:///{Path(folder) / 'demo.db'}"
        if out:
            out.print(f"Demo: seed-000 on a fresh database {url} (T0 = {iso(t0)}).\n", style="bold")
        episode, last = "", None
        for number, item in enumerate(SEED_000, 1):
            at = t0 + timedelta(hours=item.hours)
            line = command_line(item, episode, at)
            entry: dict[str, Any] = {"step": number, "at": iso(at), "command": line, "expect": item.expect}
            try:
                result = step(config, _command(item, episode, at, config.actor), url=url)
            except Refused as refused:
                entry.update(outcome="refused", rule=refused.rule, rules=list(refused.rules),
                             overridable=refused.overridable, message=refused.message)
                if refused.earliest_at is not None:
                    entry["earliest_at"] = iso(refused.earliest_at)
            else:
                episode, last = result.episode.id, result.episode
                entry.update(outcome="accepted", state=str(result.episode.state), seq=result.event.seq)
                if result.event.kind == "observe":
                    entry.update(crs_grade=result.event.data.get("crs_grade"),
                                 icans_grade=result.event.data.get("icans_grade"))
            got = entry.get("rule", "accepted") if entry["outcome"] == "refused" else "accepted"
            if got != item.expect:
                mismatches.append(f"step {number} ({line}) was {got}, expected {item.expect}")
            record.append(entry)
            if out:
                _print_step(out, entry)
        final = status_at(last, t0 + timedelta(hours=25)) if last is not None else {}
        with open_store(config, read_only=True, url=url) as store:
            verified = audit.verify(store).as_json()
    _finish(config, out, record, final, verified, mismatches, iso(t0))


def _print_step(out: Any, entry: dict[str, Any]) -> None:
    from rich.text import Text

    out.print(Text(f"{entry['step']:>2}. $ {entry['command']}", style="bold"), soft_wrap=True)
    if entry["outcome"] == "refused":
        how = f"; allowed from {entry['earliest_at']}" if entry.get("earliest_at") else ""
        kind = "overridable, --override REASON" if entry["overridable"] else "hard limit"
        out.print(Text(f"    REFUSED by {', '.join(entry['rules'])} ({kind}{how}): {entry['message']}", style="red"))
        return
    grades = (f", CRS {grade_text(entry['crs_grade'])}, ICANS {grade_text(entry['icans_grade'])}"
              if "crs_grade" in entry else "")
    out.print(Text(f"    accepted: #{entry['seq']}, state {entry['state']}{grades}", style="green"))


def _finish(config: Settings, out: Any, record: list[dict[str, Any]], final: dict[str, Any],
            verified: dict[str, Any], mismatches: list[str], t0: str) -> None:
    from cli.errors import INTERNAL_ERROR

    if config.json:
        write_json({"scenario": "seed-000", "t0": t0, "steps": record, "status": final, "verify": verified,
                    "ok": not mismatches and bool(verified.get("ok"))})
    else:
        from cli import views

        out.print("\nStatus after the last step:", style="bold")
        views.status(out, final)
        out.print("\n$ crs audit verify", style="bold")
        views.verified(out, verified)
        refused = sum(1 for entry in record if entry["outcome"] == "refused")
        out.print(f"\n{len(record)} steps: {len(record) - refused} accepted, {refused} refused as unsafe; "
                  "the database was temporary and is gone.")
    if mismatches or not verified.get("ok"):
        if not config.json:
            for problem in mismatches:
                out.print(f"demo mismatch: {problem}", style="bold red")
        raise typer.Exit(INTERNAL_ERROR)

