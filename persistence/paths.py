"""What the file system says about a SQLite path: why this user cannot open or write it, in one clause.

Shared by the connections (persistence/database.py), the read-only snapshots (persistence/sqlite_readers.py)
and the store's error sentences, so every unusable path gets the same sentence and exit 2 (HAZARDS H21).
"""

import errno
import os
import stat
from pathlib import Path

NAME_MAX = 255  # bytes in one file name, on every file system crs is meant for
NO_FILE = "there is no file there"
_EFFECTIVE = os.access in os.supports_effective_ids


def path_problem(path: Path, *, writing: bool) -> tuple[str, str] | None:
    """Why this user cannot open (or, `writing`, write) the SQLite file at `path`: ("open" or "write", a
    clause saying why), or None when nothing on the file system explains it. Reads metadata only."""
    for part in path.parts:
        if len(part.encode(errors="surrogateescape")) > NAME_MAX:
            return "open", f"a name in its path is {len(part)} characters long; the file system allows {NAME_MAX}"
    try:
        info = path.stat()
    except FileNotFoundError:
        info = None
    except OSError as exc:
        return "open", os_reason(exc)
    folder = path.parent
    if info is not None and stat.S_ISDIR(info.st_mode):
        return "open", "it is a folder, not a database file"
    if info is None:
        if not folder.is_dir():
            return "open", f"its folder {shown_path(folder)} does not exist"
        if not writing:
            return "open", NO_FILE
    if info is not None and not os.access(path, os.R_OK, effective_ids=_EFFECTIVE):
        return "open", "this user may not read the file"
    if writing:
        if _disk_full(folder):
            return "write", "the disk holding it is full"
        if info is not None and not os.access(path, os.W_OK, effective_ids=_EFFECTIVE):
            return "write", "the file is read-only for this user (read-only commands still work)"
        if not os.access(folder, os.W_OK | os.X_OK, effective_ids=_EFFECTIVE):
            return "write", ("this user cannot write its folder, where SQLite keeps the -wal and -shm files beside "
                             "the database")
    return None


def _disk_full(folder: Path) -> bool:
    """Less room left than one SQLite page and its WAL frame, for this user."""
    try:
        info = os.statvfs(folder)
    except OSError:
        return False
    return info.f_bavail * info.f_frsize < 2 * 4096 + 32


def shown_path(path: Path | str) -> str:
    """A path for a message: as given, or shortened in the middle when too long to read."""
    text = str(path)
    return text if len(text) <= 120 else f"{text[:60]}…{text[-40:]}"



def os_reason(exc: OSError) -> str:
    """An OSError as a short clause (no file name: the caller names what it was doing)."""
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "this user may not reach it (a folder on its path is not readable)"
    if exc.errno == errno.ENAMETOOLONG:
        return "its name is too long for the file system"
    if exc.errno == errno.ENOTDIR:
        return "a part of its path is a file, not a folder"
    if exc.errno == errno.EEXIST:
        return "a file of that name is in the way"
    if exc.errno == errno.ENOSPC:
        return "the disk is full"
    return (exc.strerror or type(exc).__name__).lower()
