"""Safe output files: the one way any `crs` command writes `--out FILE` (CONTRACT v2, HAZARDS H16).

Why this exists: `crs audit report E --out crs.db` once overwrote the live database and exited 0,
and every `--out` wrote over whatever was there, through symlinks. So every command that writes a
file calls, before any work, `check_out(path, force=..., protected=database_files(config))` and
then `write_out(path, data, force=..., protected=...)`:

- an existing path (a file, a symlink even a dangling one, anything else) is refused unless
  `--force`; a folder is always refused;
- the database in use and its `-wal`, `-shm` and `-journal` side files are always refused, even
  with `--force`, compared after resolving symlinks on both sides and by inode (a hard link to the
  database is refused too). PostgreSQL has no file to protect;
- the write is atomic: a temporary file in the same folder, flushed and fsynced, then hard-linked
  to the name (so a file that appeared meanwhile is still not overwritten) or, with `--force`,
  renamed over it (`os.replace`: a symlink is replaced itself, never written through); then the
  folder is fsynced. Readers see the old content or the new, never part of it; the temporary file
  is removed on any failure;
- a path that cannot be written (no such folder, a name too long, no permission, a full disk) is
  exit 2 with one sentence, and nothing is written.

Every refusal is `pathway.errors.Invalid` (exit 2, CONTRACT "Exit codes").
"""

import errno
import os
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pathway.errors import Invalid

if TYPE_CHECKING:
    from cli.context import Settings


def out_path(value: str) -> Path:
    """The --out value as a path (a parser=, so Typer coerces it without loading pydantic: cli/coercion.py)."""
    if not str(value).strip():
        raise ValueError("the file name is empty")
    return Path(value)


#: The option every command with an output file declares.
OutFile = Annotated[Path | None, typer.Option(
    "--out", metavar="FILE", parser=out_path,
    help="Write to this new file instead of stdout (atomically). An existing file is refused unless --force; "
         "the database in use is always refused.")]
Force = Annotated[bool, typer.Option(
    "--force", help="With --out: replace an existing FILE (a symlink is replaced itself, never written through). "
                    "The database and its side files are never overwritten, not even with --force.")]

#: SQLite's own files beside the database (WAL mode: -wal and -shm; rollback journal: -journal).
SIDE_FILES = ("", "-wal", "-shm", "-journal")
_SHOWN_LENGTH = 80  # a path in a sentence is cut to this many characters (a 300-character name stays readable)
_LINK_UNSUPPORTED = {errno.EPERM, errno.EMLINK, errno.EXDEV, errno.ENOSYS,
                     getattr(errno, "ENOTSUP", errno.EOPNOTSUPP), errno.EOPNOTSUPP}


def database_files(config: "Settings") -> tuple[Path, ...]:
    """The SQLite database file that `config` opens (as given, and resolved); none for PostgreSQL.

    The same URL resolution as cli/context.py `open_store`: `--db`/`CRS_DB`, else the default file.
    """
    from persistence.database import parse_url, sqlite_path
    from persistence.store import default_url

    if config.db is not None:
        url_text = config.db
    else:
        try:
            url_text = default_url()
        except (OSError, Invalid):  # the data folder cannot be created, so it holds no database to protect
            return ()
    url = parse_url(url_text)  # Invalid (exit 2) for a URL no command could open either
    if url.backend != "sqlite":
        return ()
    path = sqlite_path(url)
    return tuple(dict.fromkeys((path, Path(os.path.realpath(path)))))


def read_record(config: "Settings", episode: str, out: Path | None, *, force: bool) -> tuple[tuple[Path, ...], Any]:
    """For a command that writes one episode's record to --out (`audit report`, `export`): the files `write_out`
    must protect, and the episode with its history and refusals, read read-only. `--out` is checked first, so
    a path that cannot or must not be written is refused before the database is opened."""
    from cli.context import open_store

    protected = database_files(config) if out is not None else ()
    if out is not None:
        check_out(out, force=force, protected=protected)
    with open_store(config, read_only=True) as store:
        return protected, (store.episode(episode), store.history(episode), store.refusals(episode))


def check_out(path: Path, *, force: bool, protected: Iterable[Path] = (), option: str = "--out") -> None:
    """Refuse, before any work, an output path that must not or cannot be written (see the module doc)."""
    _refuse_protected(path, tuple(protected), option)
    shown = _shown(path)
    try:
        found = os.lstat(path)  # lstat: a symlink is the path itself, even when it dangles
    except FileNotFoundError:
        found = None
    except OSError as exc:
        raise _cannot_write(option, path, exc) from None
    except ValueError:  # an embedded NUL: no file can have this name
        raise Invalid(f"{option}: the file name is not valid; nothing was written") from None
    if found is not None:
        if stat.S_ISDIR(found.st_mode):
            raise Invalid(f"{option}: {shown} is a folder, not a file; nothing was written (give a file name)")
        if not force:
            raise Invalid(f"{option}: {shown} already exists; nothing was written (give --force to overwrite it)")
    _check_folder(path, option)


def write_out(path: Path, data: str | bytes, *, force: bool, protected: Iterable[Path] = (), mode: int = 0o644,
              option: str = "--out") -> None:
    """Write `data` (text is UTF-8) to `path` atomically, with the checks of `check_out` made again just before.

    `mode` is the new file's permission bits, less the umask (0o600 for a private key).
    """
    import tempfile  # here, not at the top: every command imports this module at start-up

    protected = tuple(protected)
    check_out(path, force=force, protected=protected, option=option)  # the path may have changed since
    content = data.encode("utf-8") if isinstance(data, str) else data
    folder = _folder(path)
    temporary: str | None = None
    try:
        handle, temporary = tempfile.mkstemp(prefix=".crs-out-", suffix=".tmp", dir=folder)
        with os.fdopen(handle, "wb") as out:
            out.write(content)
            out.flush()
            os.fchmod(out.fileno(), mode & ~_umask())
            os.fsync(out.fileno())
        _refuse_protected(path, protected, option)  # last look: nothing below writes into an existing file
        if force:
            os.replace(temporary, path)  # rename(2): replaces the name (a symlink itself), atomically
            temporary = None
        else:
            _link_no_clobber(temporary, path)
        _fsync_folder(folder)
    except FileExistsError:
        raise Invalid(f"{option}: {_shown(path)} appeared while it was being written; nothing was "
                      "written (give --force to overwrite it)") from None
    except OSError as exc:
        raise _cannot_write(option, path, exc) from None
    finally:
        if temporary is not None:
            _remove(temporary)


def _refuse_protected(path: Path, protected: tuple[Path, ...], option: str) -> None:
    """The database and its side files, by resolved path and by inode: never an output file."""
    if not protected:
        return
    target = os.path.realpath(path)
    for database in protected:
        for suffix in SIDE_FILES:
            candidate = Path(f"{database}{suffix}")
            if target == os.path.realpath(candidate) or _same_file(path, candidate):
                what = "the database in use" if not suffix else f"the database's {suffix} file"
                raise Invalid(f"{option}: {_shown(path)} is {what}, which is never overwritten, not even with "
                              "--force; nothing was written (write the output elsewhere)")


def _same_file(path: Path, candidate: Path) -> bool:
    try:
        return os.path.samefile(path, candidate)
    except (OSError, ValueError):  # either does not exist (or cannot be looked at): not the same file
        return False


def _check_folder(path: Path, option: str) -> None:
    folder = _folder(path)
    try:
        found = os.stat(folder)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            raise Invalid(f"{option}: the folder of {_shown(path)} does not exist; nothing was written") from None
        raise _cannot_write(option, path, exc) from None
    if not stat.S_ISDIR(found.st_mode):
        raise Invalid(f"{option}: the folder of {_shown(path)} is not a folder; nothing was written")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise Invalid(f"{option}: no permission to write in the folder of {_shown(path)}; nothing was written")


def _link_no_clobber(temporary: str, path: Path) -> None:
    """Give the written file its name unless that name exists (link(2) fails with EEXIST), then drop the temp name.

    Where the file system has no hard links, the name is first claimed with O_EXCL (an empty file,
    never a partial one) and the written file renamed over it.
    """
    try:
        os.link(temporary, path)
    except FileExistsError:
        raise
    except OSError as exc:
        if exc.errno not in _LINK_UNSUPPORTED:
            raise
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        os.replace(temporary, path)
        return
    _remove(temporary)


def _fsync_folder(folder: str) -> None:
    """Make the new name durable; a file system that cannot fsync a folder is not an error."""
    try:
        handle = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:  # e.g. a folder one may write but not read: the rename is done, only its durability is unknown
        return
    try:
        os.fsync(handle)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.EBADF, errno.EOPNOTSUPP, getattr(errno, "ENOTSUP", errno.EOPNOTSUPP)):
            raise
    finally:
        os.close(handle)


def _cannot_write(option: str, path: Path, exc: OSError) -> Invalid:
    """One sentence for an OSError, by cause (never a traceback, never exit 70)."""
    shown = _shown(path)
    reasons = {
        errno.ENAMETOOLONG: "the file name is too long (at most 255 bytes a name)",
        errno.ENOENT: "its folder does not exist",
        errno.ENOTDIR: "its folder does not exist",
        errno.EACCES: "no permission",
        errno.EPERM: "no permission",
        errno.EISDIR: "it is a folder",
        errno.ENOSPC: "the disk is full",
        errno.EDQUOT: "the disk quota is exceeded",
        errno.EROFS: "the file system is read-only",
        errno.ELOOP: "too many levels of symbolic links",
    }
    reason = reasons.get(exc.errno or -1) or exc.strerror or type(exc).__name__
    return Invalid(f"{option}: cannot write {shown}: {reason}; nothing was written")


def _folder(path: Path) -> str:
    return os.path.dirname(os.fspath(path)) or "."


def _shown(path: Path) -> str:
    text = os.fspath(path)
    return text if len(text) <= _SHOWN_LENGTH else text[: _SHOWN_LENGTH - 1] + "…"


def _umask() -> int:
    current = os.umask(0o022)  # reading the umask means setting it; restored at once (crs is single-threaded)
    os.umask(current)
    return current


def _remove(name: str) -> None:
    try:
        os.unlink(name)
    except FileNotFoundError:
        pass
