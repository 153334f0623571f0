"""`crs audit`: verify the record, list refused attempts, and write the QA report. Read-only."""

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from cli import payloads
from cli.command import CrsCommand, CrsSubgroup
from cli.context import open_store, settings
from cli.options import Episode, JsonFlag, OptionalEpisode, WideFlag
from cli.outfile import Force, OutFile, check_out, database_files, read_record, write_out
from cli.render import emit

audit_app = typer.Typer(cls=CrsSubgroup, no_args_is_help=True,
                        help="QA: verify the hash chains and replay, list refused attempts, write a report.")


class ReportFormat(StrEnum):
    MD = "md"
    HTML = "html"
    JSON = "json"


def file_path(value: str) -> Path:
    """A file the user names (--digest, --checkpoint, --public-key, --key) as a path: a parser=, so Typer
    coerces it without loading pydantic (cli/coercion.py); a folder or a missing file is refused on reading."""
    if not str(value).strip():
        raise ValueError("the file name is empty")
    return Path(value)


@audit_app.command("verify", cls=CrsCommand)
def verify(
    ctx: typer.Context,
    episode: OptionalEpisode = None,
    digest: Annotated[Path | None, typer.Option(
        "--digest", metavar="FILE", parser=file_path,
        help="Also check against a digest written earlier by `crs audit digest` (detects a cut-off tail).")] = None,
    checkpoint: Annotated[Path | None, typer.Option(
        "--checkpoint", metavar="FILE", parser=file_path,
        help="Also check a signed checkpoint (`crs audit checkpoint`): its signature with --public-key, and that "
             "the database extends it exactly (nothing before it changed, deleted, added or backdated).")] = None,
    public_key: Annotated[Path | None, typer.Option(
        "--public-key", metavar="PATH", parser=file_path,
        help="The public key (PATH.pub from `crs audit keygen`) the checkpoint must be signed with; never "
             "taken from the checkpoint itself.")] = None,
    since_checkpoint: Annotated[bool, typer.Option(
        "--since-checkpoint",
        help="With --checkpoint: re-decide only the events recorded after it (every hash, the signature and "
             "the extension are still checked in full); see `crs audit checkpoint --help`.")] = False,
    json_out: JsonFlag = False,
) -> None:
    """Recompute every hash chain (and the refusal log's), replay every episode, check the append-only triggers;
    exit 5 on any failure, naming episode and seq."""
    from persistence import audit

    from pathway.errors import Invalid

    config = settings(ctx, json_out)
    if digest is not None and episode is not None:
        raise Invalid("--digest checks every episode of the database; give it without an EPISODE")
    if (checkpoint is None) != (public_key is None):
        raise Invalid("--checkpoint and --public-key go together: the checkpoint is checked with that key")
    if since_checkpoint and checkpoint is None:
        raise Invalid("--since-checkpoint needs --checkpoint FILE and --public-key PATH")
    if checkpoint is not None and (episode is not None or digest is not None):
        raise Invalid("--checkpoint checks every episode of the database; give it without an EPISODE or --digest")
    expected = _read_json(digest, "--digest") if digest is not None else None
    anchor = None
    if checkpoint is not None and public_key is not None:
        from cli.commands.checkpoint import read_file, shown
        from persistence import checkpoint as checkpoints

        key = checkpoints.load_public_key(read_file(public_key, "--public-key"), shown(public_key))
        anchor = checkpoints.read(read_file(checkpoint, "--checkpoint"), key)  # exit 5 if it does not verify
    with open_store(config, read_only=True) as store:
        if anchor is not None:
            report = checkpoints.verify_checkpoint(store, anchor, incremental=since_checkpoint)
        else:
            if expected is None:
                with progress_bar(config, "verifying") as progress:
                    report = audit.verify(store, episode, progress=progress)
            else:
                report = audit.verify_digest(store, expected)
        payload: dict[str, Any] = report.as_json()
    if anchor is not None:
        payload["checkpoint"] = {**anchor.as_json(), "incremental": since_checkpoint}
    if not payload["ok"]:
        from cli.commands.checkpoint import first_failure

        payload["error"] = "integrity"
        payload["message"] = (f"integrity check failed: {len(payload['failures'])} problem(s), "
                              f"{first_failure(payload['failures'])}")
    emit(config, payload, "verified")
    if not payload["ok"]:
        raise typer.Exit(5)


#: Below this many events a verify is over before a bar would help (about a second).
PROGRESS_MIN_EVENTS = 5_000


@contextmanager
def progress_bar(config: Any, what: str) -> Iterator[Callable[[int, int], None] | None]:
    """A rich progress bar on stderr while a long audit runs, on a terminal only (never with --json, never in
    a pipe or a file: the output stays exactly what the contract says). Yields the callback to pass on."""
    if config.json or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(TextColumn(what), BarColumn(), MofNCompleteColumn(), TextColumn("events"), TimeRemainingColumn(),
                   console=Console(file=sys.stderr), transient=True)
    task = None

    def advance(done: int, total: int) -> None:
        nonlocal task
        if total < PROGRESS_MIN_EVENTS:
            return
        if task is None:
            bar.start()
            task = bar.add_task(what, total=total)
        bar.update(task, completed=done, total=total)

    try:
        yield advance
    finally:
        bar.stop()


@audit_app.command("digest", cls=CrsCommand)
def digest(ctx: typer.Context, out: OutFile = None, force: Force = False, json_out: JsonFlag = False) -> None:
    """Export each episode's last seq and hash, to detect a cut-off tail later (`verify --digest`)."""
    from persistence import audit

    config = settings(ctx, json_out)
    protected = database_files(config) if out is not None else ()
    if out is not None:
        check_out(out, force=force, protected=protected)  # before the database is opened
    with open_store(config, read_only=True) as store:
        exported = audit.digest(store)
    if out is None:
        emit(config, exported, lambda console, payload: console.print_json(json.dumps(payload)))
        return
    write_out(out, json.dumps(exported, indent=2, sort_keys=True) + "\n", force=force, protected=protected)
    emit(config, {"out": str(out), "format": "json"},
         lambda console, payload: console.print(f"Digest written to {payload['out']}."))


@audit_app.command("refusals", cls=CrsCommand)
def refusals(ctx: typer.Context, episode: OptionalEpisode = None, wide: WideFlag = False,
             json_out: JsonFlag = False) -> None:
    """Every refused attempt: when, who, which episode, what was tried, which rule refused it."""
    config = settings(ctx, json_out)
    with open_store(config, read_only=True) as store:
        if episode is not None:
            store.episode(episode)  # NotFound (exit 4) for an unknown episode
        rows = [payloads.refusal(record) for record in store.refusals(episode)]
    emit(config, {"refusals": rows}, "refusals", wide=wide)


@audit_app.command("report", cls=CrsCommand)
def report(
    ctx: typer.Context,
    episode: Episode,
    format: Annotated[ReportFormat, typer.Option(
        "--format", metavar="md|html|json", help="Markdown, one self-contained HTML file, or JSON.")] = ReportFormat.MD,
    out: OutFile = None,
    force: Force = False,
    json_out: JsonFlag = False,
) -> None:
    """The QA view of one episode: timeline, grades, doses against limits, timed guards, deviations, actions."""
    from cli.report import assemble, render

    config = settings(ctx, json_out)
    protected, record = read_record(config, episode, out, force=force)
    data = assemble(*record)
    text = render(data, format.value)
    if out is not None:
        write_out(out, text, force=force, protected=protected)
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


from cli.commands import checkpoint as checkpoint_commands  # noqa: E402  (last: its commands register on audit_app)

SUBCOMMAND_MODULES = (checkpoint_commands,)
