"""`crs audit keygen` and `crs audit checkpoint`: a signing key pair and signed checkpoints (HAZARDS H19).

The logic is persistence/checkpoint.py; this module reads and writes the files. Keys and checkpoints
are written through cli/outfile.py (never over an existing file without --force, never over the
database, atomically): the private key with mode 0600, the public key and checkpoints 0644. The
cryptography package is imported only by these commands (and `verify --checkpoint`).
"""

import errno
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.command import CrsCommand
from cli.commands.audit import audit_app, file_path
from cli.context import open_store, settings
from cli.options import JsonFlag
from cli.outfile import Force, OutFile, check_out, database_files, out_path, write_out
from cli.render import emit
from pathway.errors import Invalid

_SHOWN = 80  # a path in a sentence is cut to this many characters

KeyOut = Annotated[Path, typer.Option(
    "--out", metavar="PATH", show_default=False, parser=out_path,
    help="Write the private key to PATH (mode 0600) and the public key to PATH.pub. An existing file is refused "
         "unless --force. Keep the private key where the database's administrators cannot read or write.")]
PrivateKey = Annotated[Path, typer.Option(
    "--key", metavar="PATH", show_default=False, parser=file_path,
    help="The private key made by `crs audit keygen` to sign the checkpoint with.")]


def shown(path: Path) -> str:
    text = str(path)
    return text if len(text) <= _SHOWN else text[:_SHOWN - 1] + "…"


def read_file(path: Path, option: str) -> bytes:
    """The bytes of a file the user named (exit 2, one sentence, if it is missing or cannot be read)."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise Invalid(f"{option}: there is no file {shown(path)}") from None
    except IsADirectoryError:
        raise Invalid(f"{option}: {shown(path)} is a folder, not a file") from None
    except OSError as exc:
        reason = ("the name is too long" if exc.errno == errno.ENAMETOOLONG
                  else (exc.strerror or "unknown error").lower())
        raise Invalid(f"{option}: {shown(path)} cannot be read ({reason})") from None
    except ValueError:  # an embedded NUL
        raise Invalid(f"{option}: the file name is not valid") from None


@audit_app.command("keygen", cls=CrsCommand)
def keygen(ctx: typer.Context, out: KeyOut, force: Force = False, json_out: JsonFlag = False) -> None:
    """Make an Ed25519 key pair for signing checkpoints: PATH (private, 0600) and PATH.pub (public)."""
    from persistence import checkpoint

    config = settings(ctx, json_out)
    public = out.with_name(out.name + ".pub")
    protected = database_files(config)
    check_out(out, force=force, protected=protected)
    check_out(public, force=force, protected=protected)
    key = checkpoint.generate_key()
    write_out(out, checkpoint.private_pem(key), force=force, protected=protected, mode=0o600)
    try:
        write_out(public, checkpoint.public_pem(key.public_key()), force=force, protected=protected, mode=0o644)
    except Exception:
        out.unlink(missing_ok=True)  # never a private key without its public half
        raise
    emit(config, {"private_key": str(out), "public_key": str(public),
                  "fingerprint": checkpoint.fingerprint(key.public_key())},
         lambda console, payload: console.print(
             f"Private key written to {payload['private_key']} (mode 0600), public key to {payload['public_key']} "
             f"({payload['fingerprint']}).", markup=False, highlight=False))


@audit_app.command("checkpoint", cls=CrsCommand)
def checkpoint_command(ctx: typer.Context, key: PrivateKey, out: OutFile = None, force: Force = False,
                       json_out: JsonFlag = False) -> None:
    """Verify the whole database and, if it verifies, sign a checkpoint of it (exit 5 if it does not verify).

    The checkpoint (crs-checkpoint/1) holds the time, the schema revision and backend, every episode's last
    seq and head hash, the refusal log's head and the public key's fingerprint, signed with Ed25519. It goes
    to stdout, or to --out FILE. Keep it where the database's administrators cannot write; check the
    database against it later with `crs audit verify --checkpoint FILE --public-key PATH.pub`."""
    from cli.clock import now
    from persistence import checkpoint

    config = settings(ctx, json_out)
    protected = database_files(config) if out is not None else ()
    if out is not None:
        check_out(out, force=force, protected=protected)  # before any work
    signing_key = checkpoint.load_private_key(read_file(key, "--key"), shown(key))
    with open_store(config, read_only=True) as store:
        report, body = checkpoint.take(store, now())
    if body is None:
        payload: dict[str, Any] = report.as_json()
        payload["error"] = "integrity"
        payload["message"] = (f"the database does not verify ({len(report.failures)} problem(s), "
                              f"{first_failure(payload['failures'])}); no checkpoint was signed")
        emit(config, payload, "verified")
        raise typer.Exit(5)
    signed = checkpoint.sign(body, signing_key)
    text = checkpoint.text_of(signed)
    if out is None:
        sys.stdout.write(text)  # byte for byte the checkpoint file, with --json too (it is one JSON object)
        sys.stdout.flush()
        return
    write_out(out, text, force=force, protected=protected, mode=0o644)
    emit(config, {"out": str(out), "format": checkpoint.FORMAT, "taken_at": signed["taken_at"],
                  "episodes": len(signed["episodes"]), "events": signed["events"],
                  "refusals": signed["refusals"]["seq"], "public_key": signed["public_key"]},
         lambda console, payload: console.print(
             f"Checkpoint of {payload['episodes']} episode(s), {payload['events']} event(s) and "
             f"{payload['refusals']} refusal(s) signed and written to {payload['out']}.", markup=False,
             highlight=False))


def first_failure(failures: list[dict[str, Any]]) -> str:
    """The first verify failure in words: `first in episode E at seq N: problem`, or `first: problem`."""
    failure = failures[0]
    where = []
    if failure.get("episode") is not None:
        where.append(f"episode {failure['episode']}")
    if failure.get("seq") is not None:
        where.append(f"at seq {failure['seq']}")
    return f"first in {' '.join(where)}: {failure['problem']}" if where else f"first: {failure['problem']}"
