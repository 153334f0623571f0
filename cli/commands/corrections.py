"""Corrections, voids and late entries (CONTRACT: "Corrections and late entries"): each one new event.

`crs correct` and `crs void` name the recorded event they replace; `--late` on observe, give and act
(cli/commands/steps.py) records a step at an earlier clinical time. All three are decided by the
pathway against the whole stored history (pathway/history.py) and print what changed, before -> after.
"""

from typing import Annotated, Any

import typer

from cli import payloads, values
from cli.commands.steps import CEREBRAL_EDEMA, CONSCIOUSNESS, MIN_DOSE_MG, O2_DEVICES, SEIZURE, changing, status_after
from cli.context import build, settings, when
from cli.options import ChangeOverride, Episode, JsonFlag, Reason, Seq
from cli.render import emit
from pathway.drugs import Action, Route

#: `crs correct` options -> (the kind of entry they belong to, the input name in pathway.history.INPUTS).
CORRECT_OPTIONS: dict[str, tuple[str, str]] = {
    "--drug": ("give", "drug"), "--dose-mg": ("give", "dose_mg"), "--route": ("give", "route"),
    "--action": ("act", "action"), "--note": ("act", "note"),
    "--temp": ("observe", "temp_c"), "--hypotension": ("observe", "hypotension"),
    "--vasopressors": ("observe", "vasopressors"), "--vasopressin": ("observe", "vasopressin"),
    "--o2": ("observe", "o2_device"), "--o2-flow": ("observe", "o2_flow_lpm"), "--fio2": ("observe", "fio2"),
    "--ice": ("observe", "ice_score"), "--capd": ("observe", "capd_score"),
    "--consciousness": ("observe", "consciousness"), "--seizure": ("observe", "seizure"),
    "--motor-weakness": ("observe", "motor_weakness"), "--cerebral-edema": ("observe", "cerebral_edema"),
}
#: `--unset NAME`: the recorded inputs that may be removed (not in fact taken), by option name without `--`.
#: Required inputs (drug, dose, action) are not among them: correct them instead, or void the entry.
UNSET_INPUTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "route": ("give", ("route",)), "note": ("act", ("note",)),
    "temp": ("observe", ("temp_c",)), "hypotension": ("observe", ("hypotension",)),
    "vasopressors": ("observe", ("vasopressors",)), "vasopressin": ("observe", ("vasopressin",)),
    "o2": ("observe", ("o2_device",)), "o2-flow": ("observe", ("o2_flow_lpm",)), "fio2": ("observe", ("fio2",)),
    "ice": ("observe", ("ice_score",)), "capd": ("observe", ("capd_score", "capd_unable")),
    "consciousness": ("observe", ("consciousness",)), "seizure": ("observe", ("seizure",)),
    "motor-weakness": ("observe", ("motor_weakness",)), "cerebral-edema": ("observe", ("cerebral_edema",)),
}


def _unset_name(value: str) -> str:
    """An input `--unset` may remove, by its option name (`temp`, `o2-flow`; a leading `--` is forgiven)."""
    name = str(value).strip().removeprefix("--")
    if name not in UNSET_INPUTS:
        raise ValueError(f"{values.shown(value)} is not an input a correction can remove; choose from "
                         f"{', '.join(UNSET_INPUTS)}")
    return name


def correct(
    ctx: typer.Context,
    episode: Episode,
    seq: Seq,
    reason: Reason,
    drug: Annotated[str | None, typer.Option("--drug", parser=values.drug, metavar="DRUG",
                                             help="give: the drug given (any case).")] = None,
    dose_mg: Annotated[float | None, typer.Option("--dose-mg", parser=values.number(MIN_DOSE_MG, 10_000, unit="mg"),
                                                  metavar="X",
                                                  help=f"give: the dose given, mg (at least {MIN_DOSE_MG:g}).")] = None,
    route: Annotated[Route | None, typer.Option("--route", metavar="ROUTE",
                                                help="give: the route, iv, sc or po.")] = None,
    action: Annotated[Action | None, typer.Option("--action", metavar="ACTION",
                                                  help="act: the action taken.")] = None,
    note: Annotated[str | None, typer.Option("--note", parser=values.text(500), metavar="TEXT",
                                             help="act: the note (no names).")] = None,
    temp: Annotated[float | None, typer.Option("--temp", parser=values.number(30, 45, unit="°C"), metavar="C",
                                               help="observe: temperature, °C (30–45).")] = None,
    hypotension: Annotated[bool | None, typer.Option("--hypotension/--no-hypotension",
                                                     help="observe: hypotension not needing vasopressors, or "
                                                          "none.")] = None,
    vasopressors: Annotated[int | None, typer.Option("--vasopressors", parser=values.number(0, 6, integer=True),
                                                     metavar="N", help="observe: vasopressors running, vasopressin "
                                                                       "not counted (0–6).")] = None,
    vasopressin: Annotated[bool | None, typer.Option("--vasopressin/--no-vasopressin",
                                                     help="observe: vasopressin running, or not.")] = None,
    o2: Annotated[str | None, typer.Option("--o2", parser=values.choice(O2_DEVICES, "oxygen device"), autocompletion=values.completer(O2_DEVICES), metavar="DEVICE",
                                           help="observe: oxygen support: " + ", ".join(O2_DEVICES) + ".")] = None,
    o2_flow: Annotated[float | None, typer.Option("--o2-flow", parser=values.number(0, 80, unit="L/min"),
                                                  metavar="LPM", help="observe: oxygen flow, L/min (0–80).")] = None,
    fio2: Annotated[float | None, typer.Option("--fio2", parser=values.number(0.21, 1.0), metavar="F",
                                               help="observe: inspired O2 fraction (0.21–1.0).")] = None,
    ice: Annotated[int | None, typer.Option("--ice", parser=values.number(0, 10, integer=True), metavar="N",
                                            help="observe: ICE score (0–10).")] = None,
    capd: Annotated[Any, typer.Option("--capd", parser=values.capd, metavar="N|unable",
                                      help="observe: CAPD total (0–32), or 'unable'.")] = None,
    consciousness: Annotated[str | None, typer.Option("--consciousness", parser=values.choice(CONSCIOUSNESS, "level of consciousness"), autocompletion=values.completer(CONSCIOUSNESS),
                                                      metavar="LEVEL", help="observe: level of consciousness: "
                                                      + ", ".join(CONSCIOUSNESS) + ".")] = None,
    seizure: Annotated[str | None, typer.Option("--seizure", parser=values.choice(SEIZURE, "seizure kind"), autocompletion=values.completer(SEIZURE), metavar="KIND",
                                                help="observe: seizure: " + ", ".join(SEIZURE) + ".")] = None,
    motor_weakness: Annotated[bool | None, typer.Option("--motor-weakness/--no-motor-weakness",
                                                        help="observe: deep focal motor weakness, or none.")] = None,
    cerebral_edema: Annotated[str | None, typer.Option("--cerebral-edema", parser=values.choice(CEREBRAL_EDEMA, "cerebral edema finding"), autocompletion=values.completer(CEREBRAL_EDEMA),
                                                       metavar="KIND", help="observe: cerebral edema on imaging: "
                                                       + ", ".join(CEREBRAL_EDEMA) + ".")] = None,
    unset: Annotated[list[str] | None, typer.Option(
        "--unset", parser=_unset_name, metavar="NAME",
        help="Remove a recorded input that was not in fact taken (repeatable), by its option name: "
             + ", ".join(UNSET_INPUTS) + ".")] = None,
    override: ChangeOverride = None,
    json_out: JsonFlag = False,
) -> None:
    """Correct a recorded observe, give or act (event SEQ) with --reason: a new event supersedes it at its own
    clinical time.

    Give only what was wrong, as options of the original command (give: --drug, --dose-mg, --route; act:
    --action, --note; observe: --temp, --o2, --ice ...); every other input stays as recorded, --unset NAME
    removes one. Nothing stored changes: the original stays in the history, marked superseded. The
    corrected history is checked by the same rules as any step, and every later event again: a hard
    rule broken anywhere refuses the correction (breaks_seq names the event). Open, close, correct and
    void events cannot be corrected (CORRECTION_TARGET); a closed episode takes no correction.
    """
    from pathway.commands import Correct
    from pathway.errors import Invalid

    config = settings(ctx, json_out)
    given: dict[str, Any] = {
        "--drug": drug, "--dose-mg": dose_mg, "--route": route.value if route is not None else None,
        "--action": action.value if action is not None else None, "--note": note, "--temp": temp,
        "--hypotension": hypotension, "--vasopressors": vasopressors, "--vasopressin": vasopressin, "--o2": o2,
        "--o2-flow": o2_flow, "--fio2": fio2, "--ice": ice, "--capd": capd, "--consciousness": consciousness,
        "--seizure": seizure, "--motor-weakness": motor_weakness, "--cerebral-edema": cerebral_edema,
    }
    given = {option: value for option, value in given.items() if value is not None}
    removed = list(dict.fromkeys(unset or ()))
    if not given and not removed:
        raise Invalid("give the corrected values as options of the original command (e.g. --dose-mg 560) or "
                      "--unset NAME for an input not in fact taken; a correction without them changes nothing")
    _one_kind(given, removed)
    both = [name for name in removed if f"--{name}" in given]
    if both:
        raise Invalid(f"--{both[0]} and --unset {both[0]} contradict each other: give the corrected value, or "
                      "remove the input, not both")
    if ice is not None and capd is not None:
        raise Invalid("--ice and --capd are two screens for the same thing: give the one the patient's age calls "
                      "for (and --unset the other if it was recorded)")
    changes = {CORRECT_OPTIONS[option][1]: value for option, value in given.items() if option != "--capd"}
    if capd is not None:  # one option, two inputs: a CAPD total or `unable`
        changes |= {"capd_score": None, "capd_unable": True} if capd == "unable" else \
            {"capd_score": capd, "capd_unable": False}
    names = tuple(name for option in removed for name in UNSET_INPUTS[option][1])
    command = build(Correct, at=when(None), actor=config.actor, episode_id=episode, target_seq=seq, reason=reason,
                    changes=changes, unset=names, override_reason=override)
    try:
        result, change = changing(config, command)
    except Invalid as invalid:
        raise Invalid(_in_option_terms(invalid.message, seq, given, removed)) from None
    emit(config, {**payloads.stepped(result, status_after(result)), "correction": change}, "corrected")


def void(
    ctx: typer.Context,
    episode: Episode,
    seq: Seq,
    reason: Reason,
    override: ChangeOverride = None,
    json_out: JsonFlag = False,
) -> None:
    """Mark a recorded observe, give, act or resolve (event SEQ) as entered in error, with --reason.

    A new event voids it: the original stays in the history, marked voided, and leaves the effective
    history; state, grades, doses and timers are recomputed by the pathway's own rules and table (voiding
    the only tocilizumab dose returns the episode to assessment). A void that leaves a later event
    breaking a hard rule is refused (breaks_seq). Open, close, correct and void events cannot be voided
    (CORRECTION_TARGET); a closed episode takes no void.
    """
    from pathway.commands import Void

    config = settings(ctx, json_out)
    command = build(Void, at=when(None), actor=config.actor, episode_id=episode, target_seq=seq, reason=reason,
                    override_reason=override)
    result, change = changing(config, command)
    emit(config, {**payloads.stepped(result, status_after(result)), "correction": change}, "corrected")


def _one_kind(given: dict[str, Any], removed: list[str]) -> None:
    """A correction changes one entry: its values are all options of one command (observe, give or act)."""
    from pathway.errors import Invalid

    kinds: dict[str, str] = {}
    for option in given:
        kinds.setdefault(CORRECT_OPTIONS[option][0], option)
    for name in removed:
        kinds.setdefault(UNSET_INPUTS[name][0], f"--unset {name}")
    if len(kinds) > 1:
        (first_kind, first), (second_kind, second) = list(kinds.items())[:2]
        raise Invalid(f"{first} is a value of `crs {first_kind}` and {second} of `crs {second_kind}`: a "
                      "correction changes one recorded entry, with the options of its own command")


def _in_option_terms(message: str, seq: int, given: dict[str, Any], removed: list[str]) -> str:
    """The core's sentence about a correction's values, in the option names the user typed (not input names)."""
    import re

    stray_kind = re.match(r"event \d+ is an? (\w+): .* not among its inputs", message)
    if stray_kind:
        kind = stray_kind.group(1)
        stray = [o for o in given if CORRECT_OPTIONS[o][0] != kind]
        stray += [f"--unset {n}" for n in removed if UNSET_INPUTS[n][0] != kind]
        options = [o for o, (k, _) in CORRECT_OPTIONS.items() if k == kind]
        if kind == "observe" and "--note" in stray:  # observe has a --note, but it is not a correctable input
            return (f"event {seq} is an observe: its note (--note) is not corrected, a correction carries it "
                    "unchanged; to change it, void the event and record it again")
        if stray and options:
            verb = "is not an option" if len(stray) == 1 else "are not options"
            article = "an" if kind[0] in "aeiou" else "a"
            return (f"event {seq} is {article} {kind}: {', '.join(stray)} {verb} of `crs {kind}`; correct it with "
                    f"{', '.join(options)} (or --unset NAME)")
    if message.startswith("the corrected values are not a valid"):
        by_input = {name: option for option, (_, name) in CORRECT_OPTIONS.items()} | {"capd_unable": "--capd"}
        pattern = re.compile(r"\b(" + "|".join(sorted(by_input, key=len, reverse=True)) + r")\b")
        return pattern.sub(lambda m: by_input[m.group(1)], message.replace("Value error, ", ""))
    return message
