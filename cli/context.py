"""What every command shares: the global settings, the store, and one step through the service.

The persistence layer is imported only inside these functions, so `crs --help`, `--version` and
`crs pathway` never load SQLAlchemy.
"""

import getpass
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import typer

from cli.clock import now

if TYPE_CHECKING:
    from pathway.commands import Command
    from pathway.service import StepResult
    from persistence.store import Store


@dataclass(frozen=True)
class Settings:
    db: str | None  # None: persistence.store.default_url()
    actor: str
    json: bool
    #: --actor or CRS_ACTOR was given; otherwise the actor is the login (CONTRACT), which on PostgreSQL is
    #: the session user, known only once the database is open (`step` puts it in)
    actor_given: bool = True


def default_actor() -> str:
    """The OS login (CONTRACT: the actor defaults to the login; on SQLite they are then the same name),
    or the user name the environment gives where the password database has none for this uid."""
    from persistence.identity import os_login

    name = os_login().strip()
    if name and not name.startswith("uid "):
        return name
    try:
        fallback = getpass.getuser().strip()
    except Exception:  # getpass raises OSError or KeyError depending on the platform
        return name or "unknown"
    return fallback[:64] if fallback else name or "unknown"


def settings(ctx: typer.Context, json_flag: bool) -> Settings:
    """The global options (from the app callback) with this command's --json."""
    base: Settings | None = ctx.find_root().obj
    if base is None:  # a sub-command invoked without the root callback (never from `crs`)
        base = Settings(db=None, actor=default_actor(), json=False)
    return Settings(db=base.db, actor=base.actor, json=base.json or json_flag, actor_given=base.actor_given)


def when(at: datetime | None) -> datetime:
    """The clinical time of a step: `--at`, or now."""
    return at if at is not None else now()


@contextmanager
def open_store(config: Settings, *, read_only: bool = False, url: str | None = None) -> Iterator["Store"]:
    from persistence.store import Store, default_url

    target = url if url is not None else config.db if config.db is not None else default_url()
    store = Store.open(target, read_only=read_only)
    try:
        yield store
    finally:
        store.close()


def crs_version() -> str:
    """The installed crs-pathway version (`crs -V`, `crs info`), or "unknown" in a source tree never installed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("crs-pathway")
    except PackageNotFoundError:
        return "unknown"


def default_database_missing(config: Settings) -> str | None:
    """The default database's path when no database was named (--db, CRS_DB) and that file does not exist yet
    (a first run), else None. A database the user named but that is missing stays an error (a typo)."""
    if config.db is not None:
        return None
    from persistence.paths import shown_path
    from persistence.store import default_url

    path = default_url().removeprefix("sqlite:///")
    return None if os.path.exists(path) else shown_path(path)


def build(model: type, **fields: Any) -> Any:
    """Build a command model; a pydantic ValidationError goes to the error map (exit 2)."""
    return model(**fields)


def step(config: Settings, command: "Command", *, url: str | None = None) -> "StepResult":
    """One step: the service decides and appends atomically, or raises (a refusal is logged)."""
    from pathway.service import handle

    with open_store(config, url=url) as store:
        if not config.actor_given and store.backend == "postgresql":  # the actor defaults to the login
            command = command.model_copy(update={"actor": store.login()})
        return handle(command, store.unit_of_work(), now())


def status_at(episode: Any, at: datetime) -> dict[str, Any]:
    from pathway.recommend import status

    return status(episode, at)
