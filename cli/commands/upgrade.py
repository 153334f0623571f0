"""`crs upgrade`: the one command that changes a database but no episode."""

from typer import Context

from cli.context import settings
from cli.options import JsonFlag
from cli.render import emit


def upgrade(ctx: Context, json_out: JsonFlag = False) -> None:
    """Bring the database to the schema this crs uses (once, after installing a newer crs).

    The one command that changes a database but no episode: columns are only added, nothing stored
    changes, and `crs audit verify` still verifies every episode afterwards. Read-only commands on an
    older database ask for it.
    """
    from persistence.schema import HEAD
    from persistence.store import Store, default_url

    config = settings(ctx, json_out)
    store, found = Store.upgrade(config.db if config.db is not None else default_url())
    try:
        database = store.url
    finally:
        store.close()
    payload = {"database": database, "schema": HEAD,
               "upgraded_from": found if found not in (None, HEAD) else None, "created": found is None}
    emit(config, payload, "upgraded")
