"""`crs info`: which database this `crs` uses, at which schema, as whom, and the policies it ships (CONTRACT v2).

Answers the question a first run and a support call both start with ("where is my data?"). Opens the
database read-only and never creates it: a default database that does not exist yet is reported as such.
"""

import typer

from cli.context import crs_version, default_database_missing, open_store, settings
from cli.options import JsonFlag
from cli.render import emit
from cli.values import packaged_policies


def info(ctx: typer.Context, json_out: JsonFlag = False) -> None:
    """The database in use (password masked; for SQLite the file), its schema version, the authenticated
    login, the actor steps are recorded as, the version of crs and the packaged policies."""
    from persistence.schema import HEAD

    config = settings(ctx, json_out)
    payload: dict[str, object] = {"version": crs_version(), "schema_head": HEAD, "actor": config.actor,
                                  "policies": packaged_policies()}
    missing = default_database_missing(config)
    if missing is not None:
        payload.update(database=f"sqlite:///{missing}", file=missing, exists=False, schema=None, login=None,
                       backend="sqlite")
    else:
        with open_store(config, read_only=True) as store:
            payload.update(database=store.url, backend=store.backend, exists=True, schema=store.schema(),
                           login=store.login(), file=store.file())
    emit(config, payload, "information")
