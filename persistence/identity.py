"""Who writes: the authenticated login the store stamps on every event and refusal (HAZARDS H18).

`--actor` is what the user says; the login is what the system vouches for. On SQLite that is the
OS account of the process (its effective uid, looked up in the password database — not `$USER` or
`$LOGNAME`, which anyone can set). On PostgreSQL it is the connection's `session_user`, the role the
server authenticated; a trigger (migration 0003) refuses any row whose login is not that role, so
the client cannot claim another.
"""

import functools
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the CLI's default actor reads os_login() without loading a driver
    from persistence.database import Database

MAX_LOGIN = 64  # the column width


@functools.cache  # the process's effective uid does not change under it
def os_login() -> str:
    """The OS login of this process's effective uid; `uid N` where the system has no name for it."""
    uid = os.geteuid() if hasattr(os, "geteuid") else None
    try:
        import pwd

        return pwd.getpwuid(uid).pw_name[:MAX_LOGIN] if uid is not None else _windows_login()
    except (ImportError, KeyError):
        return f"uid {uid}" if uid is not None else _windows_login()


def _windows_login() -> str:  # pragma: no cover - crs runs on POSIX in CI
    import getpass

    return getpass.getuser()[:MAX_LOGIN] or "unknown"


def session_user(database: "Database", cursor: Any) -> str:
    """PostgreSQL's session user for this database's connections, asked once (one URL, one role)."""
    if database.session_user is None:
        cursor.execute("SELECT session_user")
        database.session_user = str(cursor.fetchone()[0])
    return database.session_user


def login_for(database: "Database", cursor: Any) -> str:
    """The authenticated login of whoever writes through `database`."""
    return os_login() if database.dialect == "sqlite" else session_user(database, cursor)
