"""Read-only SQLite connections that never get in the way of the care team.

A WAL database keeps two side files beside it, `-wal` (committed transactions not yet copied
into the main file) and `-shm` (the index of the WAL, shared memory between connections). The
last connection to close copies the WAL into the main file and deletes both; the next one to
open creates them again, with the mode of the database file and owned by whoever opened it
(by the database file's owner when that process runs as root: SQLite chowns what it creates,
checked on 3.40). So a reader opening a WAL database whose side files are absent creates them
when it may write the folder (an auditor's `-shm`, mode 0644, which the care team then cannot
write: "attempt to write a readonly database"), and cannot open it at all when it may not.
`mode=ro` does not stop that (SQLite's unix VFS still opens `-shm` with O_CREAT first), and
`immutable=1` on the live file is unsafe: a writer that starts during the audit checkpoints
pages into the file under the reader's feet. Since 3.22 SQLite can read a WAL database through
side files it may not write (the `-shm` opened read-only; with no writer attached it rebuilds
the index in private memory from the `-wal`), so a reader may use side files, never create them.

Every read-only SQLite connection is therefore made by `snapshot_connection`, which first
takes SQLite's own SHARED lock on the database file (an open-file-description lock on the bytes
SQLite's unix VFS uses, so it conflicts with other processes' locks exactly as a SQLite reader's
does, and SQLite's own locks in this process cannot drop it). A connection deletes the side
files only at its last close and only while it holds an EXCLUSIVE lock; our SHARED lock makes
that impossible, so what we see is what stays for as long as we hold it:

* `-wal` holds transactions and `-shm` exists: a connection holds the database in WAL mode (or
  one crashed). Open the live file with `mode=ro` and keep the lock for the connection's life:
  SQLite opens the existing side files (read-only when it may not write them) and creates nothing;
  it reads every committed transaction, including those still in the WAL, as a WAL reader does,
  which never blocks a writer. A writer closing meanwhile leaves its side files in place (it
  cannot get EXCLUSIVE): harmless, they are the writer's own and the next writer recovers them.
* no `-wal`, or an empty one (an idle writer; one that failed to start on a full disk): nothing
  is waiting in a WAL, so the main file is the whole record. Copy it, under the lock, into a
  private temporary folder and open the copy with `immutable=1` (no side files, no locks). A
  writer may start during the copy (our lock does not stop a WAL writer), but it writes to
  `-wal` first, which it cannot delete while we hold the lock, and a checkpoint changes the main
  file: so "the file's (st_ino, st_size, st_mtime_ns) and `-wal`'s unchanged after the copy"
  proves the copy is a state the database was in. Otherwise retry; the lock is held for the copy.
* `-wal` holds transactions but there is no `-shm` (a crash between the two deletions, or an
  administrator): copy both, check both unchanged and `-shm` still absent, and open the copy so
  SQLite recovers the WAL into a private `-shm` in the private folder.

Taking the lock fails only while a connection holds EXCLUSIVE or PENDING (a last close
checkpointing, for milliseconds); like an unstable copy that is retried until the busy timeout,
then a Conflict (exit 3: the database is busy, retry). The lock never blocks a WAL writer: WAL
commits and checkpoints use the `-shm` locks, not the database file's. A copy costs one read and
one write of the file, and room for it in TMPDIR: for 100,000 events (92 MB) about 0.06 s (1 s
from a cold page cache), against 0.003 s for a live open and 12-17 s for `audit verify` of the same
database (measured on this project's 2-CPU test machine, under load).
A pooled copy serves a later transaction only while the live files are as they were when it was
taken (and had been for a second before, so that a change cannot hide in the clock's tick);
otherwise the pool makes a new connection, so a long-lived read-only store sees later steps.
The immutable copy is unlinked as soon as SQLite has it open (its descriptor keeps it readable), so
not even a killed process leaves it behind; the rarer copy with a `-wal` goes when the connection
closes or the process exits (never by a forked audit worker). POSIX drops all of a process's
locks on a file when it closes any descriptor of it, SQLite's included; so our descriptor is closed
only when no other descriptor of this process refers to the file (/proc/self/fd), else parked
(unlocked) until a later release or exit: a process holding a writable store of the same file is
never robbed of its locks.
"""

import errno
import os
import shutil
import sqlite3
import stat
import struct
import tempfile
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from pathway.errors import Conflict, Invalid
from persistence.paths import NO_FILE, os_reason, path_problem, shown_path

# SQLite's unix VFS locks these bytes of the database file (os_unix.c: PENDING_BYTE and the SHARED range).
_PENDING_BYTE = 0x40000000
_SHARED_FIRST, _SHARED_SIZE = _PENDING_BYTE + 2, 510
_COPY_CHUNK = 1 << 22


class SnapshotConnection(sqlite3.Connection):
    """A read-only connection that releases what it holds (the SHARED lock, a private copy) when it closes."""

    crs_release: "weakref.finalize[Any, Any] | None" = None
    crs_source: str = "live"  # "live": the database file itself; "copy": a private copy of it
    crs_used: bool = False  # handed out by the pool before

    def crs_current(self) -> bool:
        """Whether a new transaction here sees the database as it is now (a live connection always does)."""
        return True

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self.crs_release is not None:
                self.crs_release()


def snapshot_connection(path: Path, timeout_s: float) -> SnapshotConnection:
    """A read-only connection to the database at `path` or to a private copy of it; never creates a file
    beside it. Retries while a connection is checkpointing or a writer starts mid-copy (Conflict after
    `timeout_s`)."""
    real = _existing_file(path)
    deadline = time.monotonic() + timeout_s
    delay = 0.005
    while True:
        connection = _try_snapshot(real, timeout_s)
        if connection is not None:
            return connection
        if time.monotonic() >= deadline:
            raise Conflict(f"the database {shown_path(path)} is busy (a writer is opening or closing it); "
                           "nothing was read, retry")
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


def _existing_file(path: Path) -> str:
    """The database file's real path (symlinks resolved, as SQLite resolves them); Invalid if unusable."""
    found = path_problem(path, writing=False)
    problem = found[1] if found is not None else None
    if problem is None:
        try:
            real = os.path.realpath(path)
            if stat.S_ISREG(os.stat(real).st_mode):
                return real
            problem = "it is not a regular file"
        except OSError as exc:
            problem = os_reason(exc)
    if problem == NO_FILE:
        raise Invalid(f"cannot open the database: no file at {shown_path(path)}")
    raise Invalid(f"cannot open the database {shown_path(path)}: {problem}")


def _try_snapshot(real: str, timeout_s: float) -> SnapshotConnection | None:
    """One attempt (see the module docstring); None when a writer is closing or started mid-copy."""
    try:
        fd = os.open(real, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise Invalid(f"cannot open the database {shown_path(real)}: {os_reason(exc)}") from None
    kept = False
    try:
        if not _shared_lock(fd):
            return None
        wal = _file_state(real + "-wal")
        if wal is not None and wal[1] > 0 and os.path.lexists(real + "-shm"):
            connection = _connect(f"file:{quote(real)}?mode=ro", timeout_s)  # the live file, through its side files
            connection.crs_release = _releaser(connection, fd, None)  # the lock goes when the connection does
            kept = True
            return connection
        return _private_snapshot(fd, real, wal, timeout_s)
    finally:
        if not kept:
            _let_go(fd)


def _private_snapshot(fd: int, real: str, wal: tuple[int, int, int] | None,
                      timeout_s: float) -> SnapshotConnection | None:
    """The database (with its `-wal` when that holds transactions) copied into a private folder while no
    writer touched it, and opened there; None if one did."""
    replay = wal is not None and wal[1] > 0  # committed transactions not yet in the main file
    folder = _private_folder()
    try:
        copied = _copy_if_quiet(fd, real, folder, wal)
        if copied is None:
            shutil.rmtree(folder, ignore_errors=True)
            return None
        target, taken = copied
        connection = _connect(f"file:{quote(target)}?{'mode=ro' if replay else 'mode=ro&immutable=1'}", timeout_s)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    connection.crs_source = "copy"
    connection.crs_current = taken.current
    if not replay:  # SQLite holds the copy open and, immutable, never opens it by name again: nothing can be
        shutil.rmtree(folder, ignore_errors=True)  # left behind, even by a killed process
    connection.crs_release = _releaser(connection, -1, folder if replay else None)
    return connection


def _shared_lock(fd: int) -> bool:
    """SQLite's SHARED lock, as its unix VFS takes it (PENDING read-locked while the SHARED range is taken,
    so a writer waiting for EXCLUSIVE is not starved), owned by this open file description. False: busy.
    Where there are no open-file-description locks (not Linux) no lock is taken: the copy's check of the
    files' state is then the only guard, and a live open is as safe as SQLite's own `mode=ro`."""
    if _OFD_SETLK is None:
        return True
    try:
        if not _ofd_lock(fd, _F_RDLCK, _PENDING_BYTE, 1):
            return False
    except OSError as exc:  # a file system without these locks (some network ones): as without OFD locks
        if exc.errno in (errno.EINVAL, errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOTSUP):
            return True
        raise
    try:
        return _ofd_lock(fd, _F_RDLCK, _SHARED_FIRST, _SHARED_SIZE)
    finally:
        _ofd_lock(fd, _F_UNLCK, _PENDING_BYTE, 1)


def _ofd_lock(fd: int, kind: int, start: int, length: int) -> bool:
    import fcntl

    assert _OFD_SETLK is not None
    try:  # Linux's struct flock: type, whence, start, len, pid (0 for OFD locks)
        fcntl.fcntl(fd, _OFD_SETLK, struct.pack("hhqqi4x", kind, os.SEEK_SET, start, length, 0))
    except OSError as exc:
        if exc.errno in (errno.EAGAIN, errno.EACCES):
            return False
        raise
    return True


def _ofd_constants() -> tuple[int | None, int, int]:
    try:
        import fcntl
    except ImportError:  # Windows: no POSIX locks at all
        return None, 0, 0
    return getattr(fcntl, "F_OFD_SETLK", None), fcntl.F_RDLCK, fcntl.F_UNLCK


_OFD_SETLK, _F_RDLCK, _F_UNLCK = _ofd_constants()
_PARKED: list[int] = []  # our descriptors of files that SQLite in this process still had open when released
_PARKING = threading.Lock()


def _let_go(fd: int) -> None:
    """Drop our lock and close our descriptor of the database file, unless this process has the same file
    open elsewhere (SQLite's own connections): POSIX drops every lock a process holds on a file when it
    closes any descriptor of it, which would drop SQLite's (its "how to corrupt" page, 2.2). Such a
    descriptor is parked, unlocked, and closed by a later release that finds the file free, or at exit."""
    if _OFD_SETLK is not None:
        try:
            _ofd_lock(fd, _F_UNLCK, 0, 0)  # only this open file description's own lock: never SQLite's
        except OSError:
            pass  # none was taken (a file system without these locks)
    with _PARKING:
        candidates = [*_PARKED, fd]
        _PARKED.clear()
        for each in candidates:
            if _open_elsewhere(each, set(candidates)):
                _PARKED.append(each)
            else:
                os.close(each)


def _open_elsewhere(fd: int, ours: set[int]) -> bool:
    """Another descriptor of this process refers to the same file (True when that cannot be known)."""
    try:
        mine = os.fstat(fd)
        names = os.listdir("/proc/self/fd")
    except OSError:
        return True
    for name in names:
        if not name.isdigit() or int(name) in ours:
            continue
        try:
            other = os.stat(f"/proc/self/fd/{name}")
        except OSError:
            continue
        if (other.st_dev, other.st_ino) == (mine.st_dev, mine.st_ino):
            return True
    return False


def _private_folder() -> str:
    try:
        return tempfile.mkdtemp(prefix="crs-audit-")
    except OSError as exc:
        raise Invalid(f"cannot make a private copy of the database to read it: no usable temporary folder "
                      f"({os_reason(exc)}); set TMPDIR to a folder this user may write") from None


def _copy_if_quiet(fd: int, real: str, folder: str,
                   wal: tuple[int, int, int] | None) -> "tuple[str, _Copied] | None":
    """Copy the database (and a `-wal` that holds transactions) into `folder`: the copy's path and what it was
    taken from, or None if a writer touched either meanwhile. `wal`: `-wal`'s state seen under the lock."""
    started = time.time_ns()
    before = _identity(real, fd)
    target = os.path.join(folder, "crs.db")
    _copy_fd(fd, target)
    replay = wal is not None and wal[1] > 0
    if replay:
        try:
            wal_fd = os.open(real + "-wal", os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        try:
            _copy_fd(wal_fd, target + "-wal")
        finally:
            os.close(wal_fd)
    # A writer that started would have changed the main file (a checkpoint), made or grown `-wal` (which it
    # cannot delete while we hold the lock), or, where there was no index, made `-shm`.
    quiet = _identity(real, fd) == before and _file_state(real + "-wal") == wal
    if replay:
        quiet = quiet and not os.path.lexists(real + "-shm")
    return (target, _Copied(real, before, wal, started)) if quiet else None


@dataclass(frozen=True)
class _Copied:
    """What a private copy was taken from, to tell later whether it still is the database's state."""

    real: str
    main: tuple[int, int, int]
    wal: tuple[int, int, int] | None
    started_ns: int

    def current(self) -> bool:
        """The live files are as they were when copied, and had been for a second before: a later change then
        shows in st_mtime_ns (the clock's coarse tick is far below a second), not only in the content."""
        quiet = self.started_ns - self.main[2] >= 1_000_000_000 and (self.wal is None or
                                                                     self.started_ns - self.wal[2] >= 1_000_000_000)
        return quiet and _file_state(self.real) == self.main and _file_state(self.real + "-wal") == self.wal


def _file_state(path: str) -> tuple[int, int, int] | None:
    """(inode, size, mtime) of the file at `path`; None if there is none."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    return info.st_ino, info.st_size, info.st_mtime_ns


def _identity(path: str, fd: int) -> tuple[int, int, int]:
    """(inode, size, mtime) of the open file, provided the path still names it (not replaced by a rename)."""
    info = os.fstat(fd)
    if _file_state(path) is None or os.stat(path).st_ino != info.st_ino:
        return (-1, -1, -1)
    return info.st_ino, info.st_size, info.st_mtime_ns


def _copy_fd(source: int, target: str) -> None:
    out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        offset = 0
        while True:
            chunk = os.pread(source, _COPY_CHUNK, offset)
            if not chunk:
                break
            os.write(out, chunk)
            offset += len(chunk)
    except OSError as exc:
        raise Invalid(f"cannot make a private copy of the database to read it ({os_reason(exc)}); "
                      "set TMPDIR to a folder with room for it") from None
    finally:
        os.close(out)


def _connect(uri: str, timeout_s: float) -> SnapshotConnection:
    connection = sqlite3.connect(uri, uri=True, timeout=timeout_s, check_same_thread=False,
                                 factory=SnapshotConnection)
    assert isinstance(connection, SnapshotConnection)
    return connection


def _releaser(connection: SnapshotConnection, fd: int, folder: str | None) -> "weakref.finalize[Any, Any]":
    """Release the lock and remove the private copy once: at close, when collected, or at exit; only in the
    process that made them (a forked audit worker shares the descriptor and must not unlock it)."""
    return weakref.finalize(connection, _release, os.getpid(), fd, folder)


def _release(owner: int, fd: int, folder: str | None) -> None:
    if os.getpid() != owner:
        return
    if fd >= 0:
        _let_go(fd)
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)
