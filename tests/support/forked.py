"""Run a function in a forked child of this test process: as another OS user, or to be SIGKILLed mid-step.

Why a fork and not a subprocess: a teeth test switches a control off with monkeypatch, in this process;
a `crs` subprocess would import the code afresh, with the control on. A forked child is a copy of this
process, the monkeypatch included, yet it is a real process: it can take another OS user's uid (so the
files SQLite creates belong to that user, as when an auditor runs `crs audit`), and it can be killed
with SIGKILL at a chosen statement (so a half-done step is what the kernel leaves, not what a Python
exception unwinds).

The child reports back one pickled value on a pipe: ("ok", the function's result), ("error", the
exception's type name and text), or, if it never reported, its end: ("killed", signal number) or
("exit", status). Nothing the child raises escapes into pytest; the child always ends with os._exit.

A child running as another user cannot import modules from folders only root may read (the venv's
interpreter may live under /root): import everything the function needs before forking (run the same
work once in this process first). Root only for `user`; see tests/support/os_users.py for making users.
"""

import os
import pickle
import pwd
import signal
import traceback
from collections.abc import Callable
from typing import Any

Outcome = tuple[str, Any]


def run_forked(function: Callable[[], Any], *, user: str | None = None, timeout_s: float = 120.0) -> Outcome:
    """`function()` in a forked child (as `user` if given): its outcome (see the module docstring)."""
    from persistence.store import reset_process_cache

    reset_process_cache()  # no pooled connection of ours may be shared with the child
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(reader)
        outcome: Outcome
        try:
            if user is not None:
                _become(user)
            outcome = ("ok", function())
        except BaseException as exc:  # noqa: BLE001 - reported to the parent, which judges it
            outcome = ("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()[-2000:]}")
        try:
            try:
                data = pickle.dumps(outcome)
            except Exception as exc:  # noqa: BLE001 - an unpicklable result is reported, not lost
                data = pickle.dumps(("error", f"unpicklable result: {exc}"))
            os.write(writer, data)
        finally:
            os._exit(0)
    os.close(writer)
    chunks = []
    try:
        while True:
            chunk = os.read(reader, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(reader)
    _, status = os.waitpid(pid, 0)
    if chunks:
        result: Outcome = pickle.loads(b"".join(chunks))
        return result
    if os.WIFSIGNALED(status):
        return ("killed", os.WTERMSIG(status))
    return ("exit", os.WEXITSTATUS(status))


def _become(user: str) -> None:
    """Drop root for good in this child: `user`'s uid and own group only, umask 022, its login fresh."""
    from persistence import identity

    entry = pwd.getpwnam(user)
    os.setgroups([])
    os.setgid(entry.pw_gid)
    os.setuid(entry.pw_uid)
    os.umask(0o022)
    clear = getattr(identity.os_login, "cache_clear", None)  # the parent's (root's) login was cached
    if clear is not None:
        clear()


def kill_self() -> None:
    """SIGKILL this process now (no cleanup, no rollback by Python: the kernel and SQLite decide)."""
    os.kill(os.getpid(), signal.SIGKILL)
