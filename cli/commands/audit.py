"""`crs audit`: verify the record, list refused attempts, and write the QA report. Read-only."""

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from cli import payloads
from cli.context import open_store, settings
from cli.options import Episode, JsonFlag, OptionalEpisode
from cli.render import emit

audit_app = typer.Typer(help="QA: verify the hash chains and replay, list refused attempts, write a report.",
                        no_args_is_help=True)

OutFile = Annotated[Path | None, typer.Option(
    "--out", metavar="FILE", dir_okay=False, help="Write to this file instead of stdout.")]


class ReportFormat(StrEnum):
    MD = "md"
    HTML = "html"
    JSON = "json"


@audit_app.command("verify")
def verify(
    ctx: typer.Context,
    episode: OptionalEpisode = None,
    digest: Annotated[Path | None, typer.Option(
        "--digest", metavar="FILE", dir_okay=False,
        help="Also check against a digest written earlier by `crs audit digest` (detects a cut-off tail).")] = None,
    json_out: JsonFlag = False,
) -> None:
    """Recompute every hash chain and replay every episode; exit 5 on any failure, naming episode and seq."""
    from persistence import audit

    from pathway.errors import Invalid

    config = settings(ctx, json_out)
    if digest is not None and episode is not None:
        raise Invalid("--digest checks every episode of the database; give it without an EPISODE")
    expected = _read_json(digest, "--digest") if digest is not None else None
    with open_store(config, read_only=True) as store:
        report = audit.verify(store, episode) if expected is None else audit.verify_digest(store, expected)
        payload: dict[str, Any] = report.as_json()
    if not payload["ok"]:
        first = payload["failures"][0]
        payload["error"] = "integrity"
        payload["message"] = (f"integrity check failed: {len(payload['failures'])} problem(s), first in episode "
                              f"{first['episode']} at seq {first['seq']}: {first['problem']}")
    emit(config, payload, "verified")
    if not payload["ok"]:
        raise typer.Exit(5)


@audit_app.command("digest")
def digest(ctx: typer.Context, out: OutFile = None, json_out: JsonFlag = False) -> None:
    """Export each episode's last seq and hash, to detect a cut-off tail later (`verify --digest`)."""
    from persistence import audit

    config = settings(ctx, json_out)
    if out is not None:
        _check_writable(out)
    with open_store(config, read_only=True) as store:
        exported = audit.digest(store)
    if out is None:
        emit(config, exported, lambda console, payload: console.print_json(json.dumps(payload)))
        return
    _write(out, json.dumps(exported, indent=2, sort_keys=True) + "\n")
    emit(config, {"out": str(out), "format": "json"},
         lambda console, payload: console.print(f"Digest written to {payload['out']}."))


@audit_app.command("refusals")
def refusals(ctx: typer.Context, episode: OptionalEpisode = None, json_out: JsonFlag = False) -> None:
    """Every refused attempt: when, who, which episode, what was tried, which rule refused it."""
    config = settings(ctx, json_out)
    with open_store(config, read_only=True) as store:
        if episode is not None:
            store.episode(episode)  # NotFound (exit 4) for an unknown episode
        rows = [payloads.refusal(record) for record in store.refusals(episode)]
    emit(config, {"refusals": rows}, "refusals")


@audit_app.command("report")
def report(
    ctx: typer.Context,
    episode: Episode,
    format: Annotated[ReportFormat, typer.Option(
        "--format", metavar="md|html|json", help="Markdown, one self-contained HTML file, or JSON.")] = ReportFormat.MD,
    out: OutFile = None,
    json_out: JsonFlag = False,
) -> None:
    """The QA view of one episode: timeline, grades, doses against limits, timed guards, deviations, actions."""
    from cli.report import assemble, render

    config = settings(ctx, json_out)
    if out is not None:
        _check_writable(out)
    with open_store(config, read_only=True) as store:
        data = assemble(store.episode(episode), store.history(episode), store.refusals(episode))
    text = render(data, format.value)
    if out is not None:
        _write(out, text)
        emit(config, {"episode": episode, "format": format.value, "out": str(out)},
             lambda console, payload: console.print(f"Report written to {payload['out']}."))
    elif config.json:
        emit(config, data if format is ReportFormat.JSON else {"episode": episode, "format": format.value,
                                                               "content": text}, "plain")
    else:
        import sys

        sys.stdout.write(text if text.endswith("\n") else text + "\n")


def _read_json(path: Path, option: str) -> dict[str, Any]:
    from pathway.errors import Invalid

    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise Invalid(f"{option}: {path} cannot be read as JSON ({type(exc).__name__})") from None
    if not isinstance(loaded, dict):
        raise Invalid(f"{option}: {path} is not a digest object")
    return loaded


def _check_writable(path: Path) -> None:
    """Refuse an --out that cannot be written before any work (and before the database is opened)."""
    from pathway.errors import Invalid

    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir() or not folder.is_dir():
        raise Invalid(f"--out: cannot write {path} (no such folder, or it is a folder)")


def _write(path: Path, text: str) -> None:
    from pathway.errors import Invalid

    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise Invalid(f"--out: cannot write {path} ({exc.strerror or type(exc).__name__})") from None
