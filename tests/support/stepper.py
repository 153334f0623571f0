"""Child processes for the reliability tests: real processes, real database connections.

They are forked from a multiprocessing *forkserver*: a fresh interpreter that has imported
the pathway and the store once but never opened a database, so each child starts in
milliseconds with nothing inherited but code. Each child opens its own Store, steps through
`pathway.service.handle`, and reports on a pipe: a line is sent only after `handle` returned,
i.e. after the commit (an "ack"). The parent SIGKILLs children and checks the database.
"""

import multiprocessing
import os
import traceback
from datetime import datetime, timedelta, timezone
from multiprocessing.connection import Connection
from multiprocessing.context import BaseContext
from multiprocessing.synchronize import Event as EventType
from typing import Any

from pathway.commands import AdministerDose, Command, RecordAction, RecordObservation
from pathway.errors import Conflict, Refused
from pathway.observations import Observation
from pathway.service import handle
from persistence.store import Store

GRADE_2 = Observation(temp_c=38.5, o2_device="nasal-cannula", o2_flow_lpm=2)


def context() -> BaseContext:
    ctx = multiprocessing.get_context("forkserver")
    # effective for the forkserver's first start; the dialects would otherwise load in every child
    ctx.set_forkserver_preload([__name__, "sqlalchemy.dialects.sqlite.pysqlite", "psycopg",
                                "sqlalchemy.dialects.postgresql.psycopg"])
    return ctx


def crash_loop(url: str, episode_id: str, out: Connection) -> None:
    """Step one episode forever (observe, act, observe, ...) at wall-clock time; ack each commit."""
    try:
        store = Store.open(url)
        out.send(("ready", os.getpid()))
        n = 0
        while True:
            now = datetime.now(timezone.utc)
            cmd: Command
            if n % 3 == 2:
                cmd = RecordAction(at=now, actor="crash-child", episode_id=episode_id, action="labs")
            else:
                cmd = RecordObservation(at=now, actor="crash-child", episode_id=episode_id, observation=GRADE_2)
            try:
                result = handle(cmd, store.unit_of_work(), now)
            except Conflict:
                out.send(("conflict",))
                continue
            out.send(("ack", result.event.seq, result.event.canonical()))
            n += 1
    except BaseException:
        out.send(("error", traceback.format_exc()))
        raise


def race_step(url: str, episode_id: str, action: dict[str, Any], timeout_s: float, out: Connection,
              go: EventType) -> None:
    """Open the store, say ready, wait for `go`, then try one step and report what happened."""
    try:
        store = Store.open(url, timeout_s=timeout_s)
        at = datetime.fromisoformat(action["at"])
        cmd: Command
        if action["kind"] == "give":
            cmd = AdministerDose(at=at, actor=action["actor"], episode_id=episode_id, drug="tocilizumab",
                                 dose_mg=action["dose_mg"], override_reason=action.get("override_reason"))
        else:
            cmd = RecordObservation(at=at, actor=action["actor"], episode_id=episode_id, observation=GRADE_2)
        out.send(("ready", os.getpid()))
        go.wait()
        now = datetime.now(timezone.utc)
        try:
            result = handle(cmd, store.unit_of_work(), now)
        except Conflict as conflict:
            out.send(("conflict", conflict.message))
        except Refused as refused:
            out.send(("refused", list(refused.rules)))
        else:
            out.send(("ok", result.event.seq, result.event.canonical()))
    except BaseException:
        out.send(("error", traceback.format_exc()))
        raise


def hours_ago(hours: float) -> datetime:
    return datetime.now(timezone.utc) - timedelta(hours=hours)
