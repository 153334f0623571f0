"""`crs roles`: the least-privilege PostgreSQL roles (crs_clinician, crs_auditor), made by one command.

The logic and the privileges themselves are in persistence/roles.py; this module parses the options,
answers for SQLite (no roles there: the file's permissions are the control) and prints the result.
"""

import unicodedata
from typing import Annotated, Any

import typer

from cli.context import settings
from cli.options import JsonFlag
from cli.render import emit

_MAX_NAME = 63  # PostgreSQL's NAMEDATALEN - 1, in bytes


def logins(value: str) -> str:
    """One or more database logins, comma-separated (`alice,carol`): each 1..63 bytes of printable text."""
    names = [name.strip() for name in str(value).split(",")]
    if not any(names):
        raise ValueError("name at least one database login, e.g. alice or alice,carol")
    for name in names:
        if not name:
            raise ValueError("a login is empty; separate logins by single commas, e.g. alice,carol")
        if len(name.encode("utf-8", errors="surrogateescape")) > _MAX_NAME:
            raise ValueError(f"a login has more than {_MAX_NAME} bytes, PostgreSQL's limit for a role name")
        if any(unicodedata.category(char).startswith("C") for char in name):
            raise ValueError("a login contains an unprintable character")
    return ",".join(dict.fromkeys(names))


def roles(
    ctx: typer.Context,
    grant_clinician: Annotated[str | None, typer.Option(
        "--grant-clinician", parser=logins, metavar="LOGIN[,LOGIN...]",
        help="Also make these existing database logins members of crs_clinician (they may record steps), "
             "as GRANT crs_clinician TO LOGIN would.")] = None,
    grant_auditor: Annotated[str | None, typer.Option(
        "--grant-auditor", parser=logins, metavar="LOGIN[,LOGIN...]",
        help="Also make these existing database logins members of crs_auditor (they may only read).")] = None,
    json_out: JsonFlag = False,
) -> None:
    """Create or repair the least-privilege PostgreSQL roles: crs_clinician (steps only) and crs_auditor (read only).

    Run it as the database owner (the login that ran `crs upgrade`, with CREATEROLE) or a superuser, after
    `crs upgrade`. It creates what is missing, revokes what is more and grants what is missing; a second run
    changes nothing and says so. Then give people a role (GRANT crs_clinician TO alice, or --grant-clinician)
    and let each connect as themselves: the login they connect as is recorded in every event and refusal.
    On SQLite there are no roles (exit 0, nothing to do): the database file's permissions are the control.
    """
    from persistence.database import parse_url, sqlite_path
    from persistence.store import default_url

    from pathway.errors import Invalid

    config = settings(ctx, json_out)
    url = parse_url(config.db if config.db is not None else default_url())
    clinicians = grant_clinician.split(",") if grant_clinician else []
    auditors = grant_auditor.split(",") if grant_auditor else []
    if url.backend == "sqlite":
        if clinicians or auditors:
            raise Invalid("SQLite has no database roles to grant; give people access with the database file's "
                          "permissions instead (see README, 'PostgreSQL for a team')")
        emit(config, _sqlite_payload(url.render_as_string(hide_password=True), sqlite_path(url)), _shown)
        return
    from persistence.roles import set_up

    report = set_up(url, clinicians=clinicians, auditors=auditors)
    emit(config, report.as_json(), _shown)


def _sqlite_payload(database: str, path: Any) -> dict[str, Any]:
    from persistence.identity import os_login
    from persistence.roles import sqlite_file

    found = sqlite_file(path)
    return {"database": database, "backend": "sqlite", "login": os_login(), "changed": False, "changes": [],
            "roles": {}, "members": {}, "file": {"path": found["path"], "mode": found["mode"],
                                                 "folder_mode": found["folder_mode"]},
            "warnings": found["warnings"],
            "message": "SQLite has no database roles, so there is nothing to do: the database file's permissions "
                       "are the control (the care team's group may read and write the file and its folder, "
                       "auditors may read them, nobody else may do either), and the login recorded is the OS "
                       "account that runs crs"}


def _shown(out: Any, payload: dict[str, Any]) -> None:
    """The human view: what changed (or that nothing did), what each role holds, and any warning."""
    from rich.text import Text

    if payload.get("backend") == "sqlite":
        out.print(Text(f"Database {payload.get('database')}: {payload.get('message')}."), soft_wrap=True)
        mode = (payload.get("file") or {}).get("mode")
        if mode:
            out.print(Text(f"  file mode {mode}, folder mode {payload['file'].get('folder_mode')}"))
    else:
        changes = payload.get("changes") or []
        done = f"{len(changes)} change(s)" if changes else "the roles were already in place; nothing to do"
        out.print(Text(f"Roles on {payload.get('database')} (as {payload.get('login')}): {done}."), soft_wrap=True)
        for change in changes:
            out.print(Text(f"  {change}"), soft_wrap=True)
        for role, held in (payload.get("roles") or {}).items():
            members = (payload.get("members") or {}).get(role) or []
            out.print(Text(f"{role}: {', '.join(held)}"), soft_wrap=True)
            out.print(Text(f"  members: {', '.join(members) if members else 'none yet (GRANT ' + role + ' TO LOGIN)'}"),
                      soft_wrap=True)
    for warning in payload.get("warnings") or []:
        out.print(Text(f"warning: {warning}", style="yellow"), soft_wrap=True)
